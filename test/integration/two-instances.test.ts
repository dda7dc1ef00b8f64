/**
 * Two instances agree: two app instances (two local hosts, separate `createServices`, so
 * separate per-instance caches) over one set of tables, one Key Vault stand-in and one Entra stand-in,
 * behind one public origin (as a load balancer would put them). A change made through one takes
 * effect on the other within the cache time the README's "Cache times" table gives:
 *   integration deactivated — at once (its row is read on every sign-in start)
 *   setting changed         — within SETTINGS_CACHE_TTL_MS (2 s)
 *   user disabled           — at once (sessions revoked; the user row is read on every sign-in)
 *   session revoked         — at once (the session row is read on every request)
 *   admin token revoked     — at once (the token row is read on every request)
 *   throttling              — one counter in Table Storage for all instances
 * and an application's code and refresh token, issued by one, are redeemed at the other (each carries
 * what its row names, sealed: the other instance reads those rows beside it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SIGN_IN_ROW_TTL_MS } from '../../shared/integrations/service.ts';
import { ACCOUNT_POLICY } from '../../shared/limits/throttle.ts';
import type { HintSeal } from '../../shared/oidc/carried-hints.ts';
import { SETTINGS_CACHE_TTL_MS } from '../../shared/settings/service.ts';
import { authorize, createApplication, RP_REDIRECT, tokenRequest, userinfoStatus } from '../helpers/oidc.ts';
import {
  BrokerBrowser,
  createDemoIntegration,
  createUser,
  demoAccount,
  patchSettings,
} from '../helpers/signin.ts';
import { startTestApp, type TestApp, uniquePrefix } from '../helpers/stack.ts';

const PASSWORD = 'two instances share one store';

let a: TestApp;
let b: TestApp;

/** A browser talking to one instance under the shared public origin. */
class InstanceBrowser extends BrokerBrowser {
  constructor(
    app: TestApp,
    private readonly publicOrigin: string,
  ) {
    super(app);
  }
  override get origin(): string {
    return this.publicOrigin;
  }
  /** The same browser (cookies) sent to another instance. */
  on(app: TestApp): InstanceBrowser {
    const other = new InstanceBrowser(app, this.publicOrigin);
    for (const [k, v] of this.jar.cookies) other.jar.cookies.set(k, v);
    return other;
  }
}

let publicOrigin: string;
const browserOn = (app: TestApp) => new InstanceBrowser(app, publicOrigin);

beforeAll(async () => {
  const prefix = uniquePrefix();
  a = await startTestApp({ prefix });
  publicOrigin = new URL(a.url).origin;
  // Same tables (prefix), same public base URL; its own services, caches and host.
  b = await startTestApp({ prefix, env: { BROKER_PUBLIC_BASE_URL: publicOrigin } });
});
afterAll(async () => {
  await a?.close();
  await b?.close();
});

async function passwordSignIn(app: TestApp, username: string, password = PASSWORD) {
  const br = browserOn(app);
  const res = await br.post('/api/auth/password', { username, password });
  return { br, res };
}

