import { isoNow, requireRecord } from './current.ts';
import type { ChangeContext, UserServiceDeps } from './ports.ts';

/** Ends every session of the user now (docs/security.md SC4 "revoke all"); returns how many there were. Audited. */
export async function revokeSessions(
  deps: UserServiceDeps,
  username: string,
  ctx: ChangeContext,
): Promise<number> {
  const current = await requireRecord(deps.store, username);
  // One column merge (no etag: it only ever moves forward); the OP refuses older tokens (docs/security.md OP6).
  await deps.store.merge(current.username, { sessionsRevokedAt: isoNow(deps.clock) });
  const revoked = await deps.sessions.revokeAllForUser(current.username);
  await deps.audit.record({
    type: 'admin.user.sessions_revoked',
    actor: ctx.actor,
    target: `user:${current.username}`,
    correlationId: ctx.correlationId,
    clientAddress: ctx.clientAddress,
    details: { sessionsRevoked: revoked },
  });
  return revoked;
}

/** Records a successful sign-in (lastLoginAt; no etag: it only ever moves forward). */
export async function recordLogin(deps: UserServiceDeps, username: string): Promise<void> {
  await deps.store.merge(username.toLowerCase(), { lastLoginAt: isoNow(deps.clock) });
}
