/**
 * The broker session and the OP session as the OpenID Provider reads them from a request's cookies.
 * The broker session is the single source of sign-in: the login step finishes an interaction with it,
 * and an application's sign-out ends it.
 */
import {
  type ActiveSession,
  expiredCookie,
  readCookie,
  SESSION_COOKIE,
  SessionRejectedError,
  type SessionService,
} from '../sessions/service.ts';
import type { Cookie } from './request.ts';

/** The OP session cookie (oidc-provider's default name, `cookies.names.session`). */
export const OP_SESSION_COOKIE = '_session';

/** The session service reads a request's Cookie header only; a request is its headers to it. */
const cookieCarrier = (headers: Headers) => ({ headers }) as unknown as Parameters<typeof readCookie>[0];

/** One cookie of the request (the first one of that name). */
export function cookieOf(headers: Headers, name: string): string | undefined {
  return readCookie(cookieCarrier(headers), name);
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
    .authenticate(cookieCarrier(headers), onVerified ? { onVerified } : {})
    .catch((err: unknown) => {
      if (err instanceof SessionRejectedError) return undefined;
      throw err;
    });
}

/** Ends the request's broker session, if it has one that lives: its row is revoked and its cookie expired. */
export async function endBrokerSession(sessions: SessionService, headers: Headers): Promise<Cookie> {
  const session = await brokerSession(sessions, headers);
  if (session) await sessions.revoke(session);
  return expiredCookie(SESSION_COOKIE);
}
