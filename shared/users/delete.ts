import { checkIfMatch, requireRecord } from './current.ts';
import { guardUserChange } from './lockout.ts';
import type { ChangeContext, UserServiceDeps } from './ports.ts';

/**
 * Deletes a user: the user row first, then its index rows (the id is never reused: with its index row
 * gone, `getById` answers undefined and the OP refuses its tokens); ends every session. Audited.
 */
export async function deleteUser(
  deps: UserServiceDeps,
  username: string,
  ifMatch: string | undefined,
  ctx: ChangeContext,
): Promise<void> {
  const { store } = deps;
  const current = await requireRecord(store, username);
  checkIfMatch(ifMatch, current);
  await guardUserChange(deps, current, null, async () => {
    await store.remove(current.username, current.etag);
    await store.releaseId(current.id, current.username);
    if (current.email) await store.releaseEmail(current.email, current.username);
    if (current.roles.includes('admin')) {
      await store.removeAdmin(current.username);
      // Dead already (the account they name is gone), and gone from the token list too.
      await deps.adminTokens?.revokeOwnedBy(current.username, current.createdAt);
    }
    const b = current.entraBinding;
    if (b) await store.releaseBinding(b.tenantId, b.objectId, current.username);
    const revoked = await deps.sessions.revokeAllForUser(current.username);
    await deps.audit.record({
      type: 'admin.user.deleted',
      actor: ctx.actor,
      target: `user:${current.username}`,
      correlationId: ctx.correlationId,
      clientAddress: ctx.clientAddress,
      details: { sessionsRevoked: revoked },
    });
  });
}
