/**
 * Anonymous noise is cheap (docs/security.md RL1, OP15): 300 anonymous requests to every route under
 * /api/auth and /api/oidc an unauthenticated browser can reach, from one address, each route in fresh
 * limit windows (the app's clock moves on 40 minutes between routes), counting the rows of every table
 * before and after (the anonymous-failure summaries flushed first). What a route may write is bounded by its limit; a refused request (429) writes nothing, and
 * failures no known user or client can be held to cost one summary row per address and window, never
 * one row each. The counts are printed as a table.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../../shared/core/clock.ts';
import {
  OIDC_AUTHORIZE_LIMIT,
  OIDC_LOGOUT_LIMIT,
  OIDC_PAR_LIMIT,
  OIDC_PUBLIC_TOKEN_LIMIT,
} from '../../shared/oidc/gate.ts';
import { CALLBACK_LIMIT } from '../../shared/signin/entra-callback.ts';
import { START_LIMIT } from '../../shared/signin/entra-start.ts';
import { createApplication, RP_REDIRECT } from '../helpers/oidc.ts';
import { createDemoIntegration, createUser, demoAccount } from '../helpers/signin.ts';
import { startTestApp, type TestApp } from '../helpers/stack.ts';

const BURST = 300;
const PARALLEL = 25;

/** Past every limit's window and block (the longest: 30 minutes of password backoff per address). */
const FRESH_WINDOWS_MS = 40 * 60_000;

interface Probe {
  name: string;
  /** Rows the route may add in all, given its limits (plus a few summary rows). */
  bound: number;
  send(address: string): Promise<Response>;
}

