/**
 * Cookies as the web layer reads and sets them. Every cookie the broker sets is a `__Host-` cookie:
 * Secure, HttpOnly, SameSite=Lax, Path=/ and no Domain (docs/security.md SC2), so services only say
 * its name, value and lifetime (`CookieToSet`).
 */
import type { Cookie, HttpRequest } from '@azure/functions';
import { type CookieToSet, SESSION_COOKIE } from '../sessions/service.ts';

/** Every cookie of a Cookie header, by name (first occurrence wins; `__Host-` cookies cannot be shadowed by Domain cookies). */
export function readCookies(request: Pick<HttpRequest, 'headers'>): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (request.headers.get('cookie') ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    if (!out.has(name)) out.set(name, part.slice(eq + 1).trim());
  }
  return out;
}

/** Reads one cookie from a Cookie header (see readCookies). */
export function readCookie(request: Pick<HttpRequest, 'headers'>, name: string): string | undefined {
  return readCookies(request).get(name);
}

/** The broker session cookie's value, for the session service to check. */
export function sessionCookie(request: Pick<HttpRequest, 'headers'>): string | undefined {
  return readCookie(request, SESSION_COOKIE);
}

export function hostCookie(name: string, value: string, maxAgeSeconds: number): Cookie {
  return { name, value, path: '/', secure: true, httpOnly: true, sameSite: 'Lax', maxAge: maxAgeSeconds };
}

/** A service's cookie as the response sets it. */
export function toCookie(cookie: CookieToSet): Cookie {
  return hostCookie(cookie.name, cookie.value, cookie.maxAgeSeconds);
}

/** The same attributes as when it was set, expired (LO1). */
export function expiredCookie(name: string): Cookie {
  return { ...hostCookie(name, '', 0), expires: 0 };
}
