/**
 * Delete: row (conditional) → secret soft-deleted and purged where the vault allows → index row.
 * A failure after the row is gone leaves an unreferenced secret (tagged with the integration id),
 * never an integration without its secret.
 */
import type { ChangeContext } from '../audit/log.ts';
import type { Clock } from '../core/clock.ts';
import { ConflictError } from '../core/errors.ts';
import { bestEffort, findRow, type IntegrationOperationDeps } from './resource.ts';
import type { IntegrationRecord, IntegrationStore } from './store.ts';

/** How long a delete's mark keeps assignments away (a delete takes well under a second). */
const DELETE_MARK_MS = 60_000;

/** Every Key Vault key a row names (current, pending and retired certificates). */
function certificateKeys(r: IntegrationRecord): string[] {
  const keys = [...(r.retiredKeys ?? [])];
  for (const c of [r.credential, r.pendingCredential]) if (c?.kind === 'certificate') keys.push(c.keyName);
  return keys;
}

export async function deleteIntegration(
  deps: IntegrationOperationDeps,
  id: string,
  ifMatch: string | undefined,
  actor: string,
  ctx: ChangeContext,
): Promise<void> {
  const { store, resource, cache, creds, vault, log } = deps;
  const current = await resource.open(id, { ifMatch, actor, ctx });
  // Mark the row first, then count: an assignment writes the user first, then checks the row
  // (users/verify-type.ts), so of a delete and an assignment racing, at least one sees the other.
  const { etag: _etag, ...record } = current;
  const marked = await store.replace({ ...record, deletingSince: deps.clock.now() }, current.etag);
  const assigned = deps.assignmentCounter ? await deps.assignmentCounter.countUsersAssignedTo(current.id) : 0;
  if (assigned > 0) {
    const { deletingSince: _d, etag: _e, ...unmarked } = marked;
    await bestEffort(log, 'unmark_delete', async () => {
      await store.replace(unmarked, marked.etag);
    });
    throw new ConflictError(
      `${assigned} user(s) are still assigned to this integration; assign them another verify type first.`,
      'integration_in_use',
      { assignedUsers: assigned },
    );
  }
  await store.remove(current.id, marked.etag);
  cache.delete(current.id);
  creds.forget(current.id);
  const removed = await vault.remove(current.secretName);
  await creds.removeKeys(certificateKeys(current));
  await bestEffort(log, 'release_title', () => store.releaseTitle(current.titleKey, current.id));
  await resource.record(
    current,
    { actor, ctx },
    {
      event: 'deleted',
      details: { title: current.title, secretDeleted: removed.deleted, secretPurged: removed.purged },
    },
  );
}

/**
 * Whether users may (still) be assigned to the integration: it exists and no delete is under way
 * (a mark older than a minute was left by a delete that did not finish, and is ignored).
 */
export async function isAssignable(
  deps: { store: IntegrationStore; clock: Clock },
  id: string,
): Promise<boolean> {
  const row = await findRow(deps.store, id);
  if (!row) return false;
  return !row.deletingSince || deps.clock.now() - row.deletingSince > DELETE_MARK_MS;
}
