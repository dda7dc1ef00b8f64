/**
 * Audit retention (docs/security.md AU1, RL1): a global setting, 400 days by default, and the
 * maintenance timer's purge deleting the months that ended before it (shards and the legacy month
 * partition alike); newer months are kept whole. And anonymous failures: counted, one summary row per
 * address and window when flushed, never one row each.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog, auditMonth } from '../../shared/audit/log.ts';
import { AuditNoise } from '../../shared/audit/noise.ts';
import { expiredAuditFilter, purgeAuditMonths } from '../../shared/audit/retention.ts';
import { manualClock } from '../../shared/core/clock.ts';
import type { Services } from '../../shared/web/services.ts';
import { quietLogger, startTestApp, type TestApp, testServices } from '../helpers/stack.ts';

const DAY = 86_400_000;

async function rowsIn(s: Services) {
  const rows: { pk: string; time: string; details: string }[] = [];
  for await (const e of s.tables.auditEvents.listEntities<{ time: string; details: string }>()) {
    rows.push({ pk: e.partitionKey as string, time: e.time, details: e.details });
  }
  return rows;
}

describe('audit retention', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  }, 60_000);
  afterAll(async () => {
    await app?.close();
  });

  it('is a setting: 400 days by default, 31 to 3650, audited', async () => {
    const get = await app.admin('/api/manage/settings');
    expect((await get.json()).auditRetentionDays).toBe(400);
    for (const bad of [30, 3651, 1.5]) {
      const r = await app.admin('/api/manage/settings', {
        method: 'PATCH',
        json: { auditRetentionDays: bad },
      });
      expect(r.status, String(bad)).toBe(400);
    }
    const ok = await app.admin('/api/manage/settings', { method: 'PATCH', json: { auditRetentionDays: 90 } });
    expect(ok.status).toBe(200);
    expect((await ok.json()).auditRetentionDays).toBe(90);
    const audit = await app.services.auditQuery.list({ type: 'admin.settings.updated' });
    expect(audit.items[0]?.changedFields).toContain('auditRetentionDays');
    await app.admin('/api/manage/settings', { method: 'PATCH', json: { auditRetentionDays: 400 } });
  });

  it('the maintenance purge deletes the months that ended before the retention, every shard; newer months stay', async () => {
    const now = Date.parse('2026-12-02T12:00:00Z');
    const clock = manualClock(now);
    const s = await testServices({ clock });
    const log = new AuditLog(s.tables.auditEvents, clock, quietLogger());
    const times = [
      now - 500 * DAY, // 2025-07: gone
      now - 450 * DAY, // 2025-09: gone
      now - 405 * DAY, // 2025-10-23: kept (October has days newer than the cutoff, 2025-10-28)
      now - 390 * DAY, // 2025-11: kept
      now - DAY, // kept
    ];
    for (const t of times) {
      clock.set(t);
      for (let i = 0; i < 20; i++) await log.record({ type: 'test.event', actor: 'system' });
    }
    // A legacy, unsharded month partition of an old month goes too.
    await s.tables.auditEvents.createEntity({
      partitionKey: auditMonth(now - 500 * DAY),
      rowKey: 'legacy',
      time: '',
    });
    clock.set(now);
    expect(expiredAuditFilter(now, 400)).toBe("PartitionKey ge 'm' and PartitionKey lt 'm202510'");
    const deleted = await purgeAuditMonths(s.tables.auditEvents, clock, 400, quietLogger());
    expect(deleted).toBe(41);
    const months = new Set((await rowsIn(s)).map((r) => r.pk.slice(0, 7)));
    expect([...months].sort()).toEqual(['m202510', 'm202511', 'm202612']);
    // Nothing more to do on the next run.
    expect(await purgeAuditMonths(s.tables.auditEvents, clock, 400, quietLogger())).toBe(0);
  });

  it('anonymous failures are counted: one summary row per address and window, with the count, when flushed', async () => {
    const clock = manualClock(Date.now());
    const s = await testServices({ clock });
    const noise = new AuditNoise(s.tables.auditEvents, clock, quietLogger());
    for (let i = 0; i < 500; i++)
      noise.count({ type: 'signin.failed', reason: 'invalid_state', clientAddress: '203.0.113.7' });
    for (let i = 0; i < 3; i++)
      noise.count({ type: 'signin.failed', reason: 'invalid_state', clientAddress: '198.51.100.1' });
    expect(await rowsIn(s)).toHaveLength(0); // nothing written while counting
    await noise.flush();
    let rows = await rowsIn(s);
    expect(rows).toHaveLength(2);
    expect(rows.map((r) => JSON.parse(r.details).count).sort((a, b) => a - b)).toEqual([3, 500]);
    // More of the same window replaces the count in the same row.
    noise.count({ type: 'signin.failed', reason: 'invalid_state', clientAddress: '203.0.113.7' });
    await noise.flush();
    rows = await rowsIn(s);
    expect(rows).toHaveLength(2);
    expect(rows.map((r) => JSON.parse(r.details).count).sort((a, b) => a - b)).toEqual([3, 501]);
  });
});
