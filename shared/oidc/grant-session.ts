/**
 * A grant lives as long as the broker session it was made in: the login step records which session
 * that was on the grant's own row (`OidcTableStore.bindGrantSession`, written by the grant's save),
 * and findAccount refuses the grant's tokens once that session ended (logout, idle or absolute end).
 * A grant whose row names no session is not alive (docs/security.md OP10): a grant is only ever made by
 * the login step, which always names one, so a missing record can only be a lost or foreign write.
 */
import type { ActiveSession, SessionService } from '../sessions/service.ts';
import type { OidcTableStore } from './store.ts';

/** Records, on the grant's row, the broker session the grant is made in (before the grant is saved). */
export function bindGrantSession(store: OidcTableStore, grantId: string, session: ActiveSession): void {
  store.bindGrantSession(grantId, { u: session.username, s: session.sessionId });
}

/** Whether a grant's broker session still lives; false when the grant's row names none. */
export async function grantSessionLive(
  store: OidcTableStore,
  sessions: Pick<SessionService, 'isLive'>,
  grantId: string,
): Promise<boolean> {
  const bound = await store.grantSession(grantId);
  if (!bound) return false;
  return sessions.isLive(bound.u, bound.s);
}
