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

export type Unrouted = { status: 404 } | { status: 204 | 405; allow: readonly string[] };

/**
 * How to answer `method` at `route` (gate.ts `routeOf`) when the library has no route for it. A
 * method the endpoint takes that the library left unanswered is an OPTIONS that is no CORS
 * preflight (no Access-Control-Request-Method): 204 with the methods, as RFC 9110 §9.3.7 has it.
 */
export function unrouted(route: string, method: string): Unrouted {
  const allow = API_ENDPOINTS.get(route);
  if (!allow) return { status: 404 };
  return { status: allow.includes(method) ? 204 : 405, allow };
}
