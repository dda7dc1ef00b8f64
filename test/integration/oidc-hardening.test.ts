/**
 * The OpenID Provider under abuse and faults (docs/security.md OP10, OP15, RL1): refresh and userinfo
 * re-check the app's current `allowedRoles` and the grant's broker session (a grant that names none
 * is not alive); parameters are size-capped before anything is stored; the store's id placeholder is
 * never substituted into what a client sent; discovery names what is documented; and under storage
 * faults (a proxy in front of Azurite) the token endpoint answers OAuth JSON, a lost consume answer
 * ends in invalid_grant, never a 500.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FaultyProxy, tablesProxy } from '../helpers/faults.ts';
import {
  authorize,
  createApplication,
  PASSWORD,
  type RegisteredApp,
  RP_REDIRECT,
  redeem,
  tokenRequest,
} from '../helpers/oidc.ts';
import { BrokerBrowser, createUser } from '../helpers/signin.ts';
import { startTestApp, type TestApp } from '../helpers/stack.ts';

const pw = (username: string) => ({ kind: 'password' as const, username });
const basic = (r: RegisteredApp) => ({ clientId: r.clientId, secret: r.secret as string });
const refresh = (app: TestApp, rp: RegisteredApp, token: string) =>
  tokenRequest(app, { grant_type: 'refresh_token', refresh_token: token }, basic(rp));
const userinfo = (app: TestApp, accessToken: string) =>
  fetch(`${app.url}/api/oidc/me`, { headers: { authorization: `Bearer ${accessToken}` } });

async function signedIn(
  app: TestApp,
  rp: RegisteredApp,
  username: string,
  o: Parameters<typeof authorize>[2] = {},
) {
  const b = new BrokerBrowser(app);
  const r = await authorize(b, rp, { login: pw(username), ...o });
  return { r, tokens: await redeem(rp, r) };
}

/** The OidcStore rows of one model (the test app's own tables). */
async function rowsOf(app: TestApp, model: string) {
  const rows: Record<string, unknown>[] = [];
  for await (const e of app.services.tables.oidcStore.listEntities({
    queryOptions: { filter: `PartitionKey ge '${model}:' and PartitionKey lt '${model};'` },
  })) {
    rows.push(e as Record<string, unknown>);
  }
  return rows;
}

