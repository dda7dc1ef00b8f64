/**
 * Figures for the OpenID Provider (printed, never asserted on time): the bridge's own cost per
 * request, discovery through the bridge vs the provider on a plain Node server, and an app sign-in
 * with an existing broker session (authorize → interaction → resume → code → token): Table Storage
 * operations (counted, asserted as an upper bound) and its p50/p95 time.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpRequest } from '@azure/functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exchange, type NodeHandler, type NodeTarget } from '../../shared/oidc/node-exchange.ts';
import type { Tables } from '../../shared/storage/tables.ts';
import { toResponseInit } from '../../shared/web/oidc-bridge.ts';
import { authorize, createApplication, PASSWORD, type RegisteredApp, redeem } from '../helpers/oidc.ts';
import { BrokerBrowser, createUser } from '../helpers/signin.ts';
import { startTestApp, type TestApp } from '../helpers/stack.ts';

function countTableOps(tables: Tables) {
  const byTable: Record<string, number> = {};
  for (const [name, table] of Object.entries(tables)) {
    table.pipeline.addPolicy({
      name: `count-${randomUUID()}`,
      sendRequest: (req, next) => {
        byTable[name] = (byTable[name] ?? 0) + 1;
        return next(req);
      },
    });
  }
  return {
    byTable,
    total: () => Object.values(byTable).reduce((a, b) => a + b, 0),
    reset: () => {
      for (const k of Object.keys(byTable)) delete byTable[k];
    },
  };
}

/** A Functions request to the Node handler and its answer back, as /api/oidc takes them. */
const bridge = async (handler: NodeHandler, request: HttpRequest, body: Buffer, target: NodeTarget) =>
  toResponseInit(await exchange(handler, request, body, target));

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
};

describe('OpenID Provider: figures', () => {
  let app: TestApp;
  let rp: RegisteredApp;
  let ops: ReturnType<typeof countTableOps>;

  beforeAll(async () => {
    app = await startTestApp();
    ops = countTableOps(app.services.tables);
    await createUser(app, { username: 'fig-user', verifyType: 'password', password: PASSWORD });
    rp = await createApplication(app);
  }, 60_000);
  afterAll(async () => {
    await app?.close();
  });

  it('bridge overhead per request (µs): conversion alone, and discovery through it vs a Node server', {
    timeout: 180_000,
  }, async () => {
    const { handler } = await app.services.oidc.provider();
    const target = { publicBaseUrl: new URL(app.url), mountPath: '/api/oidc' };
    const discovery = `${app.url}/api/oidc/.well-known/openid-configuration`;
    const request = () =>
      new HttpRequest({ method: 'GET', url: discovery, headers: { accept: 'application/json' } });
    const N = 300;
    const fixed = (_req: unknown, res: import('node:http').ServerResponse) => {
      res.statusCode = 200;
      res.setHeader('content-type', 'application/json');
      res.setHeader('set-cookie', ['a=1; path=/; httponly', 'b=2; path=/; samesite=lax']);
      res.end('{"ok":true}');
    };
    const time = async (fn: () => Promise<unknown>) => {
      for (let i = 0; i < 30; i++) await fn();
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < N; i++) await fn();
      return Number(process.hrtime.bigint() - t0) / 1000 / N;
    };
    const conversionOnly = await time(() => bridge(fixed, request(), Buffer.alloc(0), target));
    const viaBridge = await time(() => bridge(handler, request(), Buffer.alloc(0), target));
    const server = createServer((req, res) => {
      req.url = (req.url ?? '').replace(/^\/api\/oidc/, '');
      handler(req, res);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const viaNode = await time(async () => {
      const res = await fetch(`http://127.0.0.1:${port}/api/oidc/.well-known/openid-configuration`);
      await res.arrayBuffer();
    });
    await new Promise<void>((r) => server.close(() => r()));
    const res = await bridge(handler, request(), Buffer.alloc(0), target);
    expect(res.status).toBe(200);
    console.log(
      `[oidc-figures] bridge conversion only: ${conversionOnly.toFixed(1)} µs/request; discovery via bridge (in process): ${viaBridge.toFixed(1)} µs; discovery via provider on a Node http server + fetch: ${viaNode.toFixed(1)} µs (N=${N})`,
    );
  });

  it('app sign-in with an existing broker session: Table Storage operations and p50/p95', {
    timeout: 180_000,
  }, async () => {
    const b = new BrokerBrowser(app);
    await redeem(rp, await authorize(b, rp, { login: { kind: 'password', username: 'fig-user' } }));
    const times: number[] = [];
    const counts: number[] = [];
    let last: Record<string, number> = {};
    for (let i = 0; i < 15; i++) {
      ops.reset();
      const t0 = performance.now();
      const r = await authorize(b, rp, { login: { kind: 'none' } });
      expect(r.loginPages).toBe(0);
      await redeem(rp, r);
      times.push(performance.now() - t0);
      counts.push(ops.total());
      last = { ...ops.byTable };
    }
    await new Promise((r) => setTimeout(r, 200));
    const sorted = [...counts].sort((a, b) => a - b);
    console.log(
      `[oidc-figures] SSO app sign-in (authorize → interaction → resume → code → token + audit): p50 ${pct(times, 50).toFixed(1)} ms, p95 ${pct(times, 95).toFixed(1)} ms (n=${times.length}); Table Storage ops per sign-in: median ${pct(counts, 50)} (min ${sorted[0]}, max ${sorted.at(-1)}); by table ${JSON.stringify(last)}`,
    );
    expect(pct(counts, 50)).toBeLessThan(45);
  });
});
