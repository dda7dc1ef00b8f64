/**
 * Housekeeping for rows that expire but that Table Storage never removes by itself (it has no TTL):
 * login transactions past their 10 minutes, sessions past their absolute or idle timeout, throttle
 * counters idle for a day. Run by the `maintenance-purge` timer function; not on any request path.
 */
import type { TableClient } from '@azure/data-tables';
import type { Clock } from './clock.ts';
import type { Logger } from './log.ts';
import { IDLE_TIMEOUT_MINUTES } from './signin/sessions.ts';
import { TRANSACTION_TTL_MS } from './signin/transactions.ts';
import { isNotFound, isPreconditionFailed, type Tables } from './storage/tables.ts';

const DAY_MS = 86_400_000;
/** Rows deleted per table per run at most: a backlog is worked off over several runs. */
const MAX_PER_TABLE = 5000;
const CONCURRENCY = 16;

export interface PurgeResult {
  loginTransactions: number;
  sessions: number;
  throttle: number;
}

async function purge(table: TableClient, filter: string): Promise<number> {
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
          // Conditional on the etag read: a row touched since (a session in use) is left alone.
          await table.deleteEntity(d.pk, d.rk, { etag: d.etag });
          deleted++;
        } catch (err) {
          if (!isNotFound(err) && !isPreconditionFailed(err)) throw err;
        }
      }),
    );
  }
  return deleted;
}

export async function purgeExpired(tables: Tables, clock: Clock, log: Logger): Promise<PurgeResult> {
  const now = clock.now();
  const iso = (ms: number) => new Date(ms).toISOString();
  const result: PurgeResult = {
    loginTransactions: await purge(
      tables.loginTransactions,
      `createdAt lt ${now - TRANSACTION_TTL_MS - 60_000}`,
    ),
    sessions: await purge(
      tables.sessions,
      `expiresAt lt '${iso(now)}' or lastSeenAt lt '${iso(now - IDLE_TIMEOUT_MINUTES * 60_000)}'`,
    ),
    throttle: await purge(tables.throttle, `lastAt lt ${now - DAY_MS} and blockedUntil lt ${now}`),
  };
  log.info('maintenance.purged', { ...result });
  return result;
}
