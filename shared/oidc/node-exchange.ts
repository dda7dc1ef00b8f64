/**
 * oidc-provider is a Node request handler (`callback()`): a request of ours becomes an
 * `IncomingMessage` (method, path below the mount, headers, body as a readable stream) and what the
 * handler writes to its `ServerResponse` is collected into an answer (status, headers, Set-Cookie
 * lines, body).
 *
 * Host and protocol are the configured public base URL's (BROKER_PUBLIC_BASE_URL), never the
 * request's Host or X-Forwarded-* headers, so every URL the provider builds is the issuer's.
 */
import { IncomingMessage, type OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import type { OidcAnswer } from './request.ts';

export type NodeHandler = (req: IncomingMessage, res: ServerResponse) => unknown;

/** The request line and headers of a request (a WHATWG `Headers`). */
export interface RequestHead {
  method: string;
  url: string;
  headers: Headers;
}

export interface NodeTarget {
  /** Public base URL (protocol + host) the provider must see. */
  publicBaseUrl: URL;
  /** Path prefix the handler is mounted under, e.g. `/api/oidc`. */
  mountPath: string;
}

/** A Node request for `request`, its body already read (`body`). */
export function toNodeRequest(request: RequestHead, body: Buffer, target: NodeTarget): IncomingMessage {
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

/** The collected response as an answer (Set-Cookie lines kept apart, as written). */
export function answerOf(res: ServerResponse, body: Buffer): OidcAnswer {
  const raw: OutgoingHttpHeaders = res.getHeaders();
  const headers: Record<string, string> = {};
  const setCookies: string[] = [];
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    if (name === 'set-cookie') {
      setCookies.push(...(Array.isArray(value) ? value : [String(value)]));
      continue;
    }
    if (name === 'content-length') continue;
    headers[name] = Array.isArray(value) ? value.join(', ') : String(value);
  }
  return {
    status: res.statusCode,
    headers,
    ...(setCookies.length ? { setCookies } : {}),
    ...(body.length > 0 ? { body } : {}),
  };
}

/** Runs `handler` for `request` and returns its answer. */
export async function exchange(
  handler: NodeHandler,
  request: RequestHead,
  body: Buffer,
  target: NodeTarget,
  decorate?: (req: IncomingMessage) => void,
): Promise<OidcAnswer> {
  const req = toNodeRequest(request, body, target);
  decorate?.(req);
  const { res, done } = captureResponse(req);
  await handler(req, res);
  const out = await done;
  return answerOf(res, out);
}
