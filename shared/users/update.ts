import type { Caller } from '../admin/caller.ts';
import { PreconditionFailedError } from '../core/errors.ts';
import { guardUserChange } from './lockout.ts';
import type { ChangeContext } from './ports.ts';
import type { NewUserRecord, UserRecord } from './records.ts';
import { changeRequest, isAdmin, type UserOperationDeps } from './resource.ts';
import type { PatchUserInput, User } from './schemas.ts';
import { confirmAssignment, resolveVerifyType, sameVerifyType } from './verify-type.ts';

const sameRoles = (a: string[], b: string[]) =>
  a.length === b.length && [...a].sort().join('\n') === [...b].sort().join('\n');

/**
 * Changes a user. With `If-Match` the change applies to that version only (412 otherwise). Without
 * it the caller asked for "the current version": a write that lost a race with another one is read
 * again and re-applied (up to 5 tries, with jitter), instead of answering 412 to a request that named
 * no version. Granting admin, and any change to an admin account, needs a recent sign-in
 * (docs/security.md AD5).
 */
export async function updateUser(
  deps: UserOperationDeps,
  username: string,
  patch: PatchUserInput,
  ifMatch: string | undefined,
  ctx: ChangeContext,
  caller?: Caller,
): Promise<User> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await updateOnce(deps, username, patch, ifMatch, ctx, caller);
    } catch (err) {
      if (ifMatch !== undefined || !(err instanceof PreconditionFailedError) || attempt >= 5) throw err;
      await new Promise((r) => setTimeout(r, Math.random() * 20 * attempt));
    }
  }
}

async function updateOnce(
  deps: UserOperationDeps,
  username: string,
  patch: PatchUserInput,
  ifMatch: string | undefined,
  ctx: ChangeContext,
  caller: Caller | undefined,
): Promise<User> {
  const { store, resource } = deps;
  let changed: string[] = [];
  let revoke = false;
  let losesAdmin = false;
  let tokensRevoked = 0;
  return resource.change(username, changeRequest(ifMatch, ctx, caller), {
    fresh: { before: patch.roles?.includes('admin'), of: isAdmin },
    plan: async (current) => {
      const next: NewUserRecord = { ...current };
      changed = await patchFields(deps, patch, current, next);
      if (changed.length === 0) return undefined;
      next.updatedAt = resource.now();
      // Role changes too: session tokens carry the roles, so none may outlive a change of them.
      revoke =
        (next.disabled && !current.disabled) || changed.includes('verifyType') || changed.includes('roles');
      // In the same write: tokens the OP issued before this instant die with the sessions (docs/security.md OP6).
      if (revoke) next.sessionsRevokedAt = next.updatedAt;
      const becomesAdmin = isAdmin(next) && !isAdmin(current);
      losesAdmin = isAdmin(current) && !current.disabled && (!isAdmin(next) || next.disabled);
      return { next, audit: { event: 'updated', changedFields: changed, securityRelevant: becomesAdmin } };
    },
    write: (next, current) =>
      guardUserChange(deps, current, next, async () => {
        // An admin who stops being one (demoted or disabled) loses the API tokens made on their
        // behalf, before the change is saved: should the save fail, they are gone all the same.
        if (losesAdmin && deps.adminTokens)
          tokensRevoked = await deps.adminTokens.revokeOwnedBy(current.username, current.createdAt);
        const emailChanged = changed.includes('email');
        const becomesAdmin = isAdmin(next) && !isAdmin(current);
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
        if (isAdmin(current) && !isAdmin(next)) await store.removeAdmin(next.username);
        if (current.entraBinding && !next.entraBinding) {
          const b = current.entraBinding;
          await store.releaseBinding(b.tenantId, b.objectId, next.username);
        }
        return saved;
      }),
    written: async (stored) => ({
      sessionsRevoked: revoke ? await deps.sessions.revokeAllForUser(stored.username) : 0,
      ...(losesAdmin ? { adminTokensRevoked: tokensRevoked } : {}),
    }),
  });
}

/** Applies the patch's fields that differ from `current` to `next`; answers their names. */
async function patchFields(
  deps: UserOperationDeps,
  patch: PatchUserInput,
  current: UserRecord,
  next: NewUserRecord,
): Promise<string[]> {
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
  return changed;
}
