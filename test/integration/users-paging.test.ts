import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NewUserRecord } from '../../shared/users/store.ts';
import { startTestApp, type TestApp } from '../helpers/stack.ts';
import { userRecord } from '../helpers/users.ts';

/** Listing 5,000 users page by page through Table Storage (cursor paging, never the whole table). */
describe('users listing at 5,000', () => {
  let app: TestApp;
  const TOTAL = 5_000;
  const FILTERED_ID = 'seeded-integration';

  beforeAll(async () => {
    app = await startTestApp();
    const now = new Date().toISOString();
    const records: NewUserRecord[] = Array.from({ length: TOTAL }, (_, i) =>
      userRecord(`user${String(i).padStart(5, '0')}`, {
        displayName: `User ${i}`,
        integrationId: i % 10 === 0 ? FILTERED_ID : undefined,
        now,
      }),
    );
    const started = performance.now();
    await app.services.users.store.insertBatch(records);
    console.log(
      `seeded ${TOTAL} users in ${Math.round(performance.now() - started)} ms (100 per transaction)`,
    );
  }, 120_000);
  afterAll(() => app.close());

  async function walk(query: string, limit: number) {
    const names: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    const started = performance.now();
    do {
      const c: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
      const r = await app.admin(`/api/manage/users?limit=${limit}${query}${c}`);
      expect(r.status).toBe(200);
      const body = (await r.json()) as { items: { username: string }[]; nextCursor: string | null };
      expect(body.items.length).toBeLessThanOrEqual(limit);
      names.push(...body.items.map((u) => u.username));
      cursor = body.nextCursor;
      pages++;
    } while (cursor);
    return { names, pages, ms: Math.round(performance.now() - started) };
  }

  it.each([500, 100])(
    'lists all 5,000 in order with limit=%i',
    async (limit) => {
      const { names, pages, ms } = await walk('', limit);
      console.log(`listed ${names.length} users in ${pages} pages of ${limit} in ${ms} ms`);
      expect(names.length).toBe(TOTAL);
      expect(new Set(names).size).toBe(TOTAL);
      expect(names[0]).toBe('user00000');
      expect(names.at(-1)).toBe('user04999');
      expect(pages).toBe(TOTAL / limit);
    },
    120_000,
  );

  it('pages through a verify-type filter (server-side) in full pages', async () => {
    const { names, pages, ms } = await walk(`&verifyType=${FILTERED_ID}`, 100);
    console.log(`listed ${names.length} filtered users in ${pages} pages in ${ms} ms`);
    expect(names.length).toBe(TOTAL / 10);
    expect(names.every((n) => Number(n.slice(4)) % 10 === 0)).toBe(true);
    expect(pages).toBe(5);
    expect(await app.services.users.countUsersAssignedTo(FILTERED_ID)).toBe(TOTAL / 10);
  }, 120_000);
});
