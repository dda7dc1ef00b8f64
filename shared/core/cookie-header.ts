/** A request's Cookie header read as name → value, for the web layer and for the OpenID Provider. */

/** Every cookie of a Cookie header, by name (first occurrence wins; `__Host-` cookies cannot be shadowed by Domain cookies). */
export function parseCookieHeader(header: string | null | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    if (!out.has(name)) out.set(name, part.slice(eq + 1).trim());
  }
  return out;
}
