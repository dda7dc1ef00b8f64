/**
 * AuditEvents spread over 16 shard partitions per month: writes land in `mYYYYMM-h`, reads merge the
 * shards newest first with an exact cursor. Request counts are taken at the counting proxy in front of
 * Azurite, never timings.
 */
import { randomBytes } from 'node:crypto';
import type { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTableProxy, type TableProxy } from '../../scripts/standins/table-proxy.ts';
import {
  AUDIT_SHARDS,
  auditMonth,
  auditMonthPartitions,
  auditPartition,
  auditRowKey,
} from '../../shared/audit/log.ts';
import { AUDIT_MAX_MONTHS_PER_PAGE } from '../../shared/audit/query.ts';
import { manualClock } from '../../shared/core/clock.ts';
import type { Services } from '../../shared/web/services.ts';
import { stack, startTestApp, type TestApp, testServices } from '../helpers/stack.ts';

const TYPES = ['admin.user.created', 'admin.settings.updated', 'signin.succeeded'] as const;
const at = (iso: string) => Date.parse(iso);

interface Row {
  pk: string;
  id: string;
  time: string;
  type: string;
}

/** A row as the audit log writes it, in a chosen shard at a chosen time: same columns, same RowKey form. */
async function writeRaw(
  table: TableClient,
  pk: string,
  ms: number,
  type: string,
  suffix?: string,
): Promise<Row> {
  const id = auditRowKey(ms, suffix ?? randomBytes(6).toString('hex'));
  const time = new Date(ms).toISOString();
  await table.createEntity({
    partitionKey: pk,
    rowKey: id,
    time,
    type,
    actor: 'raw',
    target: '',
    outcome: 'success',
    changedFields: '[]',
    reason: '',
    correlationId: '',
    clientAddress: '',
    securityRelevant: false,
    details: '{}',
  });
  return { pk, id, time, type };
}

