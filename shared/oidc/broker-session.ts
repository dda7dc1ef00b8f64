/**
 * The broker session and the OP session as the OpenID Provider reads them from a request's cookies.
 * The broker session is the single source of sign-in: the login step finishes an interaction with it,
 * and an application's sign-out ends it.
 */
import { parseCookieHeader } from '../core/cookie-header.ts';
import {
  type ActiveSession,
  type CookieToSet,
  ENDED_SESSION_COOKIE,
  SESSION_COOKIE,
  SessionRejectedError,
  type SessionService,
} from '../sessions/service.ts';

/** The OP session cookie (oidc-provider's default name, `cookies.names.session`). */
export const OP_SESSION_COOKIE = '_session';

/** One cookie of the request (the first one of that name). */
export function cookieOf(headers: Headers, name: string): string | undefined {
  return parseCookieHeader(headers.get('cookie')).get(name);
}

/** The broker session's token, unverified (a hint for reading ahead, never a proof). */
export function brokerSessionToken(headers: Headers): string | undefined {
  return cookieOf(headers, SESSION_COOKIE);
}

/**
 * The request's live broker session, or undefined when it has none (missing, invalid, expired,
 * revoked). `onVerified` gets the username once the token verified, before the session row is read.
 */
export function brokerSession(
  sessions: SessionService,
  headers: Headers,
  onVerified?: (username: string) => void,
): Promise<ActiveSession | undefined> {
  return sessions
    .authenticate(brokerSessionToken(headers), onVerified ? { onVerified } : {})
    .catch((err: unknown) => {
      if (err instanceof SessionRejectedError) return undefined;
      throw err;
    });
}

/** Ends the request's broker session, if it has one that lives: its row is revoked and its cookie expired. */
export async function endBrokerSession(sessions: SessionService, headers: Headers): Promise<CookieToSet> {
  const session = await brokerSession(sessions, headers);
  if (session) await sessions.revoke(session);
  return ENDED_SESSION_COOKIE;
}
