/**
 * Logout requests sent as form posts (RP-Initiated Logout 1.0 §2: the OP supports GET and POST at its
 * end-session endpoint). oidc-provider only takes POST there when its cookies are SameSite=None; the
 * broker's are Lax (docs/security.md OP9). Unlike a posted authorization (post-authorization.ts), a
 * posted logout cannot be handed to the provider as a GET within the same request: an application's
 * page posts it cross-site, so it carries no Lax cookie, and the provider would not find the OP
 * session it is asked to end. The post is answered with 303 See Other to the same endpoint, its form
 * fields as the query: the browser's top-level GET carries the Lax cookies and the usual logout runs.
 */
import { MAX_PARAMETERS_CHARS } from './gate.ts';
import type { OidcRequest } from './request.ts';

export type PostedLogout = { location: string } | { refused: string };

/**
 * Where a posted logout is sent on (`endpoint`, its form as the query), a refusal when it is not a
 * form or its query would be too long, or undefined when `rc` is not a posted logout.
 */
export function postedLogout(
  rc: OidcRequest,
  path: string,
  body: Buffer,
  endpoint: string,
): PostedLogout | undefined {
  if (path !== 'session/end' || rc.method !== 'POST') return undefined;
  const contentType = rc.headers.get('content-type') ?? '';
  if (body.length > 0 && !contentType.startsWith('application/x-www-form-urlencoded'))
    return { refused: 'a logout request is posted as a form' };
  // The parameters' caps (gate.ts) have been checked; this one is the query's once escaped again,
  // which is what the Location header carries.
  // Parameters in the posted URL's own query go along with the form's (the library refuses a
  // parameter given twice, as it would on the GET).
  const params = new URL(rc.url).searchParams;
  for (const [name, value] of new URLSearchParams(body.toString('utf8'))) params.append(name, value);
  const query = params.toString();
  if (query.length > MAX_PARAMETERS_CHARS) return { refused: 'the parameters are too long' };
  return { location: query ? `${endpoint}?${query}` : endpoint };
}