async function allRows(table: TableClient): Promise<Row[]> {
  const rows: Row[] = [];
  for await (const e of table.listEntities<{ time: string; type: string }>()) {
    rows.push({ pk: e.partitionKey as string, id: e.rowKey as string, time: e.time, type: e.type });
  }
  return rows.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

const cursorOf = (month: string, after: string | null) =>
  Buffer.from(JSON.stringify({ v: 1, m: month, a: after }), 'utf8').toString('base64url');

describe('audit events over shard partitions (API, Azurite)', () => {
  let app: TestApp;
  const clock = manualClock(at('2026-02-20T12:00:00Z'));
  let expected: Row[];

  async function pageAll(query: string, limit: number, cursor: string | null = null) {
    const ids: string[] = [];
    const types: string[] = [];
    let pages = 0;
    do {
      const c = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
      const r = await app.admin(`/api/manage/audit?limit=${limit}${query}${c}`);
      expect(r.status).toBe(200);
      const body = (await r.json()) as { items: { id: string; type: string }[]; nextCursor: string | null };
      expect(body.items.length).toBeLessThanOrEqual(limit);
      ids.push(...body.items.map((e) => e.id));
      types.push(...body.items.map((e) => e.type));
      cursor = body.nextCursor;
      pages++;
    } while (cursor && pages < 200);
    return { ids, types, pages };
  }

  beforeAll(async () => {
    app = await startTestApp({ clock });
    const table = app.services.tables.auditEvents;
    let n = 0;
    const recordAt = (ms: number, type: string) => {
      clock.set(ms);
      return app.services.audit.record({ type, actor: 'seed' });
    };
    // December and January: events an hour or half an hour apart. February: several in the same
    // millisecond (equal timestamps in different shards: the suffix orders them).
    for (let i = 0; i < 12; i++) {
      await recordAt(at('2025-12-10T00:00:00Z') + i * 3_600_000, TYPES[n++ % 3] as string);
    }
    for (let i = 0; i < 12; i++) {
      const ms = at('2026-01-05T00:00:00Z') + i * 3_600_000;
      await recordAt(ms, TYPES[n++ % 3] as string);
      await recordAt(ms + 1_800_000, TYPES[n++ % 3] as string);
    }
    clock.set(at('2026-01-31T23:59:59.999Z'));
    await app.services.audit.record({ type: 'signin.succeeded', actor: 'seed' });
    for (let i = 0; i < 20; i++) {
      clock.set(at('2026-02-01T00:00:00Z') + Math.floor(i / 4) * 60_000);
      await app.services.audit.record({ type: TYPES[n++ % 3] as string, actor: 'seed' });
    }
    clock.set(at('2026-02-20T12:00:00Z'));
    expected = await allRows(table);
  });
  afterAll(() => app.close());

  it('writes each event to its month and a shard named by its id, spread over several shards', () => {
    const sharded = expected.filter((r) => /-[0-9a-f]$/.test(r.pk));
    expect(sharded.length).toBe(57);
    for (const r of sharded) {
      expect(r.pk).toBe(auditPartition(Date.parse(r.time), r.id.split('-')[1] as string));
      expect(r.pk.slice(0, 7)).toBe(auditMonth(Date.parse(r.time)));
    }
    expect(new Set(sharded.map((r) => r.pk)).size).toBeGreaterThanOrEqual(2);
    expect(expected.length).toBe(57);
  });

  it.each([3, 1, 7, 500])('pages with limit %i equal the sorted full list, across months', async (limit) => {
    const { ids, pages } = await pageAll('', limit);
    expect(ids).toEqual(expected.map((r) => r.id));
    expect(new Set(ids).size).toBe(ids.length);
    expect(pages).toBeGreaterThanOrEqual(Math.ceil(expected.length / limit));
  });

  it('filters by exact type, type prefix and time range across months', async () => {
    const exact = await pageAll('&type=signin.succeeded', 3);
    expect(exact.ids).toEqual(expected.filter((r) => r.type === 'signin.succeeded').map((r) => r.id));
    const prefix = await pageAll('&type=admin.', 4);
    expect(prefix.ids).toEqual(expected.filter((r) => r.type.startsWith('admin.')).map((r) => r.id));
    const from = '2026-01-05T03:00:00.000Z';
    const to = '2026-02-01T00:02:00.000Z';
    const range = await pageAll(`&from=${from}&to=${to}`, 3);
    const inRange = expected.filter((r) => r.time >= from && r.time <= to);
    expect(inRange.some((r) => r.pk.startsWith('m202601-'))).toBe(true);
    expect(inRange.some((r) => r.pk.startsWith('m202602-'))).toBe(true);
    expect(range.ids).toEqual(inRange.map((r) => r.id));
    const both = await pageAll(`&from=${from}&to=${to}&type=admin.`, 2);
    expect(both.ids).toEqual(inRange.filter((r) => r.type.startsWith('admin.')).map((r) => r.id));
  });

  it('resumes exactly from a cursor (month + last RowKey)', async () => {
    const jan = expected.filter((r) => r.pk.startsWith('m202601-'));
    const mid = jan[5] as Row;
    const { ids } = await pageAll('', 3, cursorOf('m202601', mid.id));
    expect(ids).toEqual(expected.filter((r) => r.id > mid.id).map((r) => r.id));
    const start = await pageAll('', 5, cursorOf('m202602', null));
    expect(start.ids).toEqual(expected.map((r) => r.id));
    for (const bad of [
      cursorOf('202601', null),
      cursorOf('m202601-3', null),
      cursorOf('m202601', 'x y'),
      // Months 00 and 13 are no months (00 once walked back to "m2026-1" and answered 500).
      cursorOf('m202600', null),
      cursorOf('m202613', null),
    ]) {
      const r = await app.admin(`/api/manage/audit?cursor=${bad}`);
      expect(r.status).toBe(400);
    }
  });
});

describe('audit listing: requests per page (counting proxy in front of Azurite)', () => {
  let proxy: TableProxy;
  let services: Services;
  const clock = manualClock(at('2026-06-20T12:00:00Z'));

  beforeAll(async () => {
    // A held round trip makes parallel requests overlap for sure on a busy machine; counts stay exact.
    proxy = await startTableProxy({ target: stack().tableEndpoint, rttMs: 50 });
    services = await testServices({ clock, env: { BROKER_TABLE_ENDPOINT: proxy.endpoint } });
  });
  afterAll(async () => {
    await proxy?.close();
  });

  async function measure<T>(run: () => Promise<T>) {
    await proxy.idle();
    proxy.reset();
    const result = await run();
    await proxy.idle();
    const s = proxy.snapshot();
    return { result, counts: { requests: s.requests, rounds: s.rounds } };
  }

  it('an insert is one request; a page of one month is 1 + 16 requests in 2 rounds', async () => {
    const one = await measure(() => {
      clock.set(at('2026-06-01T00:00:00Z'));
      return services.audit.record({ type: 'signin.succeeded', actor: 'seed' });
    });
    expect(one.counts).toEqual({ requests: 1, rounds: 1 });
    clock.set(at('2026-06-20T12:00:00Z'));
    // Two events per shard (chosen suffixes, so the merge never has to read a shard twice).
    const table = services.tables.auditEvents;
    for (let i = 0; i < 2 * AUDIT_SHARDS; i++) {
      const shard = (i % AUDIT_SHARDS).toString(16);
      await writeRaw(
        table,
        `m202606-${shard}`,
        at('2026-06-02T00:00:00Z') + i * 1000,
        'signin.succeeded',
        `${shard}00000000000`,
      );
    }
    const page = await measure(() => services.auditQuery.list({ limit: 10 }));
    expect(page.result.items.length).toBe(10);
    expect(page.result.nextCursor).not.toBeNull();
    // oldestMonth (1) + the month's 16 shards together (16).
    expect(page.counts).toEqual({ requests: 17, rounds: 2 });
  });

  it('a lopsided shard is read again until the page is full', async () => {
    const table = services.tables.auditEvents;
    const skewed: Row[] = [];
    for (let i = 0; i < 20; i++) {
      skewed.push(
        await writeRaw(
          table,
          'm202604-3',
          at('2026-04-03T00:00:00Z') + i * 1000,
          'x.y',
          `3${randomBytes(5).toString('hex')}a`,
        ),
      );
    }
    const skewedPage = await measure(() =>
      services.auditQuery.list({ limit: 10, type: 'x.y', to: '2026-04-30T00:00:00Z' }),
    );
    expect(skewedPage.result.items.map((e) => e.id)).toEqual(
      skewed
        .map((r) => r.id)
        .sort()
        .slice(0, 10),
    );
    // 11 rows wanted (one to know the month goes on), 4 per shard page: shard 3 is read 3 times.
    expect(skewedPage.counts).toEqual({ requests: 1 + 16 + 2, rounds: 1 + 3 });
  });

  it('walks at most AUDIT_MAX_MONTHS_PER_PAGE months per page and still reaches old events', async () => {
    const table = services.tables.auditEvents;
    const old = [
      await writeRaw(table, 'm202312-0', at('2023-12-24T00:00:00Z'), 'z.old', '000000000000'),
      await writeRaw(table, 'm202401-a', at('2024-01-02T00:00:00Z'), 'z.old', 'a00000000000'),
    ];
    const ids: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await measure(() => services.auditQuery.list({ limit: 100, type: 'z.old', cursor }));
      expect(page.counts.requests).toBeLessThanOrEqual(1 + AUDIT_MAX_MONTHS_PER_PAGE * 16);
      expect(page.counts.rounds).toBeLessThanOrEqual(1 + AUDIT_MAX_MONTHS_PER_PAGE);
      ids.push(...page.result.items.map((e) => e.id));
      cursor = page.result.nextCursor ?? undefined;
      pages++;
    } while (cursor && pages < 10);
    // June 2026 back to December 2023 is 31 months: three pages at 12 months each.
    expect(pages).toBe(3);
    expect(ids).toEqual(old.map((r) => r.id).sort());
    expect(auditMonthPartitions('m202401')).toHaveLength(16);
  });
});
