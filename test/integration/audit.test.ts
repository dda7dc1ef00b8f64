import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../../shared/core/clock.ts';
import { startTestApp, type TestApp } from '../helpers/stack.ts';

describe('audit API', () => {
  let app: TestApp;
  const clock = manualClock(Date.parse('2026-01-10T12:00:00Z'));
  const call = async (path: string) => {
    const r = await app.admin(path);
    return { status: r.status, body: await r.json() };
  };

  beforeAll(async () => {
    app = await startTestApp({ clock });
    // Events across four months (with an empty month between), 3 types.
    const months = ['2025-10-15', '2025-12-01', '2026-01-05', '2026-01-09'];
    let n = 0;
    for (const day of months) {
      for (let i = 0; i < 5; i++) {
        clock.set(Date.parse(`${day}T00:00:00Z`) + i * 60_000);
        const type = ['admin.user.created', 'admin.settings.updated', 'signin.succeeded'][n % 3] as string;
        await app.services.audit.record({ type, actor: 'seed', target: `n:${n++}`, changedFields: ['a'] });
      }
    }
    clock.set(Date.parse('2026-01-10T12:00:00Z'));
  });
  afterAll(() => app.close());

  async function all(query: string, limit: number) {
    const items: { time: string; type: string; target: string }[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const c: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
      const r = await call(`/api/manage/audit?limit=${limit}${query}${c}`);
      expect(r.status).toBe(200);
      items.push(...r.body.items);
      cursor = r.body.nextCursor;
      pages++;
    } while (cursor && pages < 100);
    return { items, pages };
  }

  it('lists newest first across month partitions with cursor paging', async () => {
    const { items, pages } = await all('', 3);
    expect(items.length).toBe(20);
    expect(pages).toBeGreaterThanOrEqual(7);
    const times = items.map((e) => e.time);
    expect(times).toEqual([...times].sort().reverse());
    expect(items[0]?.target).toBe('n:19');
    expect(items.at(-1)?.target).toBe('n:0');
    const first = (await call('/api/manage/audit')).body.items[0];
    expect(first).toMatchObject({
      type: expect.any(String),
      actor: 'seed',
      outcome: 'success',
      changedFields: ['a'],
      securityRelevant: false,
      details: {},
    });
  });

  it('filters by time range and by exact type or prefix', async () => {
    const range = await all('&from=2025-12-01T00:00:00Z&to=2026-01-05T00:04:00Z', 100);
    expect(range.items.map((e) => e.target)).toEqual([
      'n:14',
      'n:13',
      'n:12',
      'n:11',
      'n:10',
      'n:9',
      'n:8',
      'n:7',
      'n:6',
      'n:5',
    ]);
    const exact = await all('&type=signin.succeeded', 2);
    expect(exact.items.every((e) => e.type === 'signin.succeeded')).toBe(true);
    expect(exact.items.length).toBe(6);
    const prefix = await all('&type=admin.', 4);
    expect(prefix.items.length).toBe(14);
    expect(prefix.items.every((e) => e.type.startsWith('admin.'))).toBe(true);
    const none = await all('&type=admin.nothing', 10);
    expect(none.items).toEqual([]);
    const dateOnly = await all('&from=2026-01-09&to=2026-01-10', 100);
    expect(dateOnly.items.length).toBe(5);
  });

  it.each([
    'from=yesterday',
    'to=2026-13-01',
    'from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z',
    'type=a%20b',
    'limit=0',
    'limit=501',
    'cursor=bm9wZQ',
    'other=1',
  ])('rejects ?%s with 400', async (q) => {
    expect((await call(`/api/manage/audit?${q}`)).status).toBe(400);
  });

  it('is admin-only', async () => {
    expect((await fetch(`${app.url}/api/manage/audit`)).status).toBe(401);
  });
});
