import { isoTime } from '../admin/versioned-resource.ts';
import { requireRecord } from './current.ts';
import type { ChangeContext, UserServiceDeps } from './ports.ts';
import { changeRequest, type UserOperationDeps } from './resource.ts';

/** Ends every session of the user now (docs/security.md SC4 "revoke all"); returns how many there were. Audited. */
export async function revokeSessions(
  deps: UserOperationDeps,
  username: string,
  ctx: ChangeContext,
): Promise<number> {
  const current = await requireRecord(deps.store, username);
  // One column merge (no etag: it only ever moves forward); the OP refuses older tokens (docs/security.md OP6).
  await deps.store.merge(current.username, { sessionsRevokedAt: deps.resource.now() });
  const revoked = await deps.sessions.revokeAllForUser(current.username);
  await deps.resource.record(current, changeRequest(undefined, ctx), {
    event: 'sessions_revoked',
    details: { sessionsRevoked: revoked },
  });
  return revoked;
}

/** Records a successful sign-in (lastLoginAt; no etag: it only ever moves forward). */
export async function recordLogin(deps: UserServiceDeps, username: string): Promise<void> {
  await deps.store.merge(username.toLowerCase(), { lastLoginAt: isoTime(deps.clock.now()) });
}
