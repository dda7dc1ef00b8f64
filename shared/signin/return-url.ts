/**
 * Return URLs (docs/security.md RU1/RU2): a relative path with exactly one leading "/", or an https URL
 * whose origin is in `allowedReturnOrigins`. Anything else falls back to the default page. The same
 * check runs for post-login, post-logout and error redirects.
 */

const MAX_LENGTH = 2048;
// C0 controls, DEL, and whitespace that browsers strip or reinterpret.
const UNSAFE_CHARS = /[\u0000-\u0020\u007f-\u009f\\]/;

/** Returns a safe return URL, or undefined when `raw` is not acceptable. */
export function safeReturnUrl(
  raw: string | null | undefined,
  allowedOrigins: readonly string[],
  brokerOrigin: string,
): string | undefined {
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > MAX_LENGTH) return undefined;
  if (UNSAFE_CHARS.test(raw)) return undefined;
  if (raw.startsWith('/')) {
    // "//host" and "/\host" are protocol-relative to browsers.
    if (raw.startsWith('//')) return undefined;
    let resolved: URL;
    try {
      resolved = new URL(raw, brokerOrigin);
    } catch {
      return undefined;
    }
    if (resolved.origin !== new URL(brokerOrigin).origin) return undefined;
    const path = `${resolved.pathname}${resolved.search}${resolved.hash}`;
    // Dot segments can collapse into "//host" ("/..//evil.example"): never hand that to a browser.
    return path.startsWith('//') ? undefined : path;
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'https:') return undefined;
  if (url.username !== '' || url.password !== '') return undefined;
  // The raw text must itself start with the origin: rejects tricks the parser normalises away.
  if (!raw.toLowerCase().startsWith(`${url.origin.toLowerCase()}`)) return undefined;
  if (!allowedOrigins.includes(url.origin)) return undefined;
  return url.href;
}

/** Where to go after sign-in / sign-out when no acceptable return URL was given. */
export const DEFAULT_LANDING = '/api/auth/login';

/** The return URL when it is still acceptable, else the default landing page. */
export function landingUrl(
  returnTo: string | null,
  allowedOrigins: readonly string[],
  brokerOrigin: string,
): string {
  return (returnTo && safeReturnUrl(returnTo, allowedOrigins, brokerOrigin)) || DEFAULT_LANDING;
}