describe('two instances agree', () => {
  it('the instances are separate: own services, own caches, one store', () => {
    expect(a.services).not.toBe(b.services);
    expect(a.services.settings).not.toBe(b.services.settings);
    expect(a.url).not.toBe(b.url);
    expect(a.services.tables.users.tableName).toBe(b.services.tables.users.tableName);
  });

  it(`a deactivated integration: sign-in on the other instance stops within ${SIGN_IN_ROW_TTL_MS} ms`, async () => {
    const integration = await createDemoIntegration(a);
    await createUser(a, {
      username: 'ent',
      email: demoAccount('ent'),
      verifyType: { integrationId: integration.id },
    });
    const before = await browserOn(b).post('/api/auth/login', { username: 'ent' });
    expect(before.status).toBe(302);
    const off = await a.admin(`/api/manage/integrations/${integration.id}/deactivate`, { method: 'POST' });
    expect(off.status, await off.clone().text()).toBe(200);
    // On A itself, at once (its cache dropped the row when it wrote it).
    expect((await browserOn(a).post('/api/auth/login', { username: 'ent' })).status).toBe(403);
    // B used its cached row for the sign-in above; it reads the row again after SIGN_IN_ROW_TTL_MS.
    await new Promise((r) => setTimeout(r, SIGN_IN_ROW_TTL_MS + 50));
    const after = await browserOn(b).post('/api/auth/login', { username: 'ent' });
    expect(after.status).toBe(403);
    expect(after.headers.get('content-type')).toMatch(/text\/html/);
  });

  it(`a changed setting: the other instance applies it within ${SETTINGS_CACHE_TTL_MS} ms`, async () => {
    const target = 'https://app.two-instances.example/after';
    const page = async () =>
      (await browserOn(b).get(`/api/auth/login?returnTo=${encodeURIComponent(target)}`)).text();
    // B has read (and cached) the settings: the origin is not allowed yet.
    expect(await page()).not.toContain(target);
    await patchSettings(a, { allowedReturnOrigins: ['https://app.two-instances.example'] });
    await new Promise((r) => setTimeout(r, SETTINGS_CACHE_TTL_MS + 50));
    expect(await page()).toContain(target);
  });

  it('a disabled user: the session made on one instance ends at once on the other', async () => {
    await createUser(a, { username: 'dis', verifyType: 'password', password: PASSWORD });
    const { br, res } = await passwordSignIn(a, 'dis');
    expect(res.status).toBe(303);
    const onB = br.on(b);
    expect((await onB.session()).status).toBe(200);
    const patched = await a.admin('/api/manage/users/dis', { method: 'PATCH', json: { disabled: true } });
    expect(patched.status, await patched.clone().text()).toBe(200);
    expect((await onB.session()).status).toBe(401);
    expect((await passwordSignIn(b, 'dis')).res.status).not.toBe(303);
  });

  it('a revoked session (sign-out on one instance) is refused at once by the other', async () => {
    await createUser(a, { username: 'rev', verifyType: 'password', password: PASSWORD });
    const { br, res } = await passwordSignIn(b, 'rev');
    expect(res.status).toBe(303);
    const onA = br.on(a);
    expect((await onA.session()).status).toBe(200);
    const out = await onA.post('/api/auth/logout', {});
    expect(out.status).toBeLessThan(400);
    expect((await br.session()).status).toBe(401);
  });

  it('a revoked admin token is refused at once by the other instance', async () => {
    const created = await a.admin('/api/manage/tokens', { method: 'POST', json: { name: 'shared' } });
    expect(created.status).toBe(201);
    const { id, token } = await created.json();
    const onB = () =>
      fetch(`${b.url}/api/manage/settings`, { headers: { authorization: `Bearer ${token}` } });
    expect((await onB()).status).toBe(200);
    expect((await a.admin(`/api/manage/tokens/${id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await onB()).status).toBe(401);
  });

  it("an application's code and refresh token issued by one instance are redeemed at the other", async () => {
    await createUser(a, { username: 'opx', verifyType: 'password', password: PASSWORD });
    const rp = await createApplication(a);
    const auth = { clientId: rp.clientId, secret: rp.secret as string };
    const { br, res } = await passwordSignIn(a, 'opx');
    expect(res.status).toBe(303);
    // What B opens of the values it is sent (it issued none of them).
    const seal = (await b.services.oidc.provider()) as unknown as { hintSeal: HintSeal };
    const opened: unknown[] = [];
    const open = seal.hintSeal.open.bind(seal.hintSeal);
    seal.hintSeal.open = (model, value) => {
      const hint = open(model, value);
      opened.push(hint);
      return hint;
    };
    const signedIn = await authorize(br, rp);
    const code = signedIn.callbackUrl?.searchParams.get('code');
    expect(code).toBeTruthy();
    const token = await tokenRequest(
      b,
      {
        grant_type: 'authorization_code',
        code: code as string,
        redirect_uri: RP_REDIRECT,
        code_verifier: signedIn.verifier,
      },
      auth,
    );
    expect(token.status, JSON.stringify(token.body)).toBe(200);
    expect(token.body.id_token).toBeTruthy();
    expect(opened).toHaveLength(1);
    expect(opened[0]).toMatchObject({ brokerSession: { u: 'opx' } });
    // The refresh token A's code became carries its hint too: refreshed at A, and A's at B.
    const atA = await tokenRequest(
      a,
      { grant_type: 'refresh_token', refresh_token: token.body.refresh_token as string },
      auth,
    );
    expect(atA.status, JSON.stringify(atA.body)).toBe(200);
    const atB = await tokenRequest(
      b,
      { grant_type: 'refresh_token', refresh_token: atA.body.refresh_token as string },
      auth,
    );
    expect(atB.status, JSON.stringify(atB.body)).toBe(200);
    expect(opened).toHaveLength(2);
    expect(opened[1]).toMatchObject({ brokerSession: { u: 'opx' } });
    // userinfo at B with the access token A issued: B opens its hint too.
    const info = await fetch(`${b.url}/api/oidc/me`, {
      headers: { authorization: `Bearer ${atA.body.access_token as string}` },
    });
    expect(info.status, await info.clone().text()).toBe(200);
    expect((await info.json()).preferred_username).toBe('opx');
    expect(opened).toHaveLength(3);
    expect(opened[2]).toMatchObject({ brokerSession: { u: 'opx' } });
    const changedToken = `${(atA.body.access_token as string).slice(0, -2)}AA`;
    expect(await userinfoStatus(b, changedToken)).toBe(401);
    // A value whose hint is changed is another value: no row, refused as any unknown code is.
    const tampered = await tokenRequest(
      b,
      { grant_type: 'refresh_token', refresh_token: `${(atB.body.refresh_token as string).slice(0, -2)}AA` },
      auth,
    );
    expect(tampered.status).toBe(400);
    expect(tampered.body.error).toBe('invalid_grant');
  });

  it('throttling counts the attempts made on both instances', async () => {
    await createUser(a, { username: 'thr', verifyType: 'password', password: PASSWORD });
    const statuses: number[] = [];
    // One more than the free attempts, alternating instances (as in PW5 on one instance).
    for (let i = 0; i <= ACCOUNT_POLICY.freeAttempts; i++) {
      statuses.push((await passwordSignIn(i % 2 === 0 ? a : b, 'thr', `wrong ${i}`)).res.status);
    }
    expect(statuses.slice(0, ACCOUNT_POLICY.freeAttempts)).toEqual(
      Array(ACCOUNT_POLICY.freeAttempts).fill(401),
    );
    // Each instance alone has seen about half of them; together they reached the limit: even the right
    // password is refused on both.
    for (const app of [a, b]) {
      const blocked = (await passwordSignIn(app, 'thr')).res;
      expect(blocked.status).toBe(429);
      expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    }
  });
});
