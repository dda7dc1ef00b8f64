/**
 * Every kind of application through the broker's OpenID Provider, driven by openid-client: every
 * way an authorization request arrives behaves the same (GET, form POST, PAR); re-authentication of
 * the same user keeps the session's other grants (OP11); prompt=none answers from the broker session
 * without a page (OP12).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../../shared/core/clock.ts';
import {
  authorize,
  createApplication,
  oidc,
  PASSWORD,
  type RegisteredApp,
  redeem,
  tokenRequest,
} from '../helpers/oidc.ts';
import { BrokerBrowser, createUser } from '../helpers/signin.ts';
import { startTestApp, type TestApp } from '../helpers/stack.ts';

describe('OpenID Provider: every kind of application', () => {
  let app: TestApp;
  let rpA: RegisteredApp;
  let rpB: RegisteredApp;
  // biome-ignore lint/suspicious/noExplicitAny: management API JSON
  let user: any;

  beforeAll(async () => {
    app = await startTestApp();
    user = await createUser(app, { username: 'apps-pw', verifyType: 'password', password: PASSWORD });
    await createUser(app, { username: 'apps-other', verifyType: 'password', password: PASSWORD });
    rpA = await createApplication(app);
    rpB = await createApplication(app);
  }, 60_000);
  afterAll(async () => {
    await app?.close();
  });

  it('discovery advertises what works: prompt none and login, the grant types, back-channel logout, sid, the registered auth methods', async () => {
    const d = await (await fetch(`${app.url}/api/oidc/.well-known/openid-configuration`)).json();
    expect(d.prompt_values_supported).toEqual(['none', 'login']);
    expect(d.grant_types_supported).toEqual(['authorization_code', 'refresh_token', 'client_credentials']);
    expect(d.backchannel_logout_supported).toBe(true);
    expect(d.backchannel_logout_session_supported).toBe(true);
    expect(d.claims_supported).toEqual(expect.arrayContaining(['sid', 'auth_time', 'roles']));
    expect(d.token_endpoint_auth_methods_supported).toEqual([
      'client_secret_basic',
      'client_secret_post',
      'none',
    ]);
    expect(d.pushed_authorization_request_endpoint).toBe(`${app.url}/api/oidc/request`);
    expect(d.request_parameter_supported ?? false).toBe(false);
  });

  for (const via of ['get', 'post', 'par'] as const) {
    it(`offline_access gets a refresh token whatever way the request arrives: ${via}`, async () => {
      const b = new BrokerBrowser(app);
      const r = await authorize(b, rpA, { via, login: { kind: 'password', username: 'apps-pw' } });
      expect(r.callbackUrl?.searchParams.get('code'), JSON.stringify(r.hops)).toBeTruthy();
      const tokens = await redeem(rpA, r);
      expect(tokens.claims()?.sub).toBe(user.id);
      expect(tokens.refresh_token).toBeTruthy();
      expect(tokens.scope?.split(' ')).toContain('offline_access');
      // A single sign-on the same way gets one too.
      const sso = await authorize(b, rpA, { via, login: { kind: 'none' } });
      expect(sso.loginPages).toBe(0);
      expect((await redeem(rpA, sso)).refresh_token).toBeTruthy();
    });
  }

  it('OP11: re-authentication of the same user (prompt=login, max_age) keeps app A signed in and refreshes auth_time', async () => {
    const b = new BrokerBrowser(app);
    const a = await redeem(
      rpA,
      await authorize(b, rpA, { login: { kind: 'password', username: 'apps-pw' } }),
    );
    const first = await oidc.refreshTokenGrant(rpA.config, a.refresh_token as string);
    await new Promise((r) => setTimeout(r, 1100));
    const again = await authorize(b, rpB, {
      prompt: 'login',
      login: { kind: 'password', username: 'apps-pw' },
    });
    expect(again.loginPages).toBe(1);
    const bTokens = await redeem(rpB, again);
    expect(bTokens.claims()?.auth_time).toBeGreaterThan(a.claims()?.auth_time as number);
    // App A's refresh token still works, and its session is the same one (same sid).
    const second = await oidc.refreshTokenGrant(rpA.config, first.refresh_token as string);
    expect(second.access_token).toBeTruthy();
    await new Promise((r) => setTimeout(r, 1100));
    const fresh = await redeem(
      rpB,
      await authorize(b, rpB, { maxAge: 0, login: { kind: 'password', username: 'apps-pw' } }),
    );
    expect(fresh.claims()?.auth_time).toBeGreaterThan(bTokens.claims()?.auth_time as number);
    const third = await oidc.refreshTokenGrant(rpA.config, second.refresh_token as string);
    expect(third.access_token).toBeTruthy();
    // An SSO for A after the re-authentication carries the new auth_time, and the same sid.
    const sso = await redeem(rpA, await authorize(b, rpA, { login: { kind: 'none' } }));
    expect(sso.claims()?.auth_time).toBe(fresh.claims()?.auth_time);
    expect(sso.claims()?.sid).toBe(a.claims()?.sid);
  });

  it('OP11: after a re-authentication, app A lives as long as the session the browser now holds (not the replaced one)', async () => {
    const clock = manualClock();
    const timed = await startTestApp({ clock });
    try {
      await createUser(timed, { username: 'apps-idle', verifyType: 'password', password: PASSWORD });
      const a = await createApplication(timed);
      const bApp = await createApplication(timed);
      const b = new BrokerBrowser(timed);
      const tokens = await redeem(
        a,
        await authorize(b, a, { login: { kind: 'password', username: 'apps-idle' } }),
      );
      clock.advance(1000);
      await redeem(
        bApp,
        await authorize(b, bApp, { prompt: 'login', login: { kind: 'password', username: 'apps-idle' } }),
      );
      // The browser keeps using its session (app B signs in again every 20 minutes): it never idles.
      clock.advance(20 * 60_000);
      await redeem(bApp, await authorize(b, bApp, { login: { kind: 'none' } }));
      clock.advance(20 * 60_000);
      const next = await oidc.refreshTokenGrant(a.config, tokens.refresh_token as string);
      expect(next.access_token).toBeTruthy();
      // Signing out of the broker ends app A too.
      const out = await b.post('/api/auth/logout', {});
      expect(out.status).toBe(303);
      const auth = { clientId: a.clientId, secret: a.secret as string };
      const after = await tokenRequest(
        timed,
        { grant_type: 'refresh_token', refresh_token: next.refresh_token as string },
        auth,
      );
      expect(after).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    } finally {
      await timed.close();
    }
  });

  it("OP11: a different user replacing the session ends the previous user's grants", async () => {
    const b = new BrokerBrowser(app);
    const a = await redeem(
      rpA,
      await authorize(b, rpA, { login: { kind: 'password', username: 'apps-pw' } }),
    );
    const other = await authorize(b, rpB, {
      prompt: 'login',
      login: { kind: 'password', username: 'apps-other' },
    });
    // The provider asks the browser to confirm the switch, or answers the new user at once.
    if (other.callbackUrl) await redeem(rpB, other);
    const auth = { clientId: rpA.clientId, secret: rpA.secret as string };
    const refresh = await tokenRequest(
      app,
      { grant_type: 'refresh_token', refresh_token: a.refresh_token as string },
      auth,
    );
    expect(refresh).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  });

  describe('OP12: prompt=none answers from the broker session, never with a page', () => {
    it('with a broker session: a code at once, no page, audited as a silent sign-in', async () => {
      const b = new BrokerBrowser(app);
      await redeem(rpA, await authorize(b, rpA, { login: { kind: 'password', username: 'apps-pw' } }));
      const silent = await authorize(b, rpB, { prompt: 'none', login: { kind: 'none' } });
      expect(silent.loginPages).toBe(0);
      expect(silent.hops).toHaveLength(1);
      expect(silent.callbackUrl?.searchParams.get('state')).toBe(silent.state);
      const tokens = await redeem(rpB, silent);
      expect(tokens.claims()?.sub).toBe(user.id);
      expect(tokens.refresh_token).toBeTruthy();
      const audit = await app.services.auditQuery.list({ type: 'oidc.signin.silent' });
      expect(audit.items.some((e) => e.target === `application:${rpB.clientId}`)).toBe(true);
    });

    it('without a session (a cross-site frame sends no cookie): login_required at the app, no page, no cookie', async () => {
      const b = new BrokerBrowser(app);
      const r = await authorize(b, rpA, { prompt: 'none', login: { kind: 'none' } });
      expect(r.hops).toHaveLength(1);
      expect(r.hops[0]?.status).toBe(303);
      expect(r.hops[0]?.setCookies).toEqual([]);
      expect(r.callbackUrl?.searchParams.get('error')).toBe('login_required');
      expect(r.callbackUrl?.searchParams.get('state')).toBe(r.state);
      expect(r.callbackUrl?.searchParams.get('code')).toBeNull();
    });

    it('too old for max_age, or a user without the role the app requires: login_required / access_denied at the app', async () => {
      const b = new BrokerBrowser(app);
      await redeem(rpA, await authorize(b, rpA, { login: { kind: 'password', username: 'apps-pw' } }));
      await new Promise((r) => setTimeout(r, 1100));
      const old = await authorize(b, rpA, { prompt: 'none', maxAge: 1, login: { kind: 'none' } });
      expect(old.callbackUrl?.searchParams.get('error')).toBe('login_required');
      const staffOnly = await createApplication(app, { allowedRoles: ['staff'] });
      const denied = await authorize(b, staffOnly, { prompt: 'none', login: { kind: 'none' } });
      expect(denied.hops).toHaveLength(1);
      expect(denied.callbackUrl?.searchParams.get('error')).toBe('access_denied');
      // prompt=login with prompt=none is refused by the library (none must be alone): at the app too.
      const both = await authorize(b, rpA, { prompt: 'none login', login: { kind: 'none' } });
      expect(both.callbackUrl?.searchParams.get('error')).toBe('invalid_request');
    });

    it("a redirect URI that is not registered: the broker's error page, never a redirect", async () => {
      const b = new BrokerBrowser(app);
      const r = await authorize(b, rpA, {
        prompt: 'none',
        redirectUri: 'http://127.0.0.1:8400/elsewhere',
        login: { kind: 'none' },
      });
      expect(r.callbackUrl).toBeUndefined();
      expect(r.last.status).toBe(400);
      expect(r.last.headers.get('location')).toBeNull();
    });
  });

  describe('public clients (SPAs): rotating refresh tokens, bounded by the session', () => {
    it('a public client with PKCE gets a refresh token that rotates; reusing an old one revokes the grant', async () => {
      const spa = await createApplication(app, { type: 'public' });
      expect(spa.secret).toBeUndefined();
      const b = new BrokerBrowser(app);
      const tokens = await redeem(
        spa,
        await authorize(b, spa, { login: { kind: 'password', username: 'apps-pw' } }),
      );
      expect(tokens.refresh_token).toBeTruthy();
      const next = await oidc.refreshTokenGrant(spa.config, tokens.refresh_token as string);
      expect(next.refresh_token).not.toBe(tokens.refresh_token);
      const form = (rt: string) => ({
        grant_type: 'refresh_token',
        refresh_token: rt,
        client_id: spa.clientId,
      });
      expect(await tokenRequest(app, form(tokens.refresh_token as string))).toMatchObject({
        status: 400,
        body: { error: 'invalid_grant' },
      });
      expect(await tokenRequest(app, form(next.refresh_token as string))).toMatchObject({
        status: 400,
        body: { error: 'invalid_grant' },
      });
    });

    it("a public client's refresh token ends with the broker session it was made in", async () => {
      const spa = await createApplication(app, { type: 'public' });
      const b = new BrokerBrowser(app);
      const tokens = await redeem(
        spa,
        await authorize(b, spa, { login: { kind: 'password', username: 'apps-pw' } }),
      );
      const next = await oidc.refreshTokenGrant(spa.config, tokens.refresh_token as string);
      expect((await b.post('/api/auth/logout', {})).status).toBe(303);
      const after = await tokenRequest(app, {
        grant_type: 'refresh_token',
        refresh_token: next.refresh_token as string,
        client_id: spa.clientId,
      });
      expect(after).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    });
  });
});
