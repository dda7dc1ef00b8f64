/**
 * Cookies as the web layer reads and sets them. Every cookie the broker sets is a `__Host-` cookie:
 * Secure, HttpOnly, SameSite=Lax, Path=/ and no Domain (docs/security.md SC2), so services only say
 * its name, value and lifetime (`CookieToSet`).
 */
import type { Cookie, HttpRequest } from '@azure/functions';
import { parseCookieHeader } from '../core/cookie-header.ts';
import { type CookieToSet, SESSION_COOKIE } from '../sessions/service.ts';

/** Every cookie of the request's Cookie header, by name (see parseCookieHeader). */
export function readCookies(request: Pick<HttpRequest, 'headers'>): Map<string, string> {
  return parseCookieHeader(request.headers.get('cookie'));
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

/** The same attributes as when it was set, expired (docs/security.md LO1). */
export function expiredCookie(name: string): Cookie {
  return { ...hostCookie(name, '', 0), expires: 0 };
}

/** A service's cookie as the response sets it; one with no lifetime left is expired. */
export function toCookie(cookie: CookieToSet): Cookie {
  if (cookie.maxAgeSeconds === 0 && cookie.value === '') return expiredCookie(cookie.name);
  return hostCookie(cookie.name, cookie.value, cookie.maxAgeSeconds);
}
