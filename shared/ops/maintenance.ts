/**
 * Housekeeping for rows that expire but that Table Storage never removes by itself (it has no TTL):
 * login transactions past their 10 minutes, sessions past their absolute or idle timeout, throttle
 * counters idle for a day, the OpenID Provider's expired codes, tokens, sessions and grants. Run by the `maintenance-purge` timer function; not on any request path.
 *
 * Filters use the service's own `Timestamp` (last write, Edm.DateTime) and ISO strings only: numbers
 * stored by the SDK are Edm.Double or Edm.Int32 depending on their size, and large integer literals in
 * a filter are refused by Table Storage, so numeric columns are never filtered on.
 */
import type { TableClient } from '@azure/data-tables';
import type { Clock } from '../core/clock.ts';
import type { Logger } from '../core/log.ts';
import { IDLE_TIMEOUT_MINUTES } from '../sessions/service.ts';
import { TRANSACTION_TTL_MS } from '../signin/transactions.ts';
import { isNotFound, isPreconditionFailed, type TableKey, type Tables } from '../storage/tables.ts';

const MINUTE_MS = 60_000;
const DAY_MS = 1440 * MINUTE_MS;
/** Rows deleted per table per run at most: a backlog is worked off over several runs. */
const MAX_PER_TABLE = 5000;
const CONCURRENCY = 16;

export type PurgeResult = Record<'loginTransactions' | 'sessions' | 'throttle' | 'oidcStore', number>;

const iso = (ms: number) => new Date(ms).toISOString();
const writtenBefore = (ms: number) => `Timestamp lt datetime'${iso(ms)}'`;

/** What each table keeps: a row matching its filter is expired. */
export function purgePlan(now: number): { table: TableKey & keyof PurgeResult; filter: string }[] {
  return [
    // Used-markers, written by the callback: once older than a transaction can live, a replay is
    // refused as expired anyway.
    { table: 'loginTransactions', filter: writtenBefore(now - TRANSACTION_TTL_MS - MINUTE_MS) },
    // lastSeenAt is written at least once a minute while in use, so a row not written for longer than
    // the idle timeout is idle-expired; expiresAt (ISO) catches the absolute end.
    {
      table: 'sessions',
      filter: `${writtenBefore(now - (IDLE_TIMEOUT_MINUTES + 2) * MINUTE_MS)} or expiresAt lt '${iso(now)}'`,
    },
    // Blocks last at most 30 minutes and failures are forgotten after 15: a day of quiet is plenty.
    { table: 'throttle', filter: writtenBefore(now - DAY_MS) },
    // The OpenID Provider's artifacts and their index rows carry their expiry as ISO text (rows
    // without one carry 9999-…); `find` already ignores expired rows, this only frees the space.
    { table: 'oidcStore', filter: `expiresAtIso lt '${iso(now)}'` },
  ];
}

/** Deletes the rows matching `filter` (up to MAX_PER_TABLE), each conditional on the etag read. */
export async function purgeRows(
  table: TableClient,
  filter: string,
  /** Told of each row deleted (an idle or expired session: its back-channel logouts are queued). */
  onDeleted?: (pk: string, rk: string) => Promise<void>,
): Promise<number> {
  const doomed: { pk: string; rk: string; etag: string }[] = [];
  const pages = table.listEntities({ queryOptions: { filter, select: ['PartitionKey', 'RowKey'] } }).byPage({
    maxPageSize: 1000,
  });
  for await (const page of pages) {
    for (const e of page) doomed.push({ pk: e.partitionKey as string, rk: e.rowKey as string, etag: e.etag });
    if (doomed.length >= MAX_PER_TABLE) break;
  }
  let deleted = 0;
  for (let i = 0; i < doomed.length; i += CONCURRENCY) {
    await Promise.all(
      doomed.slice(i, i + CONCURRENCY).map(async (d) => {
        try {
          // A row written since it was read (a session in use) is left alone.
          await table.deleteEntity(d.pk, d.rk, { etag: d.etag });
          deleted++;
          await onDeleted?.(d.pk, d.rk);
        } catch (err) {
          if (!isNotFound(err) && !isPreconditionFailed(err)) throw err;
        }
      }),
    );
  }
  return deleted;
}

/** Runs the plan; one table's failure does not stop the others (it is logged and the run fails after). */
export async function purgeExpired(
  tables: Tables,
  clock: Clock,
  log: Logger,
  /** A session that ended by its idle or absolute timeout, unnoticed until now (username, session id). */
  sessionEnded?: (username: string, sessionId: string) => Promise<void>,
): Promise<PurgeResult> {
  const plan = purgePlan(clock.now());
  const outcomes = await Promise.allSettled(
    plan.map((p) => purgeRows(tables[p.table], p.filter, p.table === 'sessions' ? sessionEnded : undefined)),
  );
  const result: PurgeResult = { loginTransactions: 0, sessions: 0, throttle: 0, oidcStore: 0 };
  const failed: string[] = [];
  outcomes.forEach((o, i) => {
    const { table } = plan[i] as (typeof plan)[number];
    if (o.status === 'fulfilled') result[table] = o.value;
    else {
      failed.push(table);
      log.error('maintenance.purge_failed', { table, error: o.reason });
    }
  });
  log.info('maintenance.purged', { ...result });
  if (failed.length > 0) throw new Error(`maintenance purge failed for ${failed.join(', ')}`);
  return result;
}
