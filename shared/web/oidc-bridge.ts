/**
 * The bridge between Azure Functions and the OpenID Provider: a Functions `HttpRequest` becomes the
 * OP's plain request (method, URL, headers, the body read on demand within a size limit), and the
 * OP's answer becomes an `HttpResponseInit` (every Set-Cookie line the provider wrote as a `cookies`
 * entry, next to the broker session's cookies).
 *
 * Every cookie the provider sets goes out `Secure` (docs/security.md OP9), whatever the local transport.
 */
import type { Cookie, HttpRequest, HttpResponseInit } from '@azure/functions';
import { PayloadTooLargeError } from '../core/errors.ts';
import type { OidcAnswer, OidcRequest } from '../oidc/request.ts';
import type { OidcService } from '../oidc/service.ts';
import { toCookie } from './cookies.ts';

/** The largest request body the OP accepts (its forms and token requests are far smaller). */
const MAX_BODY = 64 * 1024;

async function readBody(request: HttpRequest): Promise<Buffer> {
  if (request.method === 'GET' || request.method === 'HEAD' || request.method === 'OPTIONS')
    return Buffer.alloc(0);
  const buf = Buffer.from(await request.arrayBuffer());
  if (buf.length > MAX_BODY) throw new PayloadTooLargeError(MAX_BODY);
  return buf;
}

/** The OP's view of a Functions request. */
export function toOidcRequest(
  request: HttpRequest,
  rc: { correlationId: string; clientAddress: string },
): OidcRequest {
  return {
    method: request.method,
    url: request.url,
    headers: request.headers,
    body: () => readBody(request),
    correlationId: rc.correlationId,
    clientAddress: rc.clientAddress,
  };
}

const SAME_SITE: Record<string, Cookie['sameSite']> = { lax: 'Lax', strict: 'Strict', none: 'None' };

/** One Set-Cookie header as a Functions cookie; `Secure` always (docs/security.md OP9). */
export function parseSetCookie(line: string): Cookie | undefined {
  const [pair = '', ...attrs] = line.split(';');
  const eq = pair.indexOf('=');
  if (eq <= 0) return undefined;
  const cookie: Cookie = { name: pair.slice(0, eq).trim(), value: pair.slice(eq + 1).trim(), secure: true };
  for (const attr of attrs) {
    const i = attr.indexOf('=');
    const key = (i < 0 ? attr : attr.slice(0, i)).trim().toLowerCase();
    const value = i < 0 ? '' : attr.slice(i + 1).trim();
    if (key === 'path') cookie.path = value;
    else if (key === 'domain') cookie.domain = value;
    else if (key === 'expires') cookie.expires = new Date(value);
    else if (key === 'max-age') cookie.maxAge = Number(value);
    else if (key === 'httponly') cookie.httpOnly = true;
    else if (key === 'samesite') {
      const s = SAME_SITE[value.toLowerCase()];
      if (s) cookie.sameSite = s;
    }
  }
  return cookie;
}

/** The OP's answer as an HttpResponseInit: the provider's cookies first, then the broker session's. */
export function toResponseInit(answer: OidcAnswer): HttpResponseInit {
  const cookies: Cookie[] = [];
  for (const line of answer.setCookies ?? []) {
    const c = parseSetCookie(line);
    if (c) cookies.push(c);
  }
  cookies.push(...(answer.cookies ?? []).map(toCookie));
  return {
    status: answer.status,
    headers: answer.headers,
    ...(cookies.length ? { cookies } : {}),
    ...(answer.body !== undefined ? { body: answer.body } : {}),
  };
}

/** Serves one /api/oidc/{path} request. */
export async function serveOidc(
  oidc: OidcService,
  request: HttpRequest,
  rc: { correlationId: string; clientAddress: string },
  path: string,
): Promise<HttpResponseInit> {
  return toResponseInit(await oidc.handle(toOidcRequest(request, rc), path));
}
