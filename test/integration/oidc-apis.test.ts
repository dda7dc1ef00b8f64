/**
 * Access tokens for APIs (docs/security.md OP14): an admin registers an API (POST /api/manage/apis);
 * an application asks for it with `resource` (RFC 8707) and gets a JWT access token (RFC 9068) that a
 * resource server verifies with jose against the JWKS (issuer, audience, expiry, `typ`); a token for
 * API X is refused by a verifier for API Y; `client_credentials` works for a confidential application
 * the API allows, and is refused for a public client and for an API that does not list the client.
 * An admin's change of an API (PATCH, If-Match) applies to the next token request on this instance.
 */
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CACHE_TTL_MS } from '../../shared/apis/service.ts';
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
import { startTestApp, type TestApp, testServices } from '../helpers/stack.ts';

const ORDERS = 'https://orders.example/api';
const BILLING = 'https://billing.example/api';
const STOCK = 'https://stock.example/api';

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
    // A JWT access token carries no hint (carried-hints.ts): its jti is the library's own.
    expect(payload.jti).toMatch(/^[A-Za-z0-9_-]{43}$/);
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
    // Opaque: not a JWT (its value is the library's id and its carried hint, carried-hints.ts).
    expect(() => decodeJwt(tokens.access_token)).toThrow();
    expect(tokens.access_token.split('.')).toHaveLength(2);
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

  describe('PATCH /api/manage/apis/{id}: a change applies to the next token request on this instance', () => {
    // biome-ignore lint/suspicious/noExplicitAny: management API JSON
    let stock: any;
    const item = () => `/api/manage/apis/${stock.id}`;
    const serviceToken = (scope: string) =>
      tokenRequest(
        app,
        { grant_type: 'client_credentials', resource: STOCK, scope },
        { clientId: service.clientId, secret: service.secret as string },
      );
    const lifetimeOf = (p: { exp?: number; iat?: number }) => (p.exp as number) - (p.iat as number);

    beforeAll(async () => {
      const res = await app.admin('/api/manage/apis', {
        method: 'POST',
        json: {
          resource: STOCK,
          name: 'Stock',
          scopes: ['stock.read', 'stock.write'],
          allowedApplications: [web.clientId, service.clientId],
          accessTokenLifetimeSeconds: 300,
        },
      });
      expect(res.status, await res.clone().text()).toBe(201);
      stock = await res.json();
      expect(res.headers.get('etag')).toBe(stock.etag);
      expect(res.headers.get('location')).toBe(`/api/manage/apis/${stock.id}`);
    });

    it('GET answers the ETag; PATCH changes scopes and lifetime, and the next token shows both', async () => {
      const read = await app.admin(item());
      expect(read.status).toBe(200);
      const body = await read.json();
      expect(read.headers.get('etag')).toBe(body.etag);
      expect(body).toMatchObject({ resource: STOCK, accessTokenLifetimeSeconds: 300 });

      const before = await serviceToken('stock.write');
      expect(before.status, JSON.stringify(before.body)).toBe(200);
      const old = await verifierFor(STOCK)(before.body.access_token as string);
      expect(lifetimeOf(old.payload)).toBe(300);

      const res = await app.admin(item(), {
        method: 'PATCH',
        headers: { 'if-match': body.etag },
        json: { scopes: ['stock.read', 'stock.count'], accessTokenLifetimeSeconds: 900 },
      });
      expect(res.status, await res.clone().text()).toBe(200);
      const changed = await res.json();
      expect(changed).toMatchObject({
        id: stock.id,
        resource: STOCK,
        name: 'Stock',
        scopes: ['stock.read', 'stock.count'],
        allowedApplications: [web.clientId, service.clientId],
        accessTokenLifetimeSeconds: 900,
      });
      expect(changed.etag).not.toBe(body.etag);
      expect(res.headers.get('etag')).toBe(changed.etag);

      // At once on this instance: the lookup cached by the token request above is replaced.
      const after = await serviceToken('stock.count stock.read');
      expect(after.status, JSON.stringify(after.body)).toBe(200);
      const { payload } = await verifierFor(STOCK)(after.body.access_token as string);
      expect(lifetimeOf(payload)).toBe(900);
      expect(String(payload.scope).split(' ').sort()).toEqual(['stock.count', 'stock.read']);
      expect(after.body.expires_in).toBe(900);

      // The authorization code flow sees the new scope set too.
      const b = new BrokerBrowser(app);
      const r = await authorize(b, web, {
        scope: 'openid stock.count',
        params: { resource: STOCK },
        login: { kind: 'password', username: 'api-user' },
      });
      const coded = await verifierFor(STOCK)((await redeem(web, r)).access_token);
      expect(coded.payload.scope).toBe('stock.count');
      expect(lifetimeOf(coded.payload)).toBe(900);
    });

    it('a scope the change removed is refused as a scope the API never had: invalid_scope naming it', async () => {
      // A client's own token: a scope the API does not have is an error (RFC 6749 §5.2), as at
      // Entra, never a narrower token whose response could not say what was left out.
      for (const [scope, named] of [
        ['stock.write', 'stock.write'],
        ['stock.never', 'stock.never'],
        ['stock.write stock.read', 'stock.write'],
      ] as const) {
        const r = await serviceToken(scope);
        expect(r.status, JSON.stringify(r.body)).toBe(400);
        expect(r.body.error).toBe('invalid_scope');
        expect(r.body.access_token).toBeUndefined();
        expect(String(r.body.error_description)).toContain(named);
      }
      const known = await serviceToken('stock.read');
      expect(known.status).toBe(200);
      expect(known.body.scope).toBe('stock.read');
      expect((await verifierFor(STOCK)(known.body.access_token as string)).payload.scope).toBe('stock.read');
    });

    it("a user's sign-in ignores a scope the API does not have (OIDC Core §3.1.2.1) and the token response says what was granted", async () => {
      const b = new BrokerBrowser(app);
      const r = await authorize(b, web, {
        scope: 'openid stock.read stock.write stock.never',
        params: { resource: STOCK },
        login: { kind: 'password', username: 'api-user' },
      });
      const token = await redeem(web, r);
      expect(token.scope?.split(' ')).toContain('stock.read');
      expect(token.scope?.split(' ')).not.toContain('stock.never');
      expect(token.scope?.split(' ')).not.toContain('stock.write');
      const { payload } = await verifierFor(STOCK)(token.access_token);
      expect(payload.scope).toBe('stock.read');
    });

    it('an application the change removed from allowedApplications is refused (invalid_target)', async () => {
      const res = await app.admin(item(), { method: 'PATCH', json: { allowedApplications: [web.clientId] } });
      expect(res.status, await res.clone().text()).toBe(200);
      expect((await res.json()).allowedApplications).toEqual([web.clientId]);
      const refused = await serviceToken('stock.read');
      expect(refused).toMatchObject({ status: 400, body: { error: 'invalid_target' } });
      expect(refused.body.access_token).toBeUndefined();
    });

    it('a stale If-Match is a 412; the write it would have made is not made', async () => {
      const current = await (await app.admin(item())).json();
      const renamed = await app.admin(item(), {
        method: 'PATCH',
        headers: { 'if-match': current.etag },
        json: { name: 'Stock levels' },
      });
      expect(renamed.status).toBe(200);
      const stale = await app.admin(item(), {
        method: 'PATCH',
        headers: { 'if-match': current.etag },
        json: { name: 'Lost write', accessTokenLifetimeSeconds: 60 },
      });
      expect(stale.status).toBe(412);
      expect(stale.headers.get('content-type')).toBe('application/problem+json');
      expect(await stale.json()).toMatchObject({ status: 412, code: 'precondition_failed' });
      expect(await (await app.admin(item())).json()).toMatchObject({
        name: 'Stock levels',
        accessTokenLifetimeSeconds: 900,
      });
      const staleDelete = await app.admin(item(), {
        method: 'DELETE',
        headers: { 'if-match': current.etag },
      });
      expect(staleDelete.status).toBe(412);
    });

    it('an unknown id is a 404 problem', async () => {
      for (const id of ['A'.repeat(32), 'not-an-api-id']) {
        const res = await app.admin(`/api/manage/apis/${id}`, { method: 'PATCH', json: { name: 'X' } });
        expect(res.status).toBe(404);
        expect(res.headers.get('content-type')).toBe('application/problem+json');
        expect(await res.json()).toMatchObject({ status: 404, code: 'api_not_found' });
      }
    });

    it('a bad body is a 400 problem naming the field; nothing changes', async () => {
      const before = await (await app.admin(item())).json();
      for (const [json, field] of [
        [{ accessTokenLifetimeSeconds: 30 }, 'accessTokenLifetimeSeconds'],
        [{ scopes: ['openid'] }, 'scopes.0'],
        [{ allowedApplications: ['not-a-client-id'] }, 'allowedApplications.0'],
        [{ createdAt: '2020-01-01T00:00:00.000Z' }, 'createdAt'],
        [{}, '(body)'],
      ] as const) {
        const res = await app.admin(item(), { method: 'PATCH', json });
        expect(res.status, JSON.stringify(json)).toBe(400);
        expect(res.headers.get('content-type')).toBe('application/problem+json');
        const problem = await res.json();
        expect(problem.code).toBe('validation_failed');
        expect(problem.errors.map((e: { field: string }) => e.field)).toContain(field);
      }
      expect((await (await app.admin(item())).json()).etag).toBe(before.etag);
    });

    it('the resource URI cannot be changed: another one is a 400 naming `resource`, the same one changes nothing', async () => {
      const before = await (await app.admin(item())).json();
      const res = await app.admin(item(), {
        method: 'PATCH',
        json: { resource: 'https://stock-v2.example/api', name: 'Stock v2' },
      });
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      const problem = await res.json();
      expect(problem).toMatchObject({ status: 400, code: 'validation_failed' });
      expect(problem.errors).toEqual([
        { field: 'resource', message: expect.stringMatching(/^cannot be changed/) },
      ]);
      const same = await app.admin(item(), { method: 'PATCH', json: { resource: STOCK } });
      expect(same.status).toBe(200);
      expect((await same.json()).etag).toBe(before.etag);
      expect(await (await app.admin(item())).json()).toMatchObject({ resource: STOCK, name: before.name });
    });

    it('another instance serves its cached API until CACHE_TTL_MS has passed, then the changed one', async () => {
      const clock = manualClock();
      const other = await testServices({ clock, tables: app.services.tables });
      const cached = await other.apis.byResource(STOCK);
      expect(cached?.accessTokenLifetimeSeconds).toBe(900);
      const res = await app.admin(item(), { method: 'PATCH', json: { accessTokenLifetimeSeconds: 1200 } });
      expect(res.status).toBe(200);
      expect((await app.services.apis.byResource(STOCK))?.accessTokenLifetimeSeconds).toBe(1200);
      clock.advance(CACHE_TTL_MS - 1);
      expect((await other.apis.byResource(STOCK))?.accessTokenLifetimeSeconds).toBe(900);
      clock.advance(1);
      expect((await other.apis.byResource(STOCK))?.accessTokenLifetimeSeconds).toBe(1200);
    });

    it('each change is audited: admin.api.updated with the changed field names, the actor and the request', async () => {
      const events = await app.services.auditQuery.list({ type: 'admin.api.updated' });
      const mine = events.items.filter((e) => e.target === `api:${stock.id}`);
      expect(mine.map((e) => e.changedFields).reverse()).toEqual([
        ['scopes', 'accessTokenLifetimeSeconds'],
        ['allowedApplications'],
        ['name'],
        ['accessTokenLifetimeSeconds'],
      ]);
      const [lifetime, renamed, allowed] = mine;
      expect(lifetime?.securityRelevant).toBe(true);
      expect(allowed).toMatchObject({
        actor: expect.stringMatching(/\S/),
        securityRelevant: true,
        details: { resource: STOCK },
      });
      expect(allowed?.correlationId).toBeTruthy();
      expect(renamed?.securityRelevant).toBeFalsy();
    });
  });
});
