/**
 * OIDC Back-Channel Logout 1.0 (docs/security.md OP13): whenever a broker session ends (sign-out, RP
 * logout, sign-out everywhere, disable, delete, idle or absolute end), every application with a grant in that session gets a logout
 * token, verified here as an application would (jose against the JWKS); an application without a
 * grant in that session never gets one; a failing application is retried; a hanging one never slows
 * the sign-out; every attempt is audited.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRemoteJWKSet, type JWTPayload, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../../shared/core/clock.ts';
import { purgeExpired } from '../../shared/ops/maintenance.ts';
import {
  authorize,
  createApplication,
  oidc,
  PASSWORD,
  type RegisteredApp,
  RP_LOGOUT,
  redeem,
} from '../helpers/oidc.ts';
import { BrokerBrowser, createUser } from '../helpers/signin.ts';
import { startTestApp, type TestApp } from '../helpers/stack.ts';

const EVENT = 'http://schemas.openid.net/event/backchannel-logout';

interface Received {
  path: string;
  token: string;
  at: number;
}

/** An application's back-channel endpoint: records every logout token; `/fail-once/…` answers 500 once, `/hang/…` never. */
class Receiver {
  readonly got: Received[] = [];
  private readonly failed = new Set<string>();
  private server?: Server;
  url = '';

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        const path = req.url ?? '';
        if (path.startsWith('/hang/')) return; // never answers
        const token = new URLSearchParams(body).get('logout_token') ?? '';
        if (path.startsWith('/fail-once/') && !this.failed.has(path)) {
          this.failed.add(path);
          res.statusCode = 500;
          return res.end();
        }
        this.got.push({ path, token, at: Date.now() });
        res.statusCode = 200;
        res.end();
      });
    });
    this.server = server;
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((r) => this.server?.close(r));
  }

  for(path: string): Received[] {
    return this.got.filter((g) => g.path === path);
  }

  async waitFor(path: string, count = 1, ms = 15_000): Promise<Received[]> {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      if (this.for(path).length >= count) return this.for(path);
      await new Promise((r) => setTimeout(r, 100));
    }
    return this.for(path);
  }
}

