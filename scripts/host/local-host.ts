/**
 * Local Functions host: serves the handlers registered with `app.http(...)` on
 * `http://localhost:PORT/api/...`, the way the Azure Functions host does for everything our
 * functions use (route templates, methods, 405 + Allow, 404 problem, bodies, query, headers,
 * `cookies` as separate Set-Cookie headers). Dev and test tooling only.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import Module from 'node:module';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type {
  Cookie,
  InvocationContext as Ctx,
  HttpHandler,
  HttpRequest as HttpRequestType,
} from '@azure/functions';

interface CoreRegistration {
  metadata: {
    name: string;
    bindings: Record<
      string,
      { type: string; direction: string; route?: string; methods?: string[]; authLevel?: string }
    >;
  };
  callback: HttpHandler;
}

export interface RegisteredRoute {
  name: string;
  route: string;
  methods: string[];
  authLevel: string;
  handler: HttpHandler;
}

const corePath = path.join(import.meta.dirname, 'functions-core.cjs');
let installed = false;

/**
 * Makes `require('@azure/functions-core')` resolve to our stand-in, as the Functions host does with
 * its own. Must run before `@azure/functions` is first loaded.
 */
export function installFunctionsCore(): CoreRegistration[] {
  const M = Module as unknown as { _resolveFilename: (request: string, ...rest: unknown[]) => string };
  if (!installed) {
    const original = M._resolveFilename;
    M._resolveFilename = function (this: unknown, request: string, ...rest: unknown[]) {
      if (request === '@azure/functions-core') return corePath;
      return original.call(this, request, ...rest);
    };
    installed = true;
  }
  const g = globalThis as { __brokerFunctionRegistrations?: CoreRegistration[] };
  g.__brokerFunctionRegistrations ??= [];
  return g.__brokerFunctionRegistrations;
}

export function routesFrom(registrations: CoreRegistration[]): RegisteredRoute[] {
  return registrations.flatMap(({ metadata, callback }) => {
    const trigger = Object.values(metadata.bindings).find((b) => b.type.toLowerCase() === 'httptrigger');
    if (!trigger) return [];
    return [
      {
        name: metadata.name,
        route: trigger.route ?? metadata.name,
        methods: (trigger.methods ?? ['GET', 'POST']).map((m) => m.toUpperCase()),
        authLevel: trigger.authLevel ?? 'anonymous',
        handler: callback,
      },
    ];
  });
}

/** Loads the app entry (functions/index.ts by default) and returns what it registered. */
export async function loadApp(entry = path.join(import.meta.dirname, '..', '..', 'functions', 'index.ts')) {
  const registrations = installFunctionsCore();
  await import(entry);
  return routesFrom(registrations);
}

type Segment =
  | { kind: 'literal'; value: string }
  | { kind: 'param'; name: string; optional: boolean; constraint?: string }
  | { kind: 'catchall'; name: string };

function parseTemplate(route: string): Segment[] {
  return route
    .split('/')
    .filter(Boolean)
    .map((seg): Segment => {
      const m = /^\{(\*?)([A-Za-z_][A-Za-z0-9_]*)(?::([a-z]+))?(\?)?\}$/.exec(seg);
      if (!m) return { kind: 'literal', value: seg.toLowerCase() };
      if (m[1]) return { kind: 'catchall', name: m[2] as string };
      return {
        kind: 'param',
        name: m[2] as string,
        optional: Boolean(m[4]),
        ...(m[3] ? { constraint: m[3] } : {}),
      };
    });
}

const CONSTRAINTS: Record<string, RegExp> = {
  int: /^-?\d+$/,
  guid: /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/,
  alpha: /^[A-Za-z]+$/,
};

function matchTemplate(segments: Segment[], parts: string[]): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  let i = 0;
  for (const seg of segments) {
    if (seg.kind === 'catchall') {
      params[seg.name] = parts.slice(i).join('/');
      return params;
    }
    const part = parts[i];
    if (part === undefined) {
      if (seg.kind === 'param' && seg.optional) continue;
      return undefined;
    }
    if (seg.kind === 'literal') {
      if (part.toLowerCase() !== seg.value) return undefined;
    } else {
      if (seg.constraint && CONSTRAINTS[seg.constraint] && !CONSTRAINTS[seg.constraint]?.test(part))
        return undefined;
      params[seg.name] = part;
    }
    i++;
  }
  return i === parts.length ? params : undefined;
}

/** Serializes a Functions `Cookie` the way the host writes its Set-Cookie header. */
export function serializeCookie(c: Cookie): string {
  const parts = [`${c.name}=${c.value}`];
  if (c.domain) parts.push(`Domain=${c.domain}`);
  if (c.path) parts.push(`Path=${c.path}`);
  if (c.expires !== undefined) parts.push(`Expires=${new Date(c.expires).toUTCString()}`);
  if (c.maxAge !== undefined) parts.push(`Max-Age=${Math.trunc(c.maxAge)}`);
  if (c.secure) parts.push('Secure');
  if (c.httpOnly) parts.push('HttpOnly');
  if (c.sameSite) parts.push(`SameSite=${c.sameSite}`);
  return parts.join('; ');
}

const PROBLEM_HEADERS = {
  'Content-Type': 'application/problem+json',
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
  'Strict-Transport-Security': 'max-age=31536000; includeSubDomains',
  'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
  'Referrer-Policy': 'no-referrer',
};

function hostProblem(status: number, code: string, detail: string, extra: Record<string, string> = {}) {
  const body = JSON.stringify({
    type: `urn:broker:problem:${code}`,
    title:
      status === 404
        ? 'Not Found'
        : status === 405
          ? 'Method Not Allowed'
          : status === 413
            ? 'Content Too Large'
            : 'Error',
    status,
    code,
    detail,
  });
  return { status, headers: { ...PROBLEM_HEADERS, ...extra }, body };
}

