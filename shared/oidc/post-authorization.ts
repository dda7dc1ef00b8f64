/**
 * Authorization requests sent as form posts (OIDC Core 3.1.2.1 allows GET and POST). oidc-provider
 * only takes POST at the authorization endpoint when its cookies are SameSite=None; the broker's
 * are Lax (docs/security.md OP9). A posted authorization is therefore handed to the provider as the
 * same request made with GET (its form fields as the query): the same checks, the same answer. A
 * cross-site post carries no Lax cookie, so such a request goes through the login step, whose
 * top-level GET does see the broker session.
 */
import type { OidcRequest } from './request.ts';

/** The largest posted authorization turned into a query (the bridge caps bodies at 64 KiB). */
const MAX_FORM = 16_384;

/** The GET form of a posted authorization request, or undefined when `rc` is not one. */
export function postedAuthorizationAsGet(
  rc: OidcRequest,
  path: string,
  body: Buffer,
): OidcRequest | undefined {
  if (path !== 'auth' || rc.method !== 'POST') return undefined;
  if (!String(rc.headers.get('content-type') ?? '').startsWith('application/x-www-form-urlencoded'))
    return undefined;
  if (body.length > MAX_FORM) return undefined;
  const url = new URL(rc.url);
  url.search = new URLSearchParams(body.toString('utf8')).toString();
  const headers = new Headers(rc.headers);
  headers.delete('content-type');
  headers.delete('content-length');
  return { ...rc, method: 'GET', url: url.href, headers, body: async () => Buffer.alloc(0) };
}
