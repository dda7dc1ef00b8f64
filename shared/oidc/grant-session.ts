/**
 * A grant lives as long as the broker session it was made in: the login step (or the SSO answer
 * inside `/auth`, sso.ts) records which session that was on the grant's own row
 * (`OidcTableStore.bindGrantSession`, written by the grant's save), and findAccount refuses the
 * grant's tokens once that session ended (logout, idle or absolute end).
 * A grant whose row names no session is not alive (docs/security.md OP10): a grant is only ever made by
 * the login step or the SSO answer, which always name one, so a missing record can only be a lost or
 * foreign write.
 */
import type { ActiveSession, SessionService } from '../sessions/service.ts';
import { type GrantBrokerSession, type OidcTableStore, requestCached } from './store.ts';

/** Records, on the grant's row, the broker session the grant is made in (before the grant is saved). */
export function bindGrantSession(store: OidcTableStore, grantId: string, session: ActiveSession): void {
  store.bindGrantSession(grantId, { u: session.username, s: session.sessionId });
}

/**
 * Moves an existing grant (not made in this request) to another broker session: a re-authentication
 * of the same user carries the OP session's other grants over (session-switch.ts).
 */
export function rebindGrantSession(
  store: OidcTableStore,
  grantId: string,
  session: ActiveSession,
): Promise<void> {
  return store.rebindGrantSession(grantId, { u: session.username, s: session.sessionId });
}

/** The broker session a grant's row names (undefined: none, which means not alive). */
export function boundSession(
  store: OidcTableStore,
  grantId: string,
): Promise<GrantBrokerSession | undefined> {
  return store.grantSession(grantId);
}

/** Whether a grant's broker session still lives; false when the grant's row names none. */
export async function grantSessionLive(
  store: OidcTableStore,
  sessions: Pick<SessionService, 'isLive'>,
  grantId: string,
): Promise<boolean> {
  const bound = await store.grantSession(grantId);
  if (!bound) return false;
  return sessionLive(sessions, bound.u, bound.s);
}

/** Whether a broker session lives, read at most once per request (a read ahead lands here too). */
export function sessionLive(
  sessions: Pick<SessionService, 'isLive'>,
  username: string,
  sessionId: string,
): Promise<boolean> {
  return requestCached(`live:${username}\n${sessionId}`, () => sessions.isLive(username, sessionId));
}
