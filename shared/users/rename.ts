import { ConflictError } from '../core/errors.ts';
import { requireRecord } from './current.ts';
import type { ChangeContext, UserServiceDeps } from './ports.ts';
import type { UserRecord } from './records.ts';

/**
 * Renames a user (provisioning: Entra changed the userPrincipalName). The username is the row key, so
 * the row is written under the new name first (409 `username_taken` when it exists), the id index
 * is pointed at it, the old row removed, and the email and binding index rows taken over by the new
 * name (their old owner no longer exists). The id (the OP's `sub`) stays. Every session of the old
 * name ends. Admins are not renamed here: the admin index and the lock-out guard go by username.
 */
export async function renameUser(
  deps: UserServiceDeps,
  from: string,
  to: string,
  ctx: ChangeContext,
): Promise<UserRecord> {
  const { store } = deps;
  const current = await requireRecord(store, from);
  if (current.roles.includes('admin')) {
    throw new ConflictError('An admin cannot be renamed.', 'admin_rename');
  }
  const now = new Date(deps.clock.now()).toISOString();
  const { etag: _etag, ...rest } = current;
  const saved = await store.insert({ ...rest, username: to, updatedAt: now, sessionsRevokedAt: now });
  await store.moveId(current.id, current.username, to);
  try {
    await store.remove(current.username, current.etag);
  } catch (err) {
    // The old row changed meanwhile: undo, so one user never has two rows.
    await store.moveId(current.id, to, current.username);
    await store.remove(to, saved.etag);
    throw err;
  }
  if (current.email) await store.claimEmail(current.email, to);
  const b = current.entraBinding;
  if (b) await store.claimBinding(b.tenantId, b.objectId, to, b.boundAt);
  const revoked = await deps.sessions.revokeAllForUser(current.username);
  await deps.audit.record({
    type: 'admin.user.renamed',
    actor: ctx.actor,
    target: `user:${to}`,
    changedFields: ['username'],
    correlationId: ctx.correlationId,
    clientAddress: ctx.clientAddress,
    details: { from: current.username, sessionsRevoked: revoked },
  });
  return saved;
}
