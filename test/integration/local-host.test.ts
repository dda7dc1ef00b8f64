import http from 'node:http';
import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalHost, type RegisteredRoute, startLocalHost } from '../../scripts/host/local-host.ts';

const echo = async (req: HttpRequest): Promise<HttpResponseInit> => ({
  status: 200,
  jsonBody: {
    method: req.method,
    params: req.params,
    query: Object.fromEntries(req.query.entries()),
    header: req.headers.get('x-test'),
    forwardedFor: req.headers.get('x-forwarded-for'),
    body: await req.text(),
  },
});

const route = (name: string, r: string, methods: string[], handler = echo): RegisteredRoute => ({
  name,
  route: r,
  methods,
  authLevel: 'anonymous',
  handler,
});

describe('local Functions host', () => {
  let host: LocalHost;
  beforeAll(async () => {
    host = await startLocalHost({
      routes: [
        route('items-get', 'items/{id}', ['GET', 'DELETE']),
        route('items-special', 'items/special', ['GET']),
        route('items-create', 'items', ['POST']),
        route('optional', 'opt/{id?}', ['GET']),
        route('typed', 'typed/{id:int}', ['GET']),
        route('cookies', 'cookies', ['GET'], async () => ({
          status: 204,
          cookies: [
            { name: '__Host-a', value: '1', path: '/', secure: true, httpOnly: true, sameSite: 'Lax' },
            {
              name: '__Host-b',
              value: '',
              path: '/',
              secure: true,
              httpOnly: true,
              sameSite: 'Lax',
              maxAge: 0,
            },
          ],
        })),
      ],
    });
  });
  afterAll(() => host.close());

  it('serves route parameters, query, headers and bodies under /api', async () => {
    const r = await fetch(`${host.url}/api/items/abc%20d?x=1&y=two`, { headers: { 'x-test': 'yes' } });
    expect(r.status).toBe(200);
    expect(await r.json()).toMatchObject({
      method: 'GET',
      params: { id: 'abc d' },
      query: { x: '1', y: 'two' },
      header: 'yes',
      forwardedFor: '127.0.0.1',
    });
    const p = await fetch(`${host.url}/api/items`, { method: 'POST', body: 'hello body' });
    expect((await p.json()).body).toBe('hello body');
  });

  it('prefers literal segments and honours optional and typed parameters', async () => {
    expect((await (await fetch(`${host.url}/api/items/special`)).json()).params).toEqual({});
    expect((await (await fetch(`${host.url}/api/opt`)).json()).params).toEqual({});
    expect((await (await fetch(`${host.url}/api/opt/7`)).json()).params).toEqual({ id: '7' });
    expect((await fetch(`${host.url}/api/typed/12`)).status).toBe(200);
    expect((await fetch(`${host.url}/api/typed/abc`)).status).toBe(404);
  });

  it('answers 405 with Allow for a known route and the wrong method', async () => {
    const r = await fetch(`${host.url}/api/items/1`, { method: 'PUT' });
    expect(r.status).toBe(405);
    expect(r.headers.get('allow')).toBe('DELETE, GET');
    expect(r.headers.get('content-type')).toBe('application/problem+json');
  });

  it('answers 404 problem+json for unknown routes', async () => {
    for (const path of ['/api/nope', '/other', '/api/items/1/extra']) {
      const r = await fetch(`${host.url}${path}`);
      expect(r.status).toBe(404);
      expect(r.headers.get('content-type')).toBe('application/problem+json');
      expect((await r.json()).code).toBe('not_found');
    }
  });

  it('answers 400 for a path that is not valid percent-encoding', async () => {
    const r = await fetch(`${host.url}/api/items/%E0%A4%A`);
    expect(r.status).toBe(400);
    expect(r.headers.get('content-type')).toBe('application/problem+json');
  });

  it('answers 413 to a body over the limit and closes that connection, so the next request is served', async () => {
    // One kept-alive socket, as a client reusing its connection would have.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const call = (method: string, path: string, body?: Buffer) =>
      new Promise<{ status: number; connection?: string }>((resolve, reject) => {
        const req = http.request(`${host.url}/api${path}`, { method, agent }, (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }));
        });
        req.setTimeout(10_000, () => req.destroy(new Error(`${method} ${path}: no answer in 10 s`)));
        // The upload may be cut short once the host has answered.
        req.on('error', (err) =>
          ['EPIPE', 'ECONNRESET'].includes((err as { code?: string }).code ?? '') ? undefined : reject(err),
        );
        req.end(body);
      });
    try {
      const big = await call('POST', '/items', Buffer.alloc(2 * 1024 * 1024, 0x61));
      expect(big).toEqual({ status: 413, connection: 'close' });
      expect((await call('GET', '/items/next')).status).toBe(200);
    } finally {
      agent.destroy();
    }
  });

  it('writes each cookie as its own Set-Cookie header', async () => {
    const r = await fetch(`${host.url}/api/cookies`);
    const cookies = r.headers.getSetCookie();
    expect(cookies).toEqual([
      '__Host-a=1; Path=/; Secure; HttpOnly; SameSite=Lax',
      '__Host-b=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Lax',
    ]);
  });
});
