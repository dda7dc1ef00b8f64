/**
 * The bridge between Azure Functions and a Node request handler (oidc-provider's `callback()`):
 * a Functions `HttpRequest` becomes an `IncomingMessage` (method, path below the mount, headers,
 * body as a readable stream) and what the handler writes to its `ServerResponse` becomes an
 * `HttpResponseInit` (status, headers, every Set-Cookie as a `cookies` entry, body).
 *
 * Host and protocol are the configured public base URL's (BROKER_PUBLIC_BASE_URL), never the
 * request's Host or X-Forwarded-* headers, so every URL the provider builds is the issuer's.
 * Every cookie goes out `Secure` (OP9), whatever the local transport.
 */
import { IncomingMessage, type OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import type { Cookie, HttpRequest, HttpResponseInit } from '@azure/functions';

export type NodeHandler = (req: IncomingMessage, res: ServerResponse) => unknown;

export interface BridgeTarget {
  /** Public base URL (protocol + host) the provider must see. */
  publicBaseUrl: URL;
  /** Path prefix the handler is mounted under, e.g. `/api/oidc`. */
  mountPath: string;
}

/** A Node request for `request`, its body already read (`body`). */
export function toNodeRequest(
  request: Pick<HttpRequest, 'method' | 'url' | 'headers'>,
  body: Buffer,
  target: BridgeTarget,
): IncomingMessage {
  const url = new URL(request.url);
  const socket = new Socket();
  // Koa derives the protocol from the socket (no proxy trust): https when the public URL is.
  Object.defineProperty(socket, 'encrypted', { value: target.publicBaseUrl.protocol === 'https:' });
  const req = new IncomingMessage(socket);
  req.method = request.method;
  const full = `${url.pathname}${url.search}`;
  const below = full.startsWith(target.mountPath) ? full.slice(target.mountPath.length) : full;
  req.url = below.startsWith('/') ? below : `/${below}`;
  (req as IncomingMessage & { originalUrl: string }).originalUrl = full;
  const headers: Record<string, string> = {};
  request.headers.forEach((value, key) => {
    const k = key.toLowerCase();
    if (k === 'host' || k.startsWith('x-forwarded-') || k === 'forwarded') return;
    headers[k] = value;
  });
  headers.host = target.publicBaseUrl.host;
  if (body.length > 0) headers['content-length'] = String(body.length);
  else delete headers['content-length'];
  req.headers = headers;
  req.rawHeaders = Object.entries(headers).flat();
  req.httpVersion = '1.1';
  req.httpVersionMajor = 1;
  req.httpVersionMinor = 1;
  if (body.length > 0) req.push(body);
  req.push(null);
  return req;
}

/** A ServerResponse that collects what is written; `done` resolves at `end()`. */
export function captureResponse(req: IncomingMessage): { res: ServerResponse; done: Promise<Buffer> } {
  const res = new ServerResponse(req);
  const chunks: Buffer[] = [];
  let resolve!: (b: Buffer) => void;
  const done = new Promise<Buffer>((r) => {
    resolve = r;
  });
  const toBuffer = (chunk: unknown, encoding?: unknown): Buffer | undefined => {
    if (chunk === undefined || chunk === null || typeof chunk === 'function') return undefined;
    if (Buffer.isBuffer(chunk)) return chunk;
    if (chunk instanceof Uint8Array) return Buffer.from(chunk);
    return Buffer.from(String(chunk), typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  };
  res.write = ((chunk: unknown, encoding?: unknown, cb?: unknown) => {
    const b = toBuffer(chunk, encoding);
    if (b) chunks.push(b);
    const callback = typeof encoding === 'function' ? encoding : cb;
    if (typeof callback === 'function') queueMicrotask(callback as () => void);
    return true;
  }) as ServerResponse['write'];
  res.end = ((chunk?: unknown, encoding?: unknown, cb?: unknown) => {
    const b = toBuffer(chunk, encoding);
    if (b) chunks.push(b);
    (res as { finished: boolean }).finished = true;
    const callback = typeof chunk === 'function' ? chunk : typeof encoding === 'function' ? encoding : cb;
    if (typeof callback === 'function') queueMicrotask(callback as () => void);
    resolve(Buffer.concat(chunks));
    res.emit('finish');
    return res;
  }) as ServerResponse['end'];
  return { res, done };
}

const SAME_SITE: Record<string, Cookie['sameSite']> = { lax: 'Lax', strict: 'Strict', none: 'None' };

/** One Set-Cookie header as a Functions cookie; `Secure` always (OP9). */
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

/** The collected response as an HttpResponseInit. */
export function toResponseInit(res: ServerResponse, body: Buffer): HttpResponseInit {
  const raw: OutgoingHttpHeaders = res.getHeaders();
  const headers: Record<string, string> = {};
  const cookies: Cookie[] = [];
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    if (name === 'set-cookie') {
      for (const line of Array.isArray(value) ? value : [String(value)]) {
        const c = parseSetCookie(line);
        if (c) cookies.push(c);
      }
      continue;
    }
    if (name === 'content-length') continue;
    headers[name] = Array.isArray(value) ? value.join(', ') : String(value);
  }
  return {
    status: res.statusCode,
    headers,
    ...(cookies.length ? { cookies } : {}),
    ...(body.length > 0 ? { body } : {}),
  };
}

/** Runs `handler` for `request` and returns its answer. */
export async function bridge(
  handler: NodeHandler,
  request: Pick<HttpRequest, 'method' | 'url' | 'headers'>,
  body: Buffer,
  target: BridgeTarget,
  decorate?: (req: IncomingMessage) => void,
): Promise<HttpResponseInit> {
  const req = toNodeRequest(request, body, target);
  decorate?.(req);
  const { res, done } = captureResponse(req);
  await handler(req, res);
  const out = await done;
  return toResponseInit(res, out);
}