describe('OpenID Provider hardening', () => {
  let app: TestApp;
  let rp: RegisteredApp;

  beforeAll(async () => {
    app = await startTestApp();
    await createUser(app, {
      username: 'hd-staff',
      verifyType: 'password',
      password: PASSWORD,
      roles: ['staff'],
    });
    for (const username of ['hd-plain', 'hd-gone', 'hd-mark'])
      await createUser(app, { username, verifyType: 'password', password: PASSWORD });
    rp = await createApplication(app);
  }, 60_000);
  afterAll(async () => {
    await app?.close();
  });

  it('OP10: tightening an app’s allowedRoles ends refresh and userinfo for a user without the role', async () => {
    const own = await createApplication(app);
    const plain = await signedIn(app, own, 'hd-plain');
    const staff = await signedIn(app, own, 'hd-staff');
    const patched = await app.admin(`/api/manage/applications/${own.clientId}`, {
      method: 'PATCH',
      json: { allowedRoles: ['staff'] },
    });
    expect(patched.status, await patched.clone().text()).toBe(200);
    for (let i = 0; i < 3; i++) {
      const again = await refresh(app, own, plain.tokens.refresh_token as string);
      expect(again).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    }
    expect((await userinfo(app, plain.tokens.access_token)).status).toBe(401);
    // A user who holds the role goes on.
    const ok = await refresh(app, own, staff.tokens.refresh_token as string);
    expect(ok.status).toBe(200);
    expect((await userinfo(app, staff.tokens.access_token)).status).toBe(200);
  });

  it('OP10: a grant whose broker session is not on record is not alive (refresh and userinfo refused)', async () => {
    const { tokens } = await signedIn(app, rp, 'hd-gone');
    expect((await userinfo(app, tokens.access_token)).status).toBe(200);
    // The record of the broker session the grant was made in goes missing (a lost write): on the
    // grant's row, and any row of its own.
    const table = app.services.tables.oidcStore;
    for (const row of await rowsOf(app, 'Grant')) {
      const { partitionKey, rowKey, payload, expiresAt, expiresAtIso, grantKey } = row as Record<
        string,
        string
      >;
      await table.upsertEntity(
        {
          partitionKey: String(partitionKey),
          rowKey: String(rowKey),
          payload,
          expiresAt,
          expiresAtIso,
          ...(grantKey ? { grantKey } : {}),
        },
        'Replace',
      );
    }
    for (const row of await rowsOf(app, 'GrantSession'))
      await table.deleteEntity(row.partitionKey as string, row.rowKey as string);
    expect(await refresh(app, rp, tokens.refresh_token as string)).toMatchObject({
      status: 400,
      body: { error: 'invalid_grant' },
    });
    expect((await userinfo(app, tokens.access_token)).status).toBe(401);
  });

  it('OP15: a 40,000-character parameter is invalid_request before anything is stored (PAR, authorization, token)', async () => {
    const pub = await createApplication(app, { type: 'public' });
    const before = (await rowsOf(app, 'PushedAuthorizationRequest')).length;
    const par = await fetch(`${app.url}/api/oidc/request`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        client_id: pub.clientId,
        response_type: 'code',
        redirect_uri: RP_REDIRECT,
        scope: 'openid',
        code_challenge: 'a'.repeat(43),
        code_challenge_method: 'S256',
        state: 'x'.repeat(40_000),
      }),
    });
    expect(par.status).toBe(400);
    expect(await par.json()).toMatchObject({ error: 'invalid_request' });
    expect((await rowsOf(app, 'PushedAuthorizationRequest')).length).toBe(before);

    const interactions = (await rowsOf(app, 'Interaction')).length;
    const auth = await fetch(`${app.url}/api/oidc/auth`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        client_id: rp.clientId,
        response_type: 'code',
        redirect_uri: RP_REDIRECT,
        scope: 'openid',
        code_challenge: 'a'.repeat(43),
        code_challenge_method: 'S256',
        state: 'x'.repeat(40_000),
      }),
    });
    expect(auth.status).toBe(400);
    expect(auth.headers.get('location')).toBeNull();
    expect((await rowsOf(app, 'Interaction')).length).toBe(interactions);

    const token = await tokenRequest(
      app,
      { grant_type: 'authorization_code', code: 'c'.repeat(40_000) },
      basic(rp),
    );
    expect(token).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
  });

  it('the store’s id placeholder is never substituted: a parameter holding it comes back as sent, and no row holds the interaction id', async () => {
    const state = 'before\u241Ajti\u241Aafter';
    const b = new BrokerBrowser(app);
    const r = await authorize(b, rp, { login: pw('hd-mark'), params: { state } });
    expect(r.callbackUrl?.searchParams.get('state')).toBe(state);
    expect(r.callbackUrl?.searchParams.get('code')).toBeTruthy();
    // An interaction that is still open: its row does not hold its id (the cookie's value) in clear.
    const open = await authorize(new BrokerBrowser(app), rp, { params: { state } });
    const uid = open.hops.map((h) => /\/api\/oidc\/interaction\/([^/?]+)/.exec(h.path)?.[1]).find(Boolean);
    expect(uid).toBeTruthy();
    const rows = await rowsOf(app, 'Interaction');
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) expect(String(row.payload)).not.toContain(uid as string);
  });

  it('discovery names the documented response modes (query, form_post) and PAR; response_mode=fragment is refused', async () => {
    const doc = (await (
      await fetch(`${app.url}/api/oidc/.well-known/openid-configuration`)
    ).json()) as Record<string, unknown>;
    expect(doc.response_modes_supported).toEqual(['query', 'form_post']);
    expect(doc.pushed_authorization_request_endpoint).toBe(`${app.url}/api/oidc/request`);
    const b = new BrokerBrowser(app);
    const r = await authorize(b, rp, { login: pw('hd-plain'), params: { response_mode: 'fragment' } });
    expect(r.callbackUrl).toBeUndefined();
    expect(r.last.status).toBe(400);
  });
});

