import { NotFoundError, PreconditionFailedError, ValidationError } from '../core/errors.ts';
import { hashPassword, validatePasswordPolicy } from '../passwords/index.ts';
import { checkIfMatch, isoNow, requireRecord } from './current.ts';
import { guardUserChange } from './lockout.ts';
import type { ChangeContext, UserServiceDeps } from './ports.ts';
import type { NewUserRecord } from './records.ts';
import type { UserStore } from './store.ts';

/** The hash of a password that meets the policy; 400 naming `password` otherwise. */
export async function hashChecked(password: string, username: string): Promise<string> {
  const problems = validatePasswordPolicy(password, { username });
  if (problems.length > 0) {
    throw new ValidationError(problems.map((message) => ({ field: 'password', message })));
  }
  return hashPassword(password);
}

/** Sets (or replaces) the user's password; replacing one revokes their sessions. Returns the new etag. */
export async function setPassword(
  deps: UserServiceDeps,
  username: string,
  password: string,
  ifMatch: string | undefined,
  ctx: ChangeContext,
): Promise<string> {
  const current = await requireRecord(deps.store, username);
  checkIfMatch(ifMatch, current);
  const passwordHash = await hashChecked(password, current.username);
  const at = isoNow(deps.clock);
  const saved = await deps.store.replace(
    {
      ...current,
      passwordHash,
      updatedAt: at,
      sessionsRevokedAt: current.passwordHash ? at : current.sessionsRevokedAt,
    },
    current.etag,
  );
  const revoked = current.passwordHash ? await deps.sessions.revokeAllForUser(current.username) : 0;
  await deps.audit.record({
    type: 'admin.user.password_set',
    actor: ctx.actor,
    target: `user:${current.username}`,
    changedFields: ['password'],
    correlationId: ctx.correlationId,
    clientAddress: ctx.clientAddress,
    details: { replaced: current.passwordHash !== null, sessionsRevoked: revoked },
  });
  return saved.etag;
}

/** Removes the user's password (no-op without one) and revokes their sessions. Returns the etag. */
export async function removePassword(
  deps: UserServiceDeps,
  username: string,
  ifMatch: string | undefined,
  ctx: ChangeContext,
): Promise<string> {
  const current = await requireRecord(deps.store, username);
  checkIfMatch(ifMatch, current);
  if (!current.passwordHash) return current.etag;
  const at = isoNow(deps.clock);
  const next: NewUserRecord = { ...current, passwordHash: null, updatedAt: at, sessionsRevokedAt: at };
  const saved = await guardUserChange(deps, current, next, () => deps.store.replace(next, current.etag));
  const revoked = await deps.sessions.revokeAllForUser(current.username);
  await deps.audit.record({
    type: 'admin.user.password_removed',
    actor: ctx.actor,
    target: `user:${current.username}`,
    changedFields: ['password'],
    correlationId: ctx.correlationId,
    clientAddress: ctx.clientAddress,
    details: { sessionsRevoked: revoked },
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
