/**
 * A grant lives as long as the broker session it was made in: the login step records which session
 * that was (OidcStore model `GrantSession`, keyed by the grant id), and findAccount refuses the
 * grant's tokens once that session ended (logout, idle or absolute end).
 */
import type { ActiveSession, SessionService } from '../sessions/service.ts';
import { TTL } from './provider.ts';
import { type OidcTableStore, requestCached } from './store.ts';

/** OidcStore model: grant id → the broker session it was made in. */
export const GRANT_SESSION_MODEL = 'GrantSession';

/** Records the broker session a grant is made in (written beside the grant, for as long). */
export function saveGrantSession(
  store: OidcTableStore,
  grantId: string,
  session: ActiveSession,
): Promise<void> {
  return store
    .adapterFor(GRANT_SESSION_MODEL)
    .upsert(grantId, { u: session.username, s: session.sessionId }, TTL.Grant);
}

/** Whether a grant's broker session still lives. Grants made before this was recorded have no row: alive. */
export async function grantSessionLive(
  store: OidcTableStore,
  sessions: Pick<SessionService, 'isLive'>,
  grantId: string,
): Promise<boolean> {
  const row = (await store.adapterFor(GRANT_SESSION_MODEL).find(grantId)) as
    | { u?: unknown; s?: unknown }
    | undefined;
  if (!row || typeof row.u !== 'string' || typeof row.s !== 'string') return true;
  return sessionLive(sessions, row.u, row.s);
}

/** Whether a broker session lives, read at most once per request (a read ahead lands here too). */
export function sessionLive(
  sessions: Pick<SessionService, 'isLive'>,
  username: string,
  sessionId: string,
): Promise<boolean> {
  return requestCached(`live:${username}\n${sessionId}`, () => sessions.isLive(username, sessionId));
}
