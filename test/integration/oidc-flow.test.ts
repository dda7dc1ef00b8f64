/**
 * The broker as OpenID Provider, driven by openid-client v6 as the application and a
 * browser-like fetch client as the user: discovery, code + PKCE for a password user and an Entra
 * user, the ID token checked by the client library, userinfo, refresh rotation, single sign-on,
 * prompt=login, login_hint, cookies (OP9).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  authorize,
  createApplication,
  oidc,
  PASSWORD,
  type RegisteredApp,
  redeem,
  replayCode,
  tokenRequest,
  userinfoStatus,
} from '../helpers/oidc.ts';
import { BrokerBrowser, createDemoIntegration, createUser, demoAccount } from '../helpers/signin.ts';
import { startTestApp, type TestApp } from '../helpers/stack.ts';

describe('OpenID Provider: flows', () => {
  let app: TestApp;
  let rp: RegisteredApp;
  let integrationId: string;
  // biome-ignore lint/suspicious/noExplicitAny: management API JSON
  let pwUser: any;
  // biome-ignore lint/suspicious/noExplicitAny: management API JSON
  let entraUser: any;

  beforeAll(async () => {
    app = await startTestApp();
    const integration = await createDemoIntegration(app);
    integrationId = integration.id;
    pwUser = await createUser(app, {
      username: 'op-pw',
      displayName: 'Pat Password',
      email: 'pat@example.com',
      verifyType: 'password',
      password: PASSWORD,
      roles: ['staff'],
    });
    entraUser = await createUser(app, {
      username: 'op-entra',
      email: demoAccount('op-entra'),
      verifyType: { integrationId },
    });
    rp = await createApplication(app);
  }, 60_000);
  afterAll(async () => {
    await app?.close();
  });

  it('publishes discovery at the issuer: code flow only, S256, the stated scopes and claims', async () => {
    const res = await fetch(`${app.url}/api/oidc/.well-known/openid-configuration`);
    expect(res.status).toBe(200);
    expect(res.headers.get('strict-transport-security')).toContain('max-age=31536000');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    const d = await res.json();
    expect(d.issuer).toBe(`${app.url}/api/oidc`);
    expect(d.authorization_endpoint).toBe(`${app.url}/api/oidc/auth`);
    expect(d.token_endpoint).toBe(`${app.url}/api/oidc/token`);
    expect(d.jwks_uri).toBe(`${app.url}/api/oidc/jwks`);
    expect(d.response_types_supported).toEqual(['code']);
    expect(d.code_challenge_methods_supported).toEqual(['S256']);
    expect(d.scopes_supported).toEqual(
      expect.arrayContaining(['openid', 'profile', 'email', 'offline_access']),
    );
    expect(d.claims_supported).toEqual(
      expect.arrayContaining([
        'sub',
        'preferred_username',
        'name',
        'email',
        'roles',
        'idp',
        'amr',
        'auth_time',
        'sid',
      ]),
    );
    expect(d.id_token_signing_alg_values_supported).toEqual(expect.arrayContaining(['RS256', 'ES256']));
    expect(d.end_session_endpoint).toBe(`${app.url}/api/oidc/session/end`);
    const jwks = await (await fetch(d.jwks_uri)).json();
    expect(jwks.keys.map((k: { alg: string }) => k.alg).sort()).toEqual(['ES256', 'RS256']);
    expect(JSON.stringify(jwks)).not.toMatch(/"d":/);
  });

  it('signs a password user in: code + PKCE, ID token checked by openid-client, userinfo, every cookie Secure/HttpOnly/Lax', async () => {
    const b = new BrokerBrowser(app);
    const r = await authorize(b, rp, { login: { kind: 'password', username: 'op-pw' } });
    expect(r.loginPages).toBe(1);
    expect(r.callbackUrl?.searchParams.get('code')).toBeTruthy();
    const tokens = await redeem(rp, r);
    const claims = tokens.claims();
    expect(claims).toMatchObject({
      iss: `${app.url}/api/oidc`,
      aud: rp.clientId,
      sub: pwUser.id,
      preferred_username: 'op-pw',
      name: 'Pat Password',
      email: 'pat@example.com',
      roles: ['staff'],
      amr: ['pwd'],
      idp: 'password',
      nonce: r.nonce,
    });
    expect(typeof claims?.auth_time).toBe('number');
    // sid in every ID token (back-channel logout tokens name it).
    expect(typeof claims?.sid).toBe('string');
    expect(tokens.refresh_token).toBeTruthy();
    const info = await oidc.fetchUserInfo(rp.config, tokens.access_token, pwUser.id);
    expect(info).toMatchObject({ sub: pwUser.id, preferred_username: 'op-pw', roles: ['staff'] });

    // OP9: every cookie of the whole flow.
    const lines = r.hops.flatMap((h) => h.setCookies);
    expect(lines.length).toBeGreaterThan(3);
    for (const line of lines) {
      expect(line, line.split('=')[0]).toMatch(/;\s*Secure/i);
      expect(line, line.split('=')[0]).toMatch(/;\s*HttpOnly/i);
      expect(line, line.split('=')[0]).toMatch(/;\s*SameSite=Lax/i);
    }
  });

  it('signs an Entra user in through the stand-in (the interaction survives the round trip): amr fed, idp = integration', async () => {
    const b = new BrokerBrowser(app);
    const r = await authorize(b, rp, {
      login: { kind: 'entra', username: 'op-entra', account: demoAccount('op-entra') },
    });
    expect(r.loginPages).toBe(1);
    const tokens = await redeem(rp, r);
    expect(tokens.claims()).toMatchObject({ sub: entraUser.id, amr: ['fed'], idp: integrationId });
  });

  it('single sign-on: an existing broker session answers without a page; prompt=login asks again', async () => {
    const b = new BrokerBrowser(app);
    const first = await authorize(b, rp, { login: { kind: 'password', username: 'op-pw' } });
    await redeem(rp, first);
    const sso = await authorize(b, rp, { login: { kind: 'none' } });
    expect(sso.loginPages).toBe(0);
    expect(sso.callbackUrl?.searchParams.get('code')).toBeTruthy();
    expect(sso.hops.every((h) => h.status !== 200)).toBe(true);
    const ssoTokens = await redeem(rp, sso);
    expect(ssoTokens.claims()?.sub).toBe(pwUser.id);

    // prompt=login: the sign-in page although signed in; nothing for the app until a new sign-in.
    const asked = await authorize(b, rp, { prompt: 'login', login: { kind: 'none' } });
    expect(asked.loginPages).toBe(1);
    expect(asked.callbackUrl).toBeUndefined();
    const again = await authorize(b, rp, { prompt: 'login', login: { kind: 'password', username: 'op-pw' } });
    expect(again.loginPages).toBe(1);
    const t2 = await redeem(rp, again);
    expect(t2.claims()?.auth_time).toBeGreaterThanOrEqual(ssoTokens.claims()?.auth_time as number);
  });

  it('single sign-on carries the application’s grant on while it covers the request: more scope gets a fresh grant, a replayed code revokes what the grant issued', async () => {
    const b = new BrokerBrowser(app);
    const info = (token: string) => userinfoStatus(app, token);
    const narrow = { scope: 'openid profile email', login: { kind: 'none' as const } };
    const t1 = await redeem(
      rp,
      await authorize(b, rp, { ...narrow, login: { kind: 'password', username: 'op-pw' } }),
    );
    expect(t1.refresh_token).toBeUndefined();
    // Asking for more (offline_access): a fresh grant that holds it, and a refresh token.
    const t2 = await redeem(rp, await authorize(b, rp, { login: { kind: 'none' } }));
    expect(t2.refresh_token).toBeTruthy();
    // Asking for less: that grant carries on. The token issued before stays valid (its grant is still
    // the session's grant for the app), and the new one carries only what was asked for now.
    const third = await authorize(b, rp, narrow);
    expect(third.loginPages).toBe(0);
    const t3 = await redeem(rp, third);
    expect(t3.refresh_token).toBeUndefined();
    expect(t3.scope?.split(' ').sort()).toEqual(['email', 'openid', 'profile']);
    expect(await info(t2.access_token)).toBe(200);
    expect(await info(t3.access_token)).toBe(200);
    const refreshed = await oidc.refreshTokenGrant(rp.config, t2.refresh_token as string);
    expect(refreshed.access_token).toBeTruthy();
    // A replayed code revokes its grant (RFC 6749 4.1.2): everything that grant issued, by any of
    // the authorizations it served.
    const replay = await replayCode(app, rp, third);
    expect(replay).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect(await info(t3.access_token)).toBe(401);
    expect(await info(refreshed.access_token)).toBe(401);
    const dead = await tokenRequest(
      app,
      { grant_type: 'refresh_token', refresh_token: refreshed.refresh_token as string },
      { clientId: rp.clientId, secret: rp.secret as string },
    );
    expect(dead).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    // The broker session is untouched: the next sign-in gets a fresh grant at once.
    const after = await redeem(rp, await authorize(b, rp, narrow));
    expect(await info(after.access_token)).toBe(200);

    // The grant the login step made (after the sign-in page) is carried on the same way.
    const b2 = new BrokerBrowser(app);
    const viaPage = await authorize(b2, rp, { login: { kind: 'password', username: 'op-pw' } });
    expect(viaPage.loginPages).toBe(1);
    const p1 = await redeem(rp, viaPage);
    const sso = await authorize(b2, rp, narrow);
    expect(sso.loginPages).toBe(0);
    await redeem(rp, sso);
    const replayed = await replayCode(app, rp, sso);
    expect(replayed).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect(await info(p1.access_token)).toBe(401);
  });

  it('max_age: a sign-in older than it asks again; a recent one answers at once', async () => {
    const b = new BrokerBrowser(app);
    await redeem(rp, await authorize(b, rp, { login: { kind: 'password', username: 'op-pw' } }));
    const recent = await authorize(b, rp, { maxAge: 3600, login: { kind: 'none' } });
    expect(recent.loginPages).toBe(0);
    await redeem(rp, recent);
    await new Promise((r) => setTimeout(r, 1100));
    const stale = await authorize(b, rp, { maxAge: 1, login: { kind: 'none' } });
    expect(stale.loginPages).toBe(1);
    expect(stale.callbackUrl).toBeUndefined();
    const again = await authorize(b, rp, { maxAge: 1, login: { kind: 'password', username: 'op-pw' } });
    expect(again.loginPages).toBe(1);
    const t = await redeem(rp, again);
    expect(Date.now() / 1000 - (t.claims()?.auth_time as number)).toBeLessThan(30);
  });

  it('login_hint fills in the username step', async () => {
    const b = new BrokerBrowser(app);
    const r = await authorize(b, rp, { loginHint: 'op-pw', login: { kind: 'none' } });
    expect(r.loginPages).toBe(1);
    const html = await r.last.text();
    expect(html).toContain('value="op-pw"');
    // The pages' CSP form-action lets the redirects after their form posts reach the app (and no other).
    const returnTo = /name="returnTo" value="([^"]+)"/.exec(html)?.[1] ?? '';
    expect(returnTo).toMatch(/^\/api\/oidc\/interaction\//);
    const step = await b.post('/api/auth/login', { username: 'op-pw', returnTo });
    expect(step.status).toBe(200);
    const csp = step.headers.get('content-security-policy') ?? '';
    expect(csp).toMatch(/form-action 'self'[^;]* http:\/\/127\.0\.0\.1:8400/);
    const plain = await new BrokerBrowser(app).post('/api/auth/login', { username: 'op-pw' });
    expect(plain.headers.get('content-security-policy')).not.toContain('127.0.0.1:8400');
  });

  it('OP4: refresh tokens rotate; reusing the old one is invalid_grant and kills the new one too', async () => {
    const b = new BrokerBrowser(app);
    const tokens = await redeem(
      rp,
      await authorize(b, rp, { login: { kind: 'password', username: 'op-pw' } }),
    );
    const old = tokens.refresh_token as string;
    const next = await oidc.refreshTokenGrant(rp.config, old);
    expect(next.refresh_token).toBeTruthy();
    expect(next.refresh_token).not.toBe(old);
    const auth = { clientId: rp.clientId, secret: rp.secret as string };
    const reuse = await tokenRequest(app, { grant_type: 'refresh_token', refresh_token: old }, auth);
    expect(reuse).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    const after = await tokenRequest(
      app,
      { grant_type: 'refresh_token', refresh_token: next.refresh_token as string },
      auth,
    );
    expect(after).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  });
});
