/**
 * What an /api/oidc request must pass before the provider may write anything for it
 * (docs/security.md OP15, RL1):
 *
 * - parameters are size-capped before anything is stored (a parameter ends up in an interaction or
 *   a pushed request's row, and a Table property holds at most 32 K characters);
 * - only the response modes the broker documents (`query`, `form_post`);
 * - shared-store limits, by slot rows (shared/limits/slots.ts): authorization, pushed authorization
 *   and end-session requests per client address (each may write a row: an interaction, a pushed
 *   request, the logout's state), token requests per client and address. A slot is one conditional
 *   insert, taken while the provider makes its first reads; the request's writes wait for it (see
 *   `OidcTableStore.gate`), so a refused request costs no write and no extra round trip.
 */
import type { Slot, SlotLimiter } from '../limits/slots.ts';
import { addressBucket, type RatePolicy } from '../limits/throttle.ts';

/** Authorizations (GET/POST `auth`) per client address. */
export const OIDC_AUTHORIZE_LIMIT: RatePolicy = { limit: 120, windowMs: 10 * 60_000 };
/** Pushed authorization requests per client address. */
export const OIDC_PAR_LIMIT: RatePolicy = { limit: 60, windowMs: 10 * 60_000 };
/** End-session requests per client address (the library keeps the logout's state in the OP session row). */
export const OIDC_LOGOUT_LIMIT: RatePolicy = { limit: 120, windowMs: 10 * 60_000 };
/**
 * Token requests per client and client address (a public client's id is anyone's: never per client
 * alone, or anyone could spend a public client's budget): with client authentication (a confidential
 * backend, many users behind one address), and without (a public client: one browser each).
 */
export const OIDC_TOKEN_LIMIT: RatePolicy = { limit: 1200, windowMs: 60_000 };
export const OIDC_PUBLIC_TOKEN_LIMIT: RatePolicy = { limit: 120, windowMs: 60_000 };

/** Largest parameter value (characters); JWT-valued parameters get more room. */
export const MAX_PARAMETER_CHARS = 4096;
export const MAX_JWT_PARAMETER_CHARS = 8192;
const JWT_PARAMETERS = new Set(['request', 'id_token_hint', 'client_assertion', 'logout_token']);
/** All parameters of a request together (characters): the row they end up in stays far below 32 K. */
export const MAX_PARAMETERS_CHARS = 16_384;
const MAX_PARAMETERS = 64;

export const RESPONSE_MODES = ['query', 'form_post'] as const;

/**
 * The route the library matches for `path` (below the mount): it compares letters in any case and
 * ignores one trailing slash, so every limit and check here must as well, or `TOKEN` would be a
 * token request without the token limit. The uid of `auth/{uid}` stays as written.
 */
export function routeOf(path: string): string {
  const trimmed = path.endsWith('/') ? path.slice(0, -1) : path;
  const folded = trimmed.replace(/[A-Z]/g, (c) => c.toLowerCase());
  return folded.startsWith('auth/') ? `auth/${trimmed.slice('auth/'.length)}` : folded;
}

/**
 * Routes a browser is sent to (the authorization, its login step, the end session): they answer with
 * pages, every other route with OAuth JSON.
 */
export function isBrowserRoute(path: string): boolean {
  return (
    path === 'auth' ||
    path.startsWith('auth/') ||
    path === 'interaction' ||
    path.startsWith('interaction/') ||
    path.startsWith('session/end')
  );
}

export type GateRefusal = { error: 'invalid_request'; description: string };

/** The parameters of a request: its query, and a form body. */
function parametersOf(url: string, contentType: string, body: Buffer): URLSearchParams[] {
  const out = [new URL(url).searchParams];
  if (body.length > 0 && contentType.startsWith('application/x-www-form-urlencoded'))
    out.push(new URLSearchParams(body.toString('utf8')));
  return out;
}

/** Size caps and response modes; undefined when the request may go on. */
export function checkParameters(
  path: string,
  url: string,
  contentType: string,
  body: Buffer,
): GateRefusal | undefined {
  let total = 0;
  let count = 0;
  for (const params of parametersOf(url, contentType, body)) {
    for (const [name, value] of params) {
      count++;
      total += name.length + value.length;
      const max = JWT_PARAMETERS.has(name) ? MAX_JWT_PARAMETER_CHARS : MAX_PARAMETER_CHARS;
      if (name.length > 64 || value.length > max)
        return { error: 'invalid_request', description: 'a parameter is too long' };
      if (
        name === 'response_mode' &&
        (path === 'auth' || path === 'request') &&
        !(RESPONSE_MODES as readonly string[]).includes(value)
      )
        return { error: 'invalid_request', description: 'unsupported response_mode' };
    }
  }
  if (total > MAX_PARAMETERS_CHARS || count > MAX_PARAMETERS)
    return { error: 'invalid_request', description: 'the parameters are too long' };
  return undefined;
}

/** The client a token request names (Basic authentication or `client_id`), and whether it authenticates. */
export function tokenClient(
  headers: Headers,
  contentType: string,
  body: Buffer,
): { id: string; authenticates: boolean } {
  const auth = headers.get('authorization') ?? '';
  const basic = /^Basic ([A-Za-z0-9+/=]{1,1024})$/i.exec(auth.trim());
  if (basic?.[1]) {
    const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
    const id = decoded.slice(0, Math.max(0, decoded.indexOf(':')));
    try {
      return { id: decodeURIComponent(id).slice(0, 128), authenticates: true };
    } catch {
      return { id: id.slice(0, 128), authenticates: true };
    }
  }
  if (!contentType.startsWith('application/x-www-form-urlencoded')) return { id: '', authenticates: false };
  const form = new URLSearchParams(body.toString('utf8'));
  return {
    id: (form.get('client_id') ?? '').slice(0, 128),
    authenticates: form.has('client_secret') || form.has('client_assertion'),
  };
}

/** Takes the route's slot, when it has a limit; undefined for routes without one. */
export function takeSlot(
  slots: Pick<SlotLimiter, 'take'>,
  request: { method: string; headers: Headers; clientAddress: string },
  path: string,
  contentType: string,
  body: Buffer,
): Promise<Slot> | undefined {
  const address = addressBucket(request.clientAddress);
  if (path === 'auth' && (request.method === 'GET' || request.method === 'POST'))
    return slots.take('oidc-auth', address, OIDC_AUTHORIZE_LIMIT);
  if (path === 'request' && request.method === 'POST') return slots.take('oidc-par', address, OIDC_PAR_LIMIT);
  if (path === 'session/end' || path === 'session/end/confirm')
    return slots.take('oidc-logout', address, OIDC_LOGOUT_LIMIT);
  if (path === 'token' && request.method === 'POST') {
    const client = tokenClient(request.headers, contentType, body);
    return client.authenticates
      ? slots.take('oidc-token', `${client.id}\n${address}`, OIDC_TOKEN_LIMIT)
      : slots.take('oidc-public-token', `${client.id}\n${address}`, OIDC_PUBLIC_TOKEN_LIMIT);
  }
  return undefined;
}
