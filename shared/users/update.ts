import { PreconditionFailedError } from '../core/errors.ts';
import { checkIfMatch, isoNow, requireRecord } from './current.ts';
import { guardUserChange } from './lockout.ts';
import type { ChangeContext, UserServiceDeps } from './ports.ts';
import type { NewUserRecord, UserRecord } from './records.ts';
import type { PatchUserInput, User } from './schemas.ts';
import { confirmAssignment, resolveVerifyType, sameVerifyType } from './verify-type.ts';
import { viewUser } from './views.ts';

const sameRoles = (a: string[], b: string[]) =>
  a.length === b.length && [...a].sort().join('\n') === [...b].sort().join('\n');

/**
 * Changes a user. With `If-Match` the change applies to that version only (412 otherwise). Without
 * it the caller asked for "the current version": a write that lost a race with another one is read
 * again and re-applied (up to 5 tries, with jitter), instead of answering 412 to a request that named
 * no version.
 */
export async function updateUser(
  deps: UserServiceDeps,
  username: string,
  patch: PatchUserInput,
  ifMatch: string | undefined,
  ctx: ChangeContext,
): Promise<User> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await updateOnce(deps, username, patch, ifMatch, ctx);
    } catch (err) {
      if (ifMatch !== undefined || !(err instanceof PreconditionFailedError) || attempt >= 5) throw err;
      await new Promise((r) => setTimeout(r, Math.random() * 20 * attempt));
    }
  }
}

async function updateOnce(
  deps: UserServiceDeps,
  username: string,
  patch: PatchUserInput,
  ifMatch: string | undefined,
  ctx: ChangeContext,
): Promise<User> {
  const { store } = deps;
  const current = await requireRecord(store, username);
  checkIfMatch(ifMatch, current);
  const next: NewUserRecord = { ...current };
  const changed: string[] = [];
  if (patch.displayName !== undefined && patch.displayName !== current.displayName) {
    next.displayName = patch.displayName;
    changed.push('displayName');
  }
  if (patch.email !== undefined && (patch.email ?? null) !== current.email) {
    next.email = patch.email;
    changed.push('email');
  }
  if (patch.verifyType !== undefined) {
    const vt = await resolveVerifyType(deps.integrations, patch.verifyType);
    if (!sameVerifyType(vt, current.verifyType)) {
      next.verifyType = vt;
      // The binding belongs to the old assignment: the next Entra sign-in binds again.
      next.entraBinding = null;
      changed.push('verifyType');
      if (current.entraBinding) changed.push('entraBinding');
    }
  }
  if (patch.roles !== undefined && !sameRoles(patch.roles, current.roles)) {
    next.roles = [...patch.roles];
    changed.push('roles');
  }
  if (patch.disabled !== undefined && patch.disabled !== current.disabled) {
    next.disabled = patch.disabled;
    changed.push('disabled');
  }
  if (changed.length === 0) return viewUser(deps.integrations, current);
  next.updatedAt = isoNow(deps.clock);
  // Role changes too: session tokens carry the roles, so none may outlive a change of them.
  const revoke =
    (next.disabled && !current.disabled) || changed.includes('verifyType') || changed.includes('roles');
  // In the same write: tokens the OP issued before this instant die with the sessions (docs/security.md OP6).
  if (revoke) next.sessionsRevokedAt = next.updatedAt;
  return guardUserChange(deps, current, next, async () => {
    const emailChanged = changed.includes('email');
    const becomesAdmin = next.roles.includes('admin') && !current.roles.includes('admin');
    if (emailChanged && next.email) await store.claimEmail(next.email, next.username);
    if (becomesAdmin) await store.addAdmin(next.username);
    let saved: UserRecord;
    try {
      saved = await store.replace(next, current.etag);
    } catch (err) {
      if (emailChanged && next.email) await store.releaseEmail(next.email, next.username);
      throw err;
    }
    if (changed.includes('verifyType')) {
      await confirmAssignment(deps.integrations, next.verifyType, async () => {
        const { etag: _etag, ...before } = current;
        await store.replace(before, saved.etag);
        if (emailChanged && next.email) await store.releaseEmail(next.email, next.username);
        if (becomesAdmin) await store.removeAdmin(next.username);
      });
    }
    if (emailChanged && current.email) await store.releaseEmail(current.email, current.username);
    if (current.roles.includes('admin') && !next.roles.includes('admin'))
      await store.removeAdmin(next.username);
    if (current.entraBinding && !next.entraBinding) {
      await store.releaseBinding(current.entraBinding.tenantId, current.entraBinding.objectId, next.username);
    }
    const revoked = revoke ? await deps.sessions.revokeAllForUser(next.username) : 0;
    await deps.audit.record({
      type: 'admin.user.updated',
      actor: ctx.actor,
      target: `user:${next.username}`,
      changedFields: changed,
      correlationId: ctx.correlationId,
      clientAddress: ctx.clientAddress,
      securityRelevant: becomesAdmin,
      details: { sessionsRevoked: revoked },
    });
    return viewUser(deps.integrations, saved);
  });
}
