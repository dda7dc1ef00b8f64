/**
 * Security headers of docs/security.md section J, applied to every response by `endpoint()`.
 */

export const API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

/**
 * CSP for server-rendered HTML pages: only our own nonce'd inline style/script; forms post to us, and
 * may be redirected on to the identity provider (`formTargets`: browsers apply form-action to the
 * redirect after a form post too).
 */
export function pageCsp(nonce: string, formTargets: readonly string[] = []): string {
  return [
    "default-src 'none'",
    `style-src 'nonce-${nonce}'`,
    `script-src 'nonce-${nonce}'`,
    "img-src 'self' data:",
    ["form-action 'self'", ...formTargets].join(' '),
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "object-src 'none'",
  ].join('; ');
}

export function securityHeaders(opts: { cacheable?: boolean; csp?: string } = {}): Record<string, string> {
  return {
    'Strict-Transport-Security': 'max-age=31536000; includeSubDomains',
    'Content-Security-Policy': opts.csp ?? API_CSP,
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'X-Frame-Options': 'DENY',
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Resource-Policy': 'same-origin',
    'Cache-Control': opts.cacheable ? 'public, max-age=300' : 'no-store',
    ...(opts.cacheable ? {} : { Pragma: 'no-cache' }),
  };
}
