/**
 * Audit retention: events are kept `auditRetentionDays` (a global setting, 400 by default), then
 * deleted by whole months by the maintenance timer: a month goes once all of it is older than the
 * retention, so an event lives at least that long and at most a month longer. A month is its shard
 * partitions and the legacy month partition (shared/audit/log.ts); their keys sort by month, so the
 * months to delete are one key range below the month the cutoff falls in.
 */
import type { TableClient } from '@azure/data-tables';
import type { Clock } from '../core/clock.ts';
import type { Logger } from '../core/log.ts';
import { isNotFound, isPreconditionFailed } from '../storage/tables.ts';
import { auditMonth } from './log.ts';

const DAY_MS = 86_400_000;
/** Rows deleted per run at most: a backlog is worked off over several runs. */
export const MAX_AUDIT_DELETES_PER_RUN = 5000;
const CONCURRENCY = 16;

/** The filter of every audit row in a month that ended before `now - retentionDays`. */
export function expiredAuditFilter(now: number, retentionDays: number): string {
  const keepFrom = auditMonth(now - retentionDays * DAY_MS);
  return `PartitionKey ge 'm' and PartitionKey lt '${keepFrom}'`;
}

/** Deletes the audit rows of months past the retention (up to MAX_AUDIT_DELETES_PER_RUN); how many. */
export async function purgeAuditMonths(
  table: TableClient,
  clock: Clock,
  retentionDays: number,
  log: Logger,
): Promise<number> {
  const filter = expiredAuditFilter(clock.now(), retentionDays);
  const doomed: { pk: string; rk: string }[] = [];
  const pages = table
    .listEntities({ queryOptions: { filter, select: ['PartitionKey', 'RowKey'] } })
    .byPage({ maxPageSize: 1000 });
  for await (const page of pages) {
    for (const e of page) doomed.push({ pk: e.partitionKey as string, rk: e.rowKey as string });
    if (doomed.length >= MAX_AUDIT_DELETES_PER_RUN) break;
  }
  let deleted = 0;
  for (let i = 0; i < doomed.length; i += CONCURRENCY) {
    await Promise.all(
      doomed.slice(i, i + CONCURRENCY).map(async (d) => {
        try {
          await table.deleteEntity(d.pk, d.rk);
          deleted++;
        } catch (err) {
          if (!isNotFound(err) && !isPreconditionFailed(err)) throw err;
        }
      }),
    );
  }
  if (deleted > 0) log.info('maintenance.audit_purged', { deleted, retentionDays });
  return deleted;
}
