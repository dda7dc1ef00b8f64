/**
 * One /api/oidc request as the OpenID Provider sees it, and its answer. Plain values, no web
 * framework types: the web layer (shared/web/oidc-bridge.ts) makes them from a Functions request and
 * turns the answer back into one.
 */
import type { ActiveSession, CookieToSet } from '../sessions/service.ts';
import type { BridgedRequest, OidcContext } from './provider.ts';

/** A cookie of the broker session, as the session service makes them. */
export type Cookie = CookieToSet;

export interface OidcRequest {
  method: string;
  /** The full request URL (its host is ignored: the provider sees the configured public one). */
  url: string;
  headers: Headers;
  /** The request body, read on demand (the login step never needs it; the provider reads it once). */
  body(): Promise<Buffer>;
  correlationId: string;
  clientAddress: string;
}

export interface OidcAnswer {
  status: number;
  headers: Record<string, string>;
  /** Set-Cookie lines as the provider wrote them. */
  setCookies?: string[];
  /** Cookies of the broker session: re-issued, or expired when an application signed the user out. */
  cookies?: Cookie[];
  body?: Buffer | string;
}

/** What the provider's hooks record while they serve one request. */
export interface RequestState {
  rc: OidcRequest;
  /** RP-initiated logout ended an OP session with a signed-in account: the broker session ends too. */
  endSession?: boolean;
  /** Audit events on their way; the request answers once they are written. */
  pending: Promise<unknown>[];
  /** A storage failure the provider met (it answers `server_error` itself; the service answers 503). */
  dependencyFailure?: unknown;
  /** Broker session cookies to send with the answer (a token re-issued while reading the session). */
  cookies?: Cookie[];
  /** No route of the library serves the request's path and method (unrouted.ts answers it). */
  unrouted?: boolean;
  /** The request's broker session, read from the start of an authorization request (sso.ts). */
  brokerSession?: Promise<ActiveSession | undefined>;
}

/** Attaches the request's state to the Node request the provider is given. */
export function attachState(req: BridgedRequest, state: RequestState): void {
  req.broker = state as unknown as Record<string, unknown>;
}

/** The state of the request a provider hook runs for (undefined outside a bridged request). */
export function stateOf(ctx: OidcContext): RequestState | undefined {
  return (ctx.req as BridgedRequest).broker as unknown as RequestState | undefined;
}
