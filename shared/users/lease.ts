import { randomUUID } from 'node:crypto';
import type { TableClient } from '@azure/data-tables';
import { ConflictError } from '../core/errors.ts';
import { getEntityOrUndefined, isConflict, isNotFound, isPreconditionFailed } from '../storage/tables.ts';

/** The lock-out guard's lease row: `guard`/`lockout` in the Users table. */
export const GUARD_PARTITION = 'guard';
const LOCKOUT_LEASE = 'lockout';
const LEASE_MS = 15_000;
const LEASE_WAIT_MS = 10_000;

/**
 * The lock-out guard's lease (one row, written with ETags): every change that could take away the
 * last admin who can sign in runs its check and its writes while holding it, so two such changes are
 * serialised across instances. A lease left by a crashed instance expires after `LEASE_MS`. Waits up
 * to `LEASE_WAIT_MS`, then 409 `change_in_progress`. Returns the release function (best effort: the
 * lease expires anyway).
 */
export async function acquireLockoutLease(table: TableClient): Promise<() => Promise<void>> {
  const holder = randomUUID();
  const deadline = Date.now() + LEASE_WAIT_MS;
  for (;;) {
    const now = Date.now();
    const row = await getEntityOrUndefined<{ holder: string; until: number }>(
      table,
      GUARD_PARTITION,
      LOCKOUT_LEASE,
    );
    const lease = { partitionKey: GUARD_PARTITION, rowKey: LOCKOUT_LEASE, holder, until: now + LEASE_MS };
    try {
      if (!row) {
        const created = await table.createEntity(lease);
        return releaser(table, created.etag);
      }
      if (row.until < now) {
        const updated = await table.updateEntity(lease, 'Replace', { etag: row.etag });
        return releaser(table, updated.etag);
      }
    } catch (err) {
      if (!isConflict(err) && !isPreconditionFailed(err) && !isNotFound(err)) throw err;
    }
    if (Date.now() > deadline) {
      throw new ConflictError(
        'Another change to an admin is in progress; try again in a moment.',
        'change_in_progress',
      );
    }
    await new Promise((r) => setTimeout(r, 25 + Math.random() * 75));
  }
}

function releaser(table: TableClient, etag: string | undefined): () => Promise<void> {
  return async () => {
    try {
      await table.deleteEntity(GUARD_PARTITION, LOCKOUT_LEASE, etag ? { etag } : {});
    } catch (err) {
      // Someone took an expired lease over, or it is gone: nothing to release.
      if (!isNotFound(err) && !isPreconditionFailed(err)) throw err;
    }
  };
}
