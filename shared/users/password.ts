import type { Caller } from '../admin/caller.ts';
import { NotFoundError, PreconditionFailedError, ValidationError } from '../core/errors.ts';
import { hashPassword, validatePasswordPolicy } from '../passwords/index.ts';
import { guardUserChange } from './lockout.ts';
import type { ChangeContext } from './ports.ts';
import { changeRequest, isAdmin, type UserOperationDeps } from './resource.ts';
import type { UserStore } from './store.ts';

/** The hash of a password that meets the policy; 400 naming `password` otherwise. */
export async function hashChecked(password: string, username: string): Promise<string> {
  const problems = validatePasswordPolicy(password, { username });
  if (problems.length > 0) {
    throw new ValidationError(problems.map((message) => ({ field: 'password', message })));
  }
  return hashPassword(password);
}

/**
 * Sets (or replaces) the user's password; replacing one revokes their sessions. Returns the new etag.
 * Setting anyone's password takes the account over, so it always needs a recent sign-in
 * (docs/security.md AD5).
 */
export async function setPassword(
  deps: UserOperationDeps,
  username: string,
  password: string,
  ifMatch: string | undefined,
  ctx: ChangeContext,
  caller?: Caller,
): Promise<string> {
  const saved = await deps.resource.changeRow(username, changeRequest(ifMatch, ctx, caller), {
    fresh: { before: true },
    plan: async (current) => {
      const passwordHash = await hashChecked(password, current.username);
      const at = deps.resource.now();
      const { etag: _etag, ...row } = current;
      return {
        next: {
          ...row,
          passwordHash,
          updatedAt: at,
          sessionsRevokedAt: current.passwordHash ? at : current.sessionsRevokedAt,
        },
        audit: {
          event: 'password_set',
          changedFields: ['password'],
          details: { replaced: current.passwordHash !== null },
        },
      };
    },
    written: async (_stored, current) => ({
      sessionsRevoked: current.passwordHash ? await deps.sessions.revokeAllForUser(current.username) : 0,
    }),
  });
  return saved.etag;
}

/** Removes the user's password (no-op without one) and revokes their sessions. Returns the etag. */
export async function removePassword(
  deps: UserOperationDeps,
  username: string,
  ifMatch: string | undefined,
  ctx: ChangeContext,
  caller?: Caller,
): Promise<string> {
  const saved = await deps.resource.changeRow(username, changeRequest(ifMatch, ctx, caller), {
    fresh: { of: isAdmin },
    plan: (current) => {
      if (!current.passwordHash) return undefined;
      const at = deps.resource.now();
      const { etag: _etag, ...row } = current;
      return {
        next: { ...row, passwordHash: null, updatedAt: at, sessionsRevokedAt: at },
        audit: { event: 'password_removed', changedFields: ['password'] },
      };
    },
    write: (next, current) =>
      guardUserChange(deps, current, next, () => deps.store.replace(next, current.etag)),
    written: async (_stored, current) => ({
      sessionsRevoked: await deps.sessions.revokeAllForUser(current.username),
    }),
  });
  return saved.etag;
}

/**
 * Stores a new hash of the same password (rehash on sign-in). Pass the etag read before verifying,
 * so a password an admin changed meanwhile is never overwritten; then answers false on a conflict.
 */
export async function setPasswordHash(
  store: UserStore,
  username: string,
  phc: string,
  etag?: string,
): Promise<boolean> {
  try {
    await store.merge(username.toLowerCase(), { passwordHash: phc }, etag);
    return true;
  } catch (err) {
    if (err instanceof PreconditionFailedError || err instanceof NotFoundError) return false;
    throw err;
  }
}
