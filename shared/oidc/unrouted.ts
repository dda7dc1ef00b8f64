/**
 * A request no route of oidc-provider serves: the library leaves it to Koa, whose answer is a bare
 * text/plain "Not Found" that neither an application nor a user can read. The broker answers it
 * instead (service.ts draws it: the error page at a browser route, OAuth JSON elsewhere): a method an
 * API endpoint does not take is 405 with the methods it does take (RFC 9110 §15.5.6), anything else
 * 404.
 */

/**
 * The methods each API endpoint answers, as provider.ts configures the library: GET, POST and
 * OPTIONS, the only ones the Functions route passes on (OPTIONS: the library's CORS preflight).
 * Browser routes are not listed: a browser is shown a page, never told a method.
 */
const API_ENDPOINTS: ReadonlyMap<string, readonly string[]> = new Map([
  ['.well-known/openid-configuration', ['GET', 'OPTIONS']],
  ['.well-known/oauth-authorization-server', ['GET', 'OPTIONS']],
  ['jwks', ['GET', 'OPTIONS']],
  ['me', ['GET', 'OPTIONS', 'POST']],
  ['request', ['OPTIONS', 'POST']],
  ['token', ['OPTIONS', 'POST']],
  ['token/revocation', ['OPTIONS', 'POST']],
]);

export type Unrouted = { status: 404 } | { status: 405; allow: readonly string[] };

/** How to answer `method` at `route` (gate.ts `routeOf`) when the library has no route for it. */
export function unrouted(route: string, method: string): Unrouted {
  const allow = API_ENDPOINTS.get(route);
  return allow && !allow.includes(method) ? { status: 405, allow } : { status: 404 };
}
