/**
 * Access tokens for APIs (docs/security.md OP14): an admin registers an API (POST /api/manage/apis);
 * an application asks for it with `resource` (RFC 8707) and gets a JWT access token (RFC 9068) that a
 * resource server verifies with jose against the JWKS (issuer, audience, expiry, `typ`); a token for
 * API X is refused by a verifier for API Y; `client_credentials` works for a confidential application
 * the API allows, and is refused for a public client and for an API that does not list the client.
 */
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

const ORDERS = 'https://orders.example/api';
const BILLING = 'https://billing.example/api';

describe('OpenID Provider: access tokens for APIs (OP14)', () => {
  let app: TestApp;
  let web: RegisteredApp;
  let service: RegisteredApp;
  let spa: RegisteredApp;
  let outsider: RegisteredApp;
  // biome-ignore lint/suspicious/noExplicitAny: management API JSON
  let user: any;
  let jwks: ReturnType<typeof createRemoteJWKSet>;

  /** A resource server: accepts only tokens for its own resource. */
  const verifierFor = (resource: string) => (token: string) =>
    jwtVerify(token, jwks, { issuer: `${app.url}/api/oidc`, audience: resource, typ: 'at+jwt' });

  beforeAll(async () => {
    app = await startTestApp();
    jwks = createRemoteJWKSet(new URL(`${app.url}/api/oidc/jwks`));
    user = await createUser(app, {
      username: 'api-user',
      verifyType: 'password',
      password: PASSWORD,
      roles: ['staff'],
    });
    web = await createApplication(app);
    service = await createApplication(app);
    spa = await createApplication(app, { type: 'public' });
    outsider = await createApplication(app);
    for (const [resource, name, allowed] of [
      [ORDERS, 'Orders', [web.clientId, service.clientId, spa.clientId]],
      [BILLING, 'Billing', [web.clientId]],
    ] as const) {
      const res = await app.admin('/api/manage/apis', {
        method: 'POST',
        json: {
          resource,
          name,
          scopes: ['orders.read', 'orders.write'],
          allowedApplications: allowed,
          accessTokenLifetimeSeconds: 300,
        },
      });
      expect(res.status, await res.clone().text()).toBe(201);
    }
  }, 60_000);
  afterAll(async () => {
    await app?.close();
  });

  it('registers APIs: listed, a duplicate resource is a conflict, a bad resource URI is refused', async () => {
    const list = await (await app.admin('/api/manage/apis')).json();
    expect(list.items.map((a: { resource: string }) => a.resource).sort()).toEqual([BILLING, ORDERS]);
    const again = await app.admin('/api/manage/apis', {
      method: 'POST',
      json: { resource: ORDERS, name: 'Orders again' },
    });
    expect(again.status).toBe(409);
    const bad = await app.admin('/api/manage/apis', {
      method: 'POST',
      json: { resource: 'https://orders.example/api#frag', name: 'Bad' },
    });
    expect(bad.status).toBe(400);
    const oidcScope = await app.admin('/api/manage/apis', {
      method: 'POST',
      json: { resource: 'https://x.example', name: 'X', scopes: ['openid'] },
    });
    expect(oidcScope.status).toBe(400);
  });

  it('an app that names the API gets a JWT access token for it: aud, client_id, scope, sub, roles, lifetime', async () => {
    const b = new BrokerBrowser(app);
    const r = await authorize(b, web, {
      scope: 'openid profile orders.read',
      params: { resource: ORDERS },
      login: { kind: 'password', username: 'api-user' },
    });
    expect(r.callbackUrl?.searchParams.get('code'), r.callbackUrl?.href).toBeTruthy();
    const tokens = await redeem(web, r);
    const { payload, protectedHeader } = await verifierFor(ORDERS)(tokens.access_token);
    expect(protectedHeader.typ).toBe('at+jwt');
    expect(payload).toMatchObject({
      aud: ORDERS,
      client_id: web.clientId,
      scope: 'orders.read',
      sub: user.id,
      roles: ['staff'],
    });
    expect((payload.exp as number) - (payload.iat as number)).toBe(300);
    // API Y refuses the token for API X.
    await expect(verifierFor(BILLING)(tokens.access_token)).rejects.toThrow();
    expect(tokens.claims()?.sub).toBe(user.id);
    // Single sign-on (answered inside the authorization request) names the API the same way.
    const sso = await authorize(b, web, {
      scope: 'openid orders.read orders.write',
      params: { resource: ORDERS },
      login: { kind: 'none' },
    });
    expect(sso.loginPages).toBe(0);
    const again = await verifierFor(ORDERS)((await redeem(web, sso)).access_token);
    expect(again.payload.scope).toBe('orders.read orders.write');
  });

  it('without resource nothing changes: an opaque access token that userinfo accepts', async () => {
    const b = new BrokerBrowser(app);
    const tokens = await redeem(
      web,
      await authorize(b, web, { login: { kind: 'password', username: 'api-user' } }),
    );
    expect(tokens.access_token.split('.')).toHaveLength(1);
    const info = await oidc.fetchUserInfo(web.config, tokens.access_token, user.id);
    expect(info.sub).toBe(user.id);
  });

  it('an app the API does not list is refused at the authorization (invalid_target at the app)', async () => {
    const b = new BrokerBrowser(app);
    const r = await authorize(b, outsider, {
      scope: 'openid orders.read',
      params: { resource: ORDERS },
      login: { kind: 'password', username: 'api-user' },
    });
    expect(r.callbackUrl?.searchParams.get('error')).toBe('invalid_target');
  });

  it('client_credentials: a confidential app allowed for the API gets a JWT with sub = the client; refused for other APIs and for public clients', async () => {
    const auth = { clientId: service.clientId, secret: service.secret as string };
    const ok = await tokenRequest(
      app,
      { grant_type: 'client_credentials', resource: ORDERS, scope: 'orders.write' },
      auth,
    );
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    const { payload } = await verifierFor(ORDERS)(ok.body.access_token as string);
    expect(payload).toMatchObject({
      aud: ORDERS,
      sub: service.clientId,
      client_id: service.clientId,
      scope: 'orders.write',
    });
    expect(payload.roles).toBeUndefined();

    const notAllowed = await tokenRequest(app, { grant_type: 'client_credentials', resource: BILLING }, auth);
    expect(notAllowed).toMatchObject({ status: 400, body: { error: 'invalid_target' } });
    const noResource = await tokenRequest(app, { grant_type: 'client_credentials' }, auth);
    expect(noResource).toMatchObject({ status: 400, body: { error: 'invalid_target' } });
    const publicClient = await tokenRequest(app, {
      grant_type: 'client_credentials',
      resource: ORDERS,
      client_id: spa.clientId,
    });
    expect(publicClient.status).toBe(400);
    expect(publicClient.body.access_token).toBeUndefined();
    expect(['unauthorized_client', 'invalid_client', 'invalid_request']).toContain(publicClient.body.error);
    const audit = await app.services.auditQuery.list({ type: 'oidc.token.issued' });
    expect(
      audit.items.some(
        (e) =>
          e.target === `application:${service.clientId}` && e.details?.grantType === 'client_credentials',
      ),
    ).toBe(true);
  });
});
