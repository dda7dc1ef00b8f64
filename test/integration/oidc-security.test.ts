/**
 * docs/security.md section M (the broker as OpenID Provider), each requirement with a test that fails
 * without its protection: exact redirect URIs (OP1), PKCE S256 (OP2), one redemption per code (OP3,
 * 20 in parallel), client authentication (OP5), revocation on sign-out-everywhere / disable / app
 * deletion (OP6), verified id_token_hint and RP logout ending the broker session (OP7), required
 * roles (OP8); plus the audit of tokens issued and authorizations refused.
 */
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  authorize,
  createApplication,
  oidc,
  PASSWORD,
  type RegisteredApp,
  RP_LOGOUT,
  RP_REDIRECT,
  redeem,
  revocationRequest,
  tokenRequest,
  userinfoStatus,
} from '../helpers/oidc.ts';
import { BrokerBrowser, createUser } from '../helpers/signin.ts';
import { startTestApp, type TestApp } from '../helpers/stack.ts';

const pw = (username: string) => ({ kind: 'password' as const, username });

describe('OpenID Provider: security (docs/security.md M)', () => {
  let app: TestApp;
  let rp: RegisteredApp;

  beforeAll(async () => {
    app = await startTestApp();
    for (const username of ['sec-a', 'sec-b', 'sec-c', 'sec-d', 'sec-e', 'sec-f', 'sec-g']) {
      await createUser(app, { username, verifyType: 'password', password: PASSWORD, roles: ['staff'] });
    }
    await createUser(app, { username: 'sec-noroles', verifyType: 'password', password: PASSWORD });
    rp = await createApplication(app);
  }, 60_000);
  afterAll(async () => {
    await app?.close();
  });

  const basic = (r: RegisteredApp) => ({ clientId: r.clientId, secret: r.secret as string });
  const codeOf = (r: { callbackUrl?: URL }) => r.callbackUrl?.searchParams.get('code') as string;

  it('OP1: an unregistered redirect_uri gets an error page at the broker (400), never a redirect', async () => {
    const b = new BrokerBrowser(app);
    for (const uri of [
      'https://evil.example/cb',
      `${RP_REDIRECT}/x`,
      `${RP_REDIRECT}?a=1`,
      'http://127.0.0.1:8401/callback',
    ]) {
      const r = await authorize(b, rp, { redirectUri: uri, login: pw('sec-a') });
      expect(r.callbackUrl).toBeUndefined();
      expect(r.last.status).toBe(400);
      expect(r.last.headers.get('location')).toBeNull();
      expect(r.last.headers.get('content-type')).toContain('text/html');
      expect(r.last.headers.get('content-security-policy')).toContain("default-src 'none'");
      const html = await r.last.text();
      expect(html).toContain('not valid');
      expect(html).not.toContain('evil.example');
    }
  });

  it('OP2: no code_challenge → invalid_request; plain → refused (public and confidential clients)', async () => {
    const pub = await createApplication(app, { type: 'public' });
    for (const client of [pub, rp]) {
      const b = new BrokerBrowser(app);
      const none = await authorize(b, client, {
        params: { code_challenge: undefined, code_challenge_method: undefined },
        login: pw('sec-a'),
      });
      expect(none.callbackUrl?.searchParams.get('error')).toBe('invalid_request');
      expect(none.callbackUrl?.searchParams.get('code')).toBeNull();
      const plain = await authorize(b, client, {
        params: { code_challenge: 'a'.repeat(43), code_challenge_method: 'plain' },
        login: pw('sec-a'),
      });
      expect(plain.callbackUrl?.searchParams.get('error')).toBe('invalid_request');
      expect(plain.callbackUrl?.searchParams.get('code')).toBeNull();
    }
  });

  it('OP3: a replayed code is invalid_grant and revokes the tokens of the first redemption', async () => {
    const b = new BrokerBrowser(app);
    const r = await authorize(b, rp, { login: pw('sec-a') });
    const tokens = await redeem(rp, r);
    const again = await tokenRequest(
      app,
      {
        grant_type: 'authorization_code',
        code: codeOf(r),
        redirect_uri: RP_REDIRECT,
        code_verifier: r.verifier,
      },
      basic(rp),
    );
    expect(again).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    await expect(oidc.fetchUserInfo(rp.config, tokens.access_token, oidc.skipSubjectCheck)).rejects.toThrow();
    const refresh = await tokenRequest(
      app,
      { grant_type: 'refresh_token', refresh_token: tokens.refresh_token as string },
      basic(rp),
    );
    expect(refresh).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  });

  it('OP3: 20 parallel redemptions of one code → exactly one succeeds', async () => {
    const b = new BrokerBrowser(app);
    const r = await authorize(b, rp, { login: pw('sec-b') });
    const form = {
      grant_type: 'authorization_code',
      code: codeOf(r),
      redirect_uri: RP_REDIRECT,
      code_verifier: r.verifier,
    };
    const results = await Promise.all(Array.from({ length: 20 }, () => tokenRequest(app, form, basic(rp))));
    const ok = results.filter((x) => x.status === 200);
    expect(ok).toHaveLength(1);
    for (const x of results.filter((y) => y.status !== 200)) {
      expect(x).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    }
    // The losers revoked what the winner issued (the redemption is part of the winner's writes).
    const won = ok[0]?.body as { access_token: string; refresh_token: string };
    const info = await fetch(`${app.url}/api/oidc/me`, {
      headers: { authorization: `Bearer ${won.access_token}` },
    });
    expect(info.status).toBe(401);
    const refresh = await tokenRequest(
      app,
      { grant_type: 'refresh_token', refresh_token: won.refresh_token },
      basic(rp),
    );
    expect(refresh).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    // A redemption after the race is refused as well.
    expect(await tokenRequest(app, form, basic(rp))).toMatchObject({
      status: 400,
      body: { error: 'invalid_grant' },
    });
  });

  it('OP5: a wrong client secret is invalid_client (401); the right one with a wrong verifier is invalid_grant', async () => {
    const b = new BrokerBrowser(app);
    const r = await authorize(b, rp, { login: pw('sec-a') });
    const form = {
      grant_type: 'authorization_code',
      code: codeOf(r),
      redirect_uri: RP_REDIRECT,
      code_verifier: r.verifier,
    };
    const wrong = await tokenRequest(app, form, { clientId: rp.clientId, secret: `${rp.secret}x` });
    expect(wrong).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
    const noAuth = await tokenRequest(app, { ...form, client_id: rp.clientId });
    expect(noAuth).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
    const badVerifier = await tokenRequest(app, { ...form, code_verifier: 'x'.repeat(43) }, basic(rp));
    expect(badVerifier).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  });

  it('OP8: a user without one of the app’s roles gets access_denied at the app, never a code', async () => {
    const staffOnly = await createApplication(app, { allowedRoles: ['staff'] });
    const denied = await authorize(new BrokerBrowser(app), staffOnly, { login: pw('sec-noroles') });
    expect(denied.callbackUrl?.searchParams.get('error')).toBe('access_denied');
    expect(denied.callbackUrl?.searchParams.get('code')).toBeNull();
    expect(denied.callbackUrl?.searchParams.get('state')).toBe(denied.state);
    const allowed = await authorize(new BrokerBrowser(app), staffOnly, { login: pw('sec-a') });
    expect(codeOf(allowed)).toBeTruthy();
    const audit = await app.services.auditQuery.list({ type: 'oidc.authorization.refused' });
    expect(audit.items.some((e) => e.reason === 'missing_role')).toBe(true);
  });

  async function signedIn(username: string, client = rp) {
    const b = new BrokerBrowser(app);
    const tokens = await redeem(client, await authorize(b, client, { login: pw(username) }));
    return { b, tokens };
  }

  async function expectRevoked(client: RegisteredApp, tokens: oidc.TokenEndpointResponse) {
    const refresh = await tokenRequest(
      app,
      { grant_type: 'refresh_token', refresh_token: tokens.refresh_token as string },
      { clientId: client.clientId, secret: client.secret as string },
    );
    expect(refresh.status).toBeGreaterThanOrEqual(400);
    expect(['invalid_grant', 'invalid_client']).toContain(refresh.body.error);
    const info = await fetch(`${app.url}/api/oidc/me`, {
      headers: { authorization: `Bearer ${tokens.access_token}` },
    });
    expect(info.status).toBe(401);
    return refresh.body.error;
  }

  it('OP6: "sign out everywhere" makes refresh fail and userinfo refuse the access token', async () => {
    const { tokens } = await signedIn('sec-c');
    const ok = await oidc.fetchUserInfo(rp.config, tokens.access_token, oidc.skipSubjectCheck);
    expect(ok.preferred_username).toBe('sec-c');
    const res = await app.admin('/api/manage/users/sec-c/sessions', { method: 'DELETE' });
    expect(res.status).toBeLessThan(300);
    expect(await expectRevoked(rp, tokens)).toBe('invalid_grant');
  });

  it('OP6: a revoked grant takes its access tokens with it (no index of them: userinfo checks the grant), while the session lives on', async () => {
    await createUser(app, {
      username: 'sec-grant',
      verifyType: 'password',
      password: PASSWORD,
      roles: ['staff'],
    });
    const { b, tokens } = await signedIn('sec-grant');
    const ok = await oidc.fetchUserInfo(rp.config, tokens.access_token, oidc.skipSubjectCheck);
    expect(ok.preferred_username).toBe('sec-grant');
    const revoke = (by: RegisteredApp) =>
      revocationRequest(
        app,
        { token: tokens.refresh_token as string, token_type_hint: 'refresh_token' },
        basic(by),
      );
    // RFC 7009 §2.1: another application may not revoke it, and is told so.
    const other = await createApplication(app);
    const refused = await revoke(other);
    expect(refused).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    expect((await oidc.fetchUserInfo(rp.config, tokens.access_token, oidc.skipSubjectCheck)).sub).toBe(
      ok.sub,
    );
    // Its own application revokes it, and with it its grant; nothing else about the user changed.
    const revoked = await revoke(rp);
    expect(revoked.status).toBe(200);
    const info = await fetch(`${app.url}/api/oidc/me`, {
      headers: { authorization: `Bearer ${tokens.access_token}` },
    });
    expect(info.status).toBe(401);
    expect(info.headers.get('www-authenticate')).toContain('invalid_token');
    // The user and the broker session are fine: the same browser signs in to the app again.
    const again = await redeem(rp, await authorize(b, rp));
    const info2 = await oidc.fetchUserInfo(rp.config, again.access_token, oidc.skipSubjectCheck);
    expect(info2.preferred_username).toBe('sec-grant');
  });

  it('OP6: revoking an access token (RFC 7009) revokes its grant: the grant’s other access and refresh tokens are refused too', async () => {
    await createUser(app, {
      username: 'sec-at',
      verifyType: 'password',
      password: PASSWORD,
      roles: ['staff'],
    });
    const { tokens } = await signedIn('sec-at');
    const next = await oidc.refreshTokenGrant(rp.config, tokens.refresh_token as string);
    const revoked = await revocationRequest(
      app,
      { token: tokens.access_token, token_type_hint: 'access_token' },
      basic(rp),
    );
    expect(revoked.status).toBe(200);
    expect(await userinfoStatus(app, tokens.access_token)).toBe(401);
    expect(await userinfoStatus(app, next.access_token)).toBe(401);
    const refresh = await tokenRequest(
      app,
      { grant_type: 'refresh_token', refresh_token: next.refresh_token as string },
      basic(rp),
    );
    expect(refresh).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  });

  it('OP6: disabling the user makes refresh fail and userinfo refuse the access token', async () => {
    const { tokens } = await signedIn('sec-d');
    const res = await app.admin('/api/manage/users/sec-d', { method: 'PATCH', json: { disabled: true } });
    expect(res.status, await res.clone().text()).toBe(200);
    expect(await expectRevoked(rp, tokens)).toBe('invalid_grant');
  });

  it('OP6: a user deleted and created again under the same name is a new subject; the old tokens stay dead', async () => {
    await createUser(app, {
      username: 'sec-h',
      verifyType: 'password',
      password: PASSWORD,
      roles: ['staff'],
    });
    const first = await signedIn('sec-h');
    const before = await oidc.fetchUserInfo(rp.config, first.tokens.access_token, oidc.skipSubjectCheck);
    // This instance now knows which username the sub had; the recreated user must not inherit it.
    expect((await app.admin('/api/manage/users/sec-h', { method: 'DELETE' })).status).toBe(204);
    await createUser(app, {
      username: 'sec-h',
      verifyType: 'password',
      password: PASSWORD,
      roles: ['staff'],
    });
    expect(await expectRevoked(rp, first.tokens)).toBe('invalid_grant');
    const second = await signedIn('sec-h');
    const after = await oidc.fetchUserInfo(rp.config, second.tokens.access_token, oidc.skipSubjectCheck);
    expect(after.preferred_username).toBe('sec-h');
    expect(after.sub).not.toBe(before.sub);
    expect(second.tokens.claims()?.sub).toBe(after.sub);
  });

  it('OP6: deleting the application stops its refresh and access tokens', async () => {
    const doomed = await createApplication(app);
    const { tokens } = await signedIn('sec-e', doomed);
    const res = await app.admin(`/api/manage/applications/${doomed.clientId}`, { method: 'DELETE' });
    expect(res.status).toBe(204);
    await expectRevoked(doomed, tokens);
  });

  it('OP7: RP-initiated logout ends the broker session and returns to the registered URI; a forged id_token_hint does not redirect', async () => {
    const { b, tokens } = await signedIn('sec-a');
    expect((await b.session()).status).toBe(200);

    // Forged hint: same claims, signed by a key that is not ours.
    const { privateKey } = await import('node:crypto').then((c) =>
      c.generateKeyPairSync('ec', { namedCurve: 'P-256' }),
    );
    const claims = tokens.claims() as Record<string, unknown>;
    const forged = await new SignJWT({ ...claims })
      .setProtectedHeader({ alg: 'ES256', kid: 'forged' })
      .sign(privateKey);
    const bad = await b.get(
      `/api/oidc/session/end?${new URLSearchParams({ id_token_hint: forged, post_logout_redirect_uri: RP_LOGOUT, client_id: rp.clientId })}`,
    );
    expect(bad.status).toBe(400);
    expect(bad.headers.get('location')).toBeNull();
    // Unregistered post-logout URI with a genuine hint: no redirect either.
    const unreg = await b.get(
      `/api/oidc/session/end?${new URLSearchParams({ id_token_hint: tokens.id_token as string, post_logout_redirect_uri: 'https://evil.example/bye' })}`,
    );
    expect(unreg.status).toBe(400);
    expect(unreg.headers.get('location')).toBeNull();
    expect((await b.session()).status).toBe(200);

    const url = oidc.buildEndSessionUrl(rp.config, {
      id_token_hint: tokens.id_token as string,
      post_logout_redirect_uri: RP_LOGOUT,
      state: 'bye-state',
    });
    const confirm = await b.get(url.href);
    expect(confirm.status).toBe(200);
    const html = await confirm.text();
    expect(html).toContain('Sign out?');
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1] ?? '';
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(html)?.[1] ?? '';
    expect(action).toContain('/api/oidc/session/end/confirm');
    const done = await b.post(new URL(action).pathname, { xsrf, logout: 'yes' });
    expect(done.status).toBe(303);
    const back = new URL(done.headers.get('location') ?? '');
    expect(`${back.origin}${back.pathname}`).toBe(RP_LOGOUT);
    expect(back.searchParams.get('state')).toBe('bye-state');
    expect(done.headers.getSetCookie().some((c) => c.startsWith('__Host-broker_session=;'))).toBe(true);
    // The broker session is gone: the app's next authorization asks for a sign-in again.
    expect((await b.session()).status).toBe(401);
    const next = await authorize(b, rp, { login: { kind: 'none' } });
    expect(next.loginPages).toBe(1);
  });

  it('tokens die with the broker session they were granted in: signing out of the broker stops refresh and userinfo', async () => {
    const { b, tokens } = await signedIn('sec-f');
    expect(tokens.refresh_token).toBeTruthy();
    // A plain broker sign-out (not through the app): the grant made in that session ends with it.
    const out = await b.post('/api/auth/logout', {});
    expect(out.status).toBe(303);
    expect((await b.session()).status).toBe(401);
    expect(await expectRevoked(rp, tokens)).toBe('invalid_grant');
  });

  it('a site cannot sign a visitor out of the broker through the OP end-session endpoint (no OP account: no broker logout)', async () => {
    // A browser signed in to the broker directly (no OP session with an account, e.g. an admin).
    const b = new BrokerBrowser(app);
    const signIn = await b.post('/api/auth/password', { username: 'sec-g', password: PASSWORD });
    expect(signIn.status).toBe(303);
    expect((await b.session()).status).toBe(200);
    // What a cross-site page would make the browser load and then auto-submit.
    const page = await b.get('/api/oidc/session/end');
    const html = await page.text();
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(html)?.[1];
    if (action && xsrf) {
      const done = await b.post(new URL(action, app.url).pathname, { xsrf, logout: 'yes' });
      expect(done.headers.getSetCookie().some((c) => c.startsWith('__Host-broker_session=;'))).toBe(false);
    }
    expect((await b.session()).status).toBe(200);
  });

  it('CORS only for the origins of the client’s registered redirect URIs (clientBasedCORS)', async () => {
    const { tokens } = await signedIn('sec-a');
    const call = (origin: string) =>
      fetch(`${app.url}/api/oidc/me`, {
        headers: { authorization: `Bearer ${tokens.access_token}`, origin },
      });
    const own = await call('http://127.0.0.1:8400');
    expect(own.status).toBe(200);
    expect(own.headers.get('access-control-allow-origin')).toBe('http://127.0.0.1:8400');
    const other = await call('https://evil.example');
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('audits every token issued (client, user, grant type) and refused token requests (reason)', async () => {
    await signedIn('sec-a');
    const issued = await app.services.auditQuery.list({ type: 'oidc.token.issued' });
    expect(issued.items.length).toBeGreaterThan(0);
    const e = issued.items[0];
    expect(e?.details).toMatchObject({ clientId: expect.any(String), grantType: 'authorization_code' });
    expect(String(e?.details?.userId)).toMatch(/./);
    const refused = await app.services.auditQuery.list({ type: 'oidc.token.refused' });
    expect(refused.items.map((x) => x.reason)).toEqual(
      expect.arrayContaining(['invalid_grant', 'invalid_client']),
    );
  });
});