export interface LocalHostOptions {
  routes: RegisteredRoute[];
  port?: number;
  host?: string;
  routePrefix?: string;
  /** Maximum request body (the Functions host allows 100 MB; we are far stricter). */
  maxBodyBytes?: number;
  /** Called once per request with method, path (no query: it can hold codes and state), status, ms. */
  onRequest?: (line: { method: string; path: string; status: number; ms: number }) => void;
  /** Runs each invocation inside this wrapper (tests scope their services to one host with it). */
  around?: <T>(invoke: () => Promise<T>) => Promise<T>;
}

export interface LocalHost {
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function startLocalHost(opts: LocalHostOptions): Promise<LocalHost> {
  const prefix = (opts.routePrefix ?? 'api').replace(/^\/|\/$/g, '');
  const compiled = opts.routes
    .map((r) => ({ ...r, segments: parseTemplate(r.route) }))
    // More literal segments first, like ASP.NET's route precedence.
    .sort(
      (a, b) =>
        b.segments.filter((s) => s.kind === 'literal').length -
        a.segments.filter((s) => s.kind === 'literal').length,
    );
  const { HttpRequest, HttpResponse, InvocationContext } = await import('@azure/functions');
  const maxBody = opts.maxBodyBytes ?? 1024 * 1024;

  const server = http.createServer(async (req, res) => {
    const started = performance.now();
    const send = (status: number, headers: Record<string, string | string[]>, body?: Buffer | string) => {
      res.writeHead(status, headers);
      res.end(body);
      opts.onRequest?.({
        method: req.method ?? 'GET',
        path: (req.url ?? '/').split('?')[0] ?? '/',
        status,
        ms: Math.round(performance.now() - started),
      });
    };
    try {
      const url = new URL(req.url ?? '/', `http://${req.headers.host ?? 'localhost'}`);
      let parts: string[];
      try {
        parts = url.pathname
          .split('/')
          .filter(Boolean)
          .map((p) => decodeURIComponent(p));
      } catch {
        const p = hostProblem(400, 'bad_request', 'The path is not valid percent-encoding.');
        return send(p.status, p.headers, p.body);
      }
      if (prefix && parts[0]?.toLowerCase() !== prefix) {
        const p = hostProblem(404, 'not_found', 'No function serves this path.');
        return send(p.status, p.headers, p.body);
      }
      const rest = prefix ? parts.slice(1) : parts;
      const method = (req.method ?? 'GET').toUpperCase();
      const matches = compiled
        .map((r) => ({ r, params: matchTemplate(r.segments, rest) }))
        .filter((m) => m.params !== undefined);
      if (matches.length === 0) {
        const p = hostProblem(404, 'not_found', 'No function serves this path.');
        return send(p.status, p.headers, p.body);
      }
      const match = matches.find((m) => m.r.methods.includes(method));
      if (!match) {
        const allow = [...new Set(matches.flatMap((m) => m.r.methods))].sort();
        const p = hostProblem(405, 'method_not_allowed', 'This method is not allowed here.', {
          Allow: allow.join(', '),
        });
        return send(p.status, p.headers, p.body);
      }
      const chunks: Buffer[] = [];
      let size = 0;
      const tooLarge = () => {
        // The rest of the body is never read: the connection closes after the answer, or the
        // client's next request on it would wait behind the unread upload.
        const p = hostProblem(413, 'payload_too_large', 'The request body is too large.', {
          Connection: 'close',
        });
        // What is still arriving is read and dropped, so closing does not reset the connection
        // before the client has read the answer.
        req.resume();
        return send(p.status, p.headers, p.body);
      };
      if (Number(req.headers['content-length'] ?? 0) > maxBody) return tooLarge();
      for await (const chunk of req) {
        size += (chunk as Buffer).length;
        if (size > maxBody) return tooLarge();
        chunks.push(chunk as Buffer);
      }
      const body = Buffer.concat(chunks);
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) {
        if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
      }
      // Like Azure's front end: the client's address is appended to X-Forwarded-For.
      const remote = req.socket.remoteAddress ?? 'unknown';
      headers['x-forwarded-for'] = headers['x-forwarded-for']
        ? `${headers['x-forwarded-for']}, ${remote}`
        : remote;
      const request: HttpRequestType = new HttpRequest({
        method,
        url: url.toString(),
        headers,
        query: Object.fromEntries(url.searchParams),
        params: match.params as Record<string, string>,
        ...(body.length > 0 ? { body: { bytes: body } } : {}),
      });
      const context: Ctx = new InvocationContext({
        invocationId: randomUUID(),
        functionName: match.r.name,
        logHandler: () => {},
      });
      const invoke = async () => match.r.handler(request, context);
      const result = await (opts.around ? opts.around(invoke) : invoke());
      const response = result instanceof HttpResponse ? result : new HttpResponse(result ?? { status: 204 });
      const out: Record<string, string | string[]> = {};
      response.headers.forEach((value, key) => {
        if (key.toLowerCase() !== 'set-cookie') out[key] = value;
      });
      const cookies = response.cookies.map(serializeCookie);
      if (cookies.length > 0) out['Set-Cookie'] = cookies;
      const payload = Buffer.from(await response.arrayBuffer());
      return send(response.status, out, payload);
    } catch {
      const p = hostProblem(500, 'host_error', 'The local host could not run this function.');
      return send(p.status, p.headers, p.body);
    }
  });
  // Idle keep-alive connections outlive the clients' own idle timeout (as Azure's front ends do), so a
  // client never reuses a socket the host is closing at that moment (ECONNRESET on a busy machine).
  server.keepAliveTimeout = 65_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://localhost:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