describe('OpenID Provider under storage faults (a proxy in front of Azurite)', () => {
  let app: TestApp;
  let rp: RegisteredApp;
  let proxy: FaultyProxy & { url: string };

  beforeAll(async () => {
    proxy = await tablesProxy();
    app = await startTestApp({
      env: { BROKER_TABLE_ENDPOINT: proxy.url, BROKER_DEPENDENCY_TIMEOUT_MS: '2000' },
    });
    for (const username of ['hf-a', 'hf-b', 'hf-c'])
      await createUser(app, { username, verifyType: 'password', password: PASSWORD });
    rp = await createApplication(app);
  }, 60_000);
  afterAll(async () => {
    await app?.close();
    await proxy?.close();
  });

  it('storage down: the token endpoint and userinfo answer OAuth JSON 503 temporarily_unavailable with Retry-After', async () => {
    const b = new BrokerBrowser(app);
    const r = await authorize(b, rp, { login: pw('hf-a') });
    const tokens = await redeem(rp, r);
    const again = await signedIn(app, rp, 'hf-a');
    await proxy.down();
    try {
      const res = await fetch(`${app.url}/api/oidc/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`${rp.clientId}:${rp.secret}`).toString('base64')}`,
        },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code: again.r.callbackUrl?.searchParams.get('code') ?? 'x',
          redirect_uri: RP_REDIRECT,
          code_verifier: again.r.verifier,
        }),
      });
      expect(res.status).toBe(503);
      expect(res.headers.get('content-type')).toContain('application/json');
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(await res.json()).toMatchObject({ error: 'temporarily_unavailable' });

      const ref = await fetch(`${app.url}/api/oidc/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`${rp.clientId}:${rp.secret}`).toString('base64')}`,
        },
        body: new URLSearchParams({
          grant_type: 'refresh_token',
          refresh_token: tokens.refresh_token as string,
        }),
      });
      expect(ref.status).toBe(503);
      expect(await ref.json()).toMatchObject({ error: 'temporarily_unavailable' });

      const me = await userinfo(app, tokens.access_token);
      expect(me.status).toBe(503);
      expect(me.headers.get('content-type')).toContain('application/json');
      expect(Number(me.headers.get('retry-after'))).toBeGreaterThan(0);
    } finally {
      await proxy.up();
    }
    // Back up: nothing half-made; the tokens still work.
    expect((await userinfo(app, tokens.access_token)).status).toBe(200);
  });

  it('a lost answer to the code’s consume, then the token request retried: invalid_grant, never a 500', async () => {
    const b = new BrokerBrowser(app);
    const r = await authorize(b, rp, { login: pw('hf-b') });
    const form = {
      grant_type: 'authorization_code',
      code: r.callbackUrl?.searchParams.get('code') ?? '',
      redirect_uri: RP_REDIRECT,
      code_verifier: r.verifier,
    };
    // Every attempt of the consume reaches storage; its answers are lost.
    proxy.loseAnswers(/^PATCH [^\n]*OidcStore\(PartitionKey='AuthorizationCode/, 3);
    const first = await tokenRequest(app, form, basic(rp));
    proxy.pass();
    proxy.loseAnswers(/^$/, 0);
    expect(first.status).not.toBe(500);
    expect(first.status === 503 || first.status === 400).toBe(true);
    const retried = await tokenRequest(app, form, basic(rp));
    expect(retried).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  });

  it('storage down at the authorization endpoint: the 503 error page, no redirect', async () => {
    const b = new BrokerBrowser(app);
    expect((await b.post('/api/auth/password', { username: 'hf-c', password: PASSWORD })).status).toBe(303);
    await proxy.down();
    try {
      const r = await authorize(b, rp);
      expect(r.callbackUrl).toBeUndefined();
      expect(r.last.status).toBe(503);
      expect(r.last.headers.get('content-type')).toContain('text/html');
    } finally {
      await proxy.up();
    }
  });
});