describe('anonymous noise: rows written per table by 300 anonymous requests per route', () => {
  let app: TestApp;
  const clock = manualClock(Date.now());
  let publicClient: string;
  let integrationId: string;
  const report: Record<string, Record<string, number | string>> = {};

  beforeAll(async () => {
    app = await startTestApp({ clock });
    publicClient = (await createApplication(app, { type: 'public' })).clientId;
    integrationId = (await createDemoIntegration(app)).id;
    await createUser(app, {
      username: 'noise-entra',
      verifyType: { integrationId },
      email: demoAccount('noise-entra'),
    });
  }, 120_000);
  afterAll(async () => {
    console.table(report);
    await app?.close();
  });

  async function counts(): Promise<Record<string, number>> {
    await app.services.auditNoise.flush();
    const out: Record<string, number> = {};
    for (const [name, table] of Object.entries(app.services.tables)) {
      let n = 0;
      for await (const _ of table.listEntities({ queryOptions: { select: ['RowKey'] } })) n++;
      out[name] = n;
    }
    return out;
  }

  const url = (path: string) => `${app.url}${path}`;
  const form = (address: string, body: Record<string, string>, extra: Record<string, string> = {}) => ({
    method: 'POST',
    redirect: 'manual' as const,
    headers: {
      'x-forwarded-for': address,
      origin: app.url,
      'content-type': 'application/x-www-form-urlencoded',
      ...extra,
    },
    body: new URLSearchParams(body),
  });
  const get = (address: string) => ({ redirect: 'manual' as const, headers: { 'x-forwarded-for': address } });
  const authorizeParams = () =>
    new URLSearchParams({
      client_id: publicClient,
      response_type: 'code',
      redirect_uri: RP_REDIRECT,
      scope: 'openid',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256',
      state: 's',
    });

  const probes: () => Probe[] = () => [
    { name: 'GET /api/auth/login', bound: 1, send: (a) => fetch(url('/api/auth/login'), get(a)) },
    {
      name: 'POST /api/auth/login (unknown user)',
      bound: 0,
      send: (a) => fetch(url('/api/auth/login'), form(a, { username: 'nobody-at-all' })),
    },
    {
      name: 'POST /api/auth/login (Entra user)',
      bound: START_LIMIT.limit + 2,
      send: (a) => fetch(url('/api/auth/login'), form(a, { username: 'noise-entra' })),
    },
    {
      name: 'GET /api/auth/login/{unknown integration}',
      bound: 2,
      send: (a) => fetch(url('/api/auth/login/00000000-0000-4000-8000-000000000000'), get(a)),
    },
    {
      name: 'GET /api/auth/login/{integration}',
      bound: START_LIMIT.limit + 2,
      send: (a) => fetch(url(`/api/auth/login/${integrationId}`), get(a)),
    },
    {
      name: 'GET /api/auth/callback (no state)',
      bound: CALLBACK_LIMIT.limit + 2,
      send: (a) => fetch(url('/api/auth/callback?code=x'), get(a)),
    },
    {
      name: 'GET /api/auth/callback (unknown state)',
      bound: CALLBACK_LIMIT.limit * 2 + 2,
      send: (a) => fetch(url(`/api/auth/callback?code=x&state=${'s'.repeat(43)}`), get(a)),
    },
    {
      name: 'POST /api/auth/password (wrong)',
      bound: 40,
      send: (a) =>
        fetch(url('/api/auth/password'), form(a, { username: 'nobody-at-all', password: 'wrong password!' })),
    },
    { name: 'POST /api/auth/logout', bound: 0, send: (a) => fetch(url('/api/auth/logout'), form(a, {})) },
    { name: 'GET /api/auth/session', bound: 0, send: (a) => fetch(url('/api/auth/session'), get(a)) },
    { name: 'GET /api/auth/jwks', bound: 0, send: (a) => fetch(url('/api/auth/jwks'), get(a)) },
    {
      name: 'GET /api/oidc/.well-known/openid-configuration',
      bound: 0,
      send: (a) => fetch(url('/api/oidc/.well-known/openid-configuration'), get(a)),
    },
    { name: 'GET /api/oidc/jwks', bound: 0, send: (a) => fetch(url('/api/oidc/jwks'), get(a)) },
    {
      name: 'GET /api/oidc/auth',
      bound: OIDC_AUTHORIZE_LIMIT.limit * 2 + 2,
      send: (a) => fetch(url(`/api/oidc/auth?${authorizeParams()}`), get(a)),
    },
    {
      name: 'POST /api/oidc/auth',
      bound: OIDC_AUTHORIZE_LIMIT.limit * 2 + 2,
      send: (a) => fetch(url('/api/oidc/auth'), form(a, Object.fromEntries(authorizeParams()))),
    },
    {
      name: 'GET /api/oidc/auth (bad redirect_uri)',
      bound: OIDC_AUTHORIZE_LIMIT.limit + 2,
      send: (a) => {
        const p = authorizeParams();
        p.set('redirect_uri', 'https://evil.example/cb');
        return fetch(url(`/api/oidc/auth?${p}`), get(a));
      },
    },
    {
      name: 'POST /api/oidc/request (PAR, public client)',
      bound: OIDC_PAR_LIMIT.limit * 2 + 2,
      // As a script sends it (no Origin: the provider refuses pushed requests from browsers).
      send: (a) => {
        const init = form(a, Object.fromEntries(authorizeParams()));
        const { origin: _origin, ...headers } = init.headers;
        return fetch(url('/api/oidc/request'), { ...init, headers });
      },
    },
    {
      name: 'POST /api/oidc/token (public client, invalid code)',
      bound: OIDC_PUBLIC_TOKEN_LIMIT.limit + 2,
      send: (a) =>
        fetch(
          url('/api/oidc/token'),
          form(a, {
            grant_type: 'authorization_code',
            client_id: publicClient,
            code: 'not-a-code',
            redirect_uri: RP_REDIRECT,
            code_verifier: 'v'.repeat(43),
          }),
        ),
    },
    {
      name: 'POST /api/oidc/token/revocation',
      bound: 0,
      send: (a) => fetch(url('/api/oidc/token/revocation'), form(a, { token: 'x', client_id: publicClient })),
    },
    {
      name: 'GET /api/oidc/me',
      bound: 0,
      send: (a) =>
        fetch(url('/api/oidc/me'), { headers: { 'x-forwarded-for': a, authorization: 'Bearer nope' } }),
    },
    {
      name: 'GET /api/oidc/session/end',
      bound: OIDC_LOGOUT_LIMIT.limit * 3 + 2,
      send: (a) => fetch(url('/api/oidc/session/end'), get(a)),
    },
    {
      name: 'POST /api/oidc/session/end/confirm',
      bound: OIDC_LOGOUT_LIMIT.limit * 3 + 2,
      send: (a) => fetch(url('/api/oidc/session/end/confirm'), form(a, { xsrf: 'x', logout: 'yes' })),
    },
    {
      name: 'GET /api/oidc/interaction/{unknown}',
      bound: 0,
      send: (a) => fetch(url('/api/oidc/interaction/unknownuid123'), get(a)),
    },
    {
      name: 'GET /api/oidc/auth/{unknown}',
      bound: 2,
      send: (a) => fetch(url('/api/oidc/auth/unknownuid123'), get(a)),
    },
  ];

  async function burst(list: Probe[]): Promise<string[]> {
    const failures: string[] = [];
    const address = '203.0.113.9';
    for (const probe of list) {
      clock.advance(FRESH_WINDOWS_MS);
      const before = await counts();
      const statuses: number[] = [];
      for (let sent = 0; sent < BURST; sent += PARALLEL) {
        const batch = await Promise.all(
          Array.from({ length: Math.min(PARALLEL, BURST - sent) }, async () => {
            const res = await probe.send(address);
            await res.arrayBuffer();
            return res.status;
          }),
        );
        statuses.push(...batch);
      }
      const after = await counts();
      const added: Record<string, number> = {};
      let total = 0;
      for (const [table, n] of Object.entries(after)) {
        const d = n - (before[table] ?? 0);
        if (d !== 0) added[table] = d;
        total += d;
      }
      const refused = statuses.filter((s) => s === 429).length;
      const byStatus = Object.entries(
        statuses.reduce<Record<number, number>>((m, s) => {
          m[s] = (m[s] ?? 0) + 1;
          return m;
        }, {}),
      )
        .map(([s, n]) => `${s}×${n}`)
        .join(' ');
      report[probe.name] = { statuses: byStatus, refused, rows: total, ...added };
      if (statuses.some((s) => s >= 500)) failures.push(`${probe.name}: a 5xx answer (${byStatus})`);
      // Bounded by the limits; a refused request adds nothing (the bound counts the requests let through).
      if (total > probe.bound)
        failures.push(
          `${probe.name}: ${total} rows > ${probe.bound} (${JSON.stringify(added)}; ${byStatus})`,
        );
    }
    return failures;
  }

  it(`${BURST} anonymous requests per /api/oidc route: rows bounded by the limits, none per refused request`, async () => {
    expect(await burst(probes().filter((p) => p.name.includes('/api/oidc/')))).toEqual([]);
  }, 600_000);

  it(`${BURST} anonymous requests per /api/auth route: rows bounded by the limits, none per refused request`, async () => {
    expect(await burst(probes().filter((p) => p.name.includes('/api/auth/')))).toEqual([]);
  }, 600_000);
});