describe('OpenID Provider: back-channel logout (OP13)', () => {
  let app: TestApp;
  const receiver = new Receiver();
  let jwks: ReturnType<typeof createRemoteJWKSet>;

  beforeAll(async () => {
    await receiver.start();
    app = await startTestApp();
    jwks = createRemoteJWKSet(new URL(`${app.url}/api/oidc/jwks`));
    for (const username of ['bc-a', 'bc-b', 'bc-c', 'bc-d', 'bc-e', 'bc-f', 'bc-g', 'bc-h']) {
      await createUser(app, { username, verifyType: 'password', password: PASSWORD });
    }
  }, 60_000);
  afterAll(async () => {
    await app?.close();
    await receiver.stop();
  });

  const listening = (path: string, over: Record<string, unknown> = {}) =>
    createApplication(app, { backchannelLogoutUri: `${receiver.url}${path}`, ...over });

  async function signIn(b: BrokerBrowser, rp: RegisteredApp, username?: string) {
    const r = await authorize(b, rp, {
      login: username ? { kind: 'password', username } : { kind: 'none' },
    });
    return redeem(rp, r);
  }

  async function verify(r: Received, rp: RegisteredApp): Promise<JWTPayload> {
    const { payload, protectedHeader } = await jwtVerify(r.token, jwks, {
      issuer: `${app.url}/api/oidc`,
      audience: rp.clientId,
      typ: 'logout+jwt',
      maxTokenAge: '2 minutes',
    });
    expect(protectedHeader.alg).toBe('RS256');
    expect(payload.events).toEqual({ [EVENT]: {} });
    expect(payload.nonce).toBeUndefined();
    expect(typeof payload.jti).toBe('string');
    return payload;
  }

  it('an app that signs in again keeps its grant, and its entry in the session’s grant index is written again: a lost first write does not keep the logout from it', async () => {
    await createUser(app, { username: 'bc-again', verifyType: 'password', password: PASSWORD });
    const rp = await listening('/again');
    const browser = new BrokerBrowser(app);
    await signIn(browser, rp, 'bc-again');
    const t2 = await signIn(browser, rp);
    // Every grant-index row of this app gone, as if its writes had been lost.
    const table = app.services.tables.oidcStore;
    const rows = async () => {
      const found: { partitionKey: string; rowKey: string }[] = [];
      const filter = `PartitionKey ge 'sg:' and PartitionKey lt 'sg;' and clientId eq '${rp.clientId}'`;
      for await (const e of table.listEntities({ queryOptions: { filter } }))
        found.push(e as { partitionKey: string; rowKey: string });
      return found;
    };
    for (const row of await rows()) await table.deleteEntity(row.partitionKey, row.rowKey);
    expect(await rows()).toHaveLength(0);
    const t3 = await signIn(browser, rp);
    expect(t3.claims()?.sid).toBe(t2.claims()?.sid);
    expect((await rows()).length).toBeGreaterThanOrEqual(1);
    expect((await browser.post('/api/auth/logout', {})).status).toBe(303);
    const [got] = await receiver.waitFor('/again');
    expect(await verify(got as Received, rp)).toMatchObject({ sub: t3.claims()?.sub, sid: t3.claims()?.sid });
  });

  it('registers and shows backchannelLogoutUri; refuses plain http off loopback; discovery says so', async () => {
    const rp = await listening('/shown');
    const shown = await (await app.admin(`/api/manage/applications/${rp.clientId}`)).json();
    expect(shown).toMatchObject({
      backchannelLogoutUri: `${receiver.url}/shown`,
      backchannelLogoutSessionRequired: true,
    });
    const bad = await app.admin('/api/manage/applications', {
      method: 'POST',
      json: {
        name: 'Plain http',
        type: 'confidential',
        redirectUris: ['https://app.example/cb'],
        backchannelLogoutUri: 'http://app.example/logout',
      },
    });
    expect(bad.status).toBe(400);
    const d = await (await fetch(`${app.url}/api/oidc/.well-known/openid-configuration`)).json();
    expect(d.backchannel_logout_supported).toBe(true);
    expect(d.backchannel_logout_session_supported).toBe(true);
  });

  it('sign-out at the broker: each app with a grant in that session gets a logout token (sid and sub of its ID token); an app signed in from another session gets none', async () => {
    const a = await listening('/ok/a1');
    const b2 = await listening('/ok/b1');
    const other = await listening('/ok/other1');
    const browser = new BrokerBrowser(app);
    const ta = await signIn(browser, a, 'bc-a');
    const tb = await signIn(browser, b2);
    const elsewhere = new BrokerBrowser(app);
    await signIn(elsewhere, other, 'bc-a');

    const started = Date.now();
    const out = await browser.post('/api/auth/logout', {});
    expect(out.status).toBe(303);
    const [ra] = await receiver.waitFor('/ok/a1');
    const [rb] = await receiver.waitFor('/ok/b1');
    expect(ra && rb).toBeTruthy();
    const pa = await verify(ra as Received, a);
    const pb = await verify(rb as Received, b2);
    expect(pa).toMatchObject({ sub: ta.claims()?.sub, sid: ta.claims()?.sid });
    expect(pb).toMatchObject({ sub: tb.claims()?.sub, sid: tb.claims()?.sid });
    expect((ra as Received).at - started).toBeLessThan(10_000);
    await new Promise((r) => setTimeout(r, 1500));
    expect(receiver.for('/ok/other1')).toHaveLength(0);
    const audit = await app.services.auditQuery.list({ type: 'oidc.logout.delivery' });
    expect(audit.items.some((e) => e.target === `application:${a.clientId}` && e.outcome === 'success')).toBe(
      true,
    );
  });

  it('RP-initiated logout at app B reaches app A', async () => {
    const a = await listening('/ok/a2');
    const b2 = await listening('/ok/b2');
    const browser = new BrokerBrowser(app);
    const ta = await signIn(browser, a, 'bc-b');
    const tb = await signIn(browser, b2);
    const url = oidc.buildEndSessionUrl(b2.config, {
      id_token_hint: tb.id_token as string,
      post_logout_redirect_uri: RP_LOGOUT,
    });
    const confirm = await browser.get(url.href);
    const html = await confirm.text();
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1] ?? '';
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(html)?.[1] ?? '';
    const done = await browser.post(new URL(action).pathname, { xsrf, logout: 'yes' });
    expect(done.status).toBe(303);
    const [ra] = await receiver.waitFor('/ok/a2');
    expect((await verify(ra as Received, a)).sid).toBe(ta.claims()?.sid);
  });

  it("sign-out everywhere, disabling and deleting the user reach every session's apps", async () => {
    const a = await listening('/ok/a3');
    const c = await listening('/ok/c3');
    const one = new BrokerBrowser(app);
    const two = new BrokerBrowser(app);
    await signIn(one, a, 'bc-c');
    await signIn(two, c, 'bc-c');
    const res = await app.admin('/api/manage/users/bc-c/sessions', { method: 'DELETE' });
    expect(res.status).toBeLessThan(300);
    expect(await receiver.waitFor('/ok/a3')).toHaveLength(1);
    expect(await receiver.waitFor('/ok/c3')).toHaveLength(1);

    const d = await listening('/ok/d3');
    await signIn(new BrokerBrowser(app), d, 'bc-d');
    const disabled = await app.admin('/api/manage/users/bc-d', { method: 'PATCH', json: { disabled: true } });
    expect(disabled.status).toBe(200);
    const [rd] = await receiver.waitFor('/ok/d3');
    expect((await verify(rd as Received, d)).sub).toBeTruthy();

    const f = await listening('/ok/f3');
    const tf = await signIn(new BrokerBrowser(app), f, 'bc-f');
    const deleted = await app.admin('/api/manage/users/bc-f', { method: 'DELETE' });
    expect(deleted.status).toBeLessThan(300);
    const [rf] = await receiver.waitFor('/ok/f3');
    expect((await verify(rf as Received, f)).sub).toBe(tf.claims()?.sub);
  });

  it('a session that ends by its absolute or idle end, found by the maintenance purge, reaches its apps too', async () => {
    const clock = manualClock();
    const timed = await startTestApp({ clock });
    try {
      await createUser(timed, { username: 'bc-idle', verifyType: 'password', password: PASSWORD });
      const rp = await createApplication(timed, { backchannelLogoutUri: `${receiver.url}/ok/idle` });
      const tokens = await redeem(
        rp,
        await authorize(new BrokerBrowser(timed), rp, { login: { kind: 'password', username: 'bc-idle' } }),
      );
      // Nobody uses the session again; a day later the timer finds it ended.
      clock.advance(24 * 3600_000);
      const s = timed.services;
      const purged = await purgeExpired(s.tables, clock, s.log, (u, id) => s.logoutQueue.sessionEnded(u, id));
      expect(purged.sessions).toBeGreaterThanOrEqual(1);
      await s.oidc.logouts.drain();
      const [got] = await receiver.waitFor('/ok/idle');
      const { payload } = await jwtVerify(
        (got as Received).token,
        createRemoteJWKSet(new URL(`${timed.url}/api/oidc/jwks`)),
        {
          issuer: `${timed.url}/api/oidc`,
          audience: rp.clientId,
          typ: 'logout+jwt',
        },
      );
      expect(payload).toMatchObject({ sub: tokens.claims()?.sub, sid: tokens.claims()?.sid });
    } finally {
      await timed.close();
    }
  });

  it('a failing app is retried (each attempt audited); a hanging one never slows the sign-out', async () => {
    const flaky = await listening('/fail-once/e');
    const hanging = await listening('/hang/e');
    const browser = new BrokerBrowser(app);
    await signIn(browser, flaky, 'bc-e');
    await signIn(browser, hanging);
    const started = Date.now();
    const out = await browser.post('/api/auth/logout', {});
    expect(out.status).toBe(303);
    expect(Date.now() - started).toBeLessThan(2_000);
    const got = await receiver.waitFor('/fail-once/e', 1, 20_000);
    expect(got).toHaveLength(1);
    await verify(got[0] as Received, flaky);
    const attempts = async (clientId: string) =>
      (await app.services.auditQuery.list({ type: 'oidc.logout.delivery' })).items.filter(
        (e) => e.target === `application:${clientId}`,
      );
    const flakyAttempts = await attempts(flaky.clientId);
    expect(flakyAttempts.map((e) => e.outcome).sort()).toEqual(['failure', 'success']);
    // The hanging app's attempt ends at the delivery timeout, as a failure.
    const until = Date.now() + 15_000;
    let hung = await attempts(hanging.clientId);
    while (hung.length === 0 && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 250));
      hung = await attempts(hanging.clientId);
    }
    expect(hung[0]).toMatchObject({ outcome: 'failure', reason: 'timeout' });
  }, 40_000);

  it('stopping the instance stops its retry timers and writes the noise counts it held; the queued logout stays for the next drain', async () => {
    const own = await startTestApp();
    try {
      own.services.oidc.logouts.kick(60_000);
      own.services.auditNoise.count({
        type: 'oidc.request.refused',
        reason: 'invalid_request',
        clientAddress: '203.0.113.9',
        target: 'oidc',
      });
      expect(own.services.oidc.logouts.scheduled).toBeGreaterThan(0);
      expect(own.services.auditNoise.pending()).toBe(1);
      await own.services.shutdown();
      expect(own.services.oidc.logouts.scheduled).toBe(0);
      expect(own.services.auditNoise.pending()).toBe(0);
    } finally {
      await own.close();
    }
  });

  it("the sign-out's latency does not grow with the number of apps (1 vs 20, every one of them hanging)", async () => {
    const signOutWith = async (username: string, count: number) => {
      const browser = new BrokerBrowser(app);
      for (let i = 0; i < count; i++) {
        const rp = await listening(`/hang/${username}-${i}`);
        await signIn(browser, rp, i === 0 ? username : undefined);
      }
      const started = performance.now();
      const out = await browser.post('/api/auth/logout', {});
      expect(out.status).toBe(303);
      return performance.now() - started;
    };
    const one = await signOutWith('bc-g', 1);
    const twenty = await signOutWith('bc-h', 20);
    console.log(`sign-out with 1 app: ${one.toFixed(0)} ms; with 20 apps: ${twenty.toFixed(0)} ms`);
    expect(one).toBeLessThan(2_000);
    expect(twenty).toBeLessThan(2_000);
  }, 90_000);
});
