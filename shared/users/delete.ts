import type { Caller } from '../admin/caller.ts';
import { guardUserChange } from './lockout.ts';
import type { ChangeContext } from './ports.ts';
import { changeRequest, isAdmin, type UserOperationDeps } from './resource.ts';

/**
 * Deletes a user: the user row first, then its index rows (the id is never reused: with its index row
 * gone, `getById` answers undefined and the OP refuses its tokens); ends every session. Audited.
 * Deleting an admin needs a recent sign-in (docs/security.md AD5).
 */
export async function deleteUser(
  deps: UserOperationDeps,
  username: string,
  ifMatch: string | undefined,
  ctx: ChangeContext,
  caller?: Caller,
): Promise<void> {
  const { store, resource } = deps;
  const req = changeRequest(ifMatch, ctx, caller);
  const current = await resource.open(username, req, { of: isAdmin });
  const revoked = await guardUserChange(deps, current, null, async () => {
    await store.remove(current.username, current.etag);
    await store.releaseId(current.id, current.username);
    if (current.email) await store.releaseEmail(current.email, current.username);
    if (isAdmin(current)) {
      await store.removeAdmin(current.username);
      // Dead already (the account they name is gone), and gone from the token list too.
      await deps.adminTokens?.revokeOwnedBy(current.username, current.createdAt);
    }
    const b = current.entraBinding;
    if (b) await store.releaseBinding(b.tenantId, b.objectId, current.username);
    return deps.sessions.revokeAllForUser(current.username);
  });
  await resource.record(current, req, { event: 'deleted', details: { sessionsRevoked: revoked } });
}
