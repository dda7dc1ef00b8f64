/**
 * Broker sessions, logout and the admin session: docs/security.md D (SC1–SC6), F (LO1, LO2), G (AD2, AD5),
 * SE4 (JWKS with the current and previous key).
 */
import { createHmac, generateKeyPairSync } from 'node:crypto';
import { exportJWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../../shared/core/clock.ts';
import {
  IDLE_TIMEOUT_MINUTES,
  SESSION_COOKIE,
  SESSION_TOKEN_TYPE,
  TOKEN_LIFETIME_MINUTES,
} from '../../shared/sessions/service.ts';
import { createApplication } from '../helpers/oidc.ts';
import { BrokerBrowser, createUser, patchSettings } from '../helpers/signin.ts';
import { captureLogs, startTestApp, type TestApp } from '../helpers/stack.ts';

const PASSWORD = 'a long and unusual passphrase';
const clock = manualClock(Date.now());
let app: TestApp;

beforeAll(async () => {
  app = await startTestApp({ clock });
});
afterAll(() => app.close());

async function signedIn(username: string, roles: string[] = []) {
  await createUser(app, { username, verifyType: 'password', password: PASSWORD, roles });
  const b = new BrokerBrowser(app);
  const res = await b.post('/api/auth/password', { username, password: PASSWORD });
  expect(res.status).toBe(303);
  return { b, res, cookie: b.jar.cookies.get(SESSION_COOKIE) as string };
}

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

describe('sessions', () => {
  it('SC1: a fresh session id on every sign-in, whatever cookie the browser brought', async () => {
    await createUser(app, { username: 'fixation', verifyType: 'password', password: PASSWORD });
    const b = new BrokerBrowser(app);
    b.jar.cookies.set(SESSION_COOKIE, 'attacker-chosen-value');
    await b.post('/api/auth/password', { username: 'fixation', password: PASSWORD });
    const first = b.jar.cookies.get(SESSION_COOKIE) as string;
    expect(first).not.toBe('attacker-chosen-value');
    await b.post('/api/auth/password', { username: 'fixation', password: PASSWORD });
    const second = b.jar.cookies.get(SESSION_COOKIE) as string;
    const sid = (jwt: string) =>
      JSON.parse(Buffer.from(jwt.split('.')[1] as string, 'base64url').toString()).sid;
    expect(sid(second)).not.toBe(sid(first));
    expect(sid(first)).toMatch(/^[A-Za-z0-9_-]{43}$/); // 256 bits
  });

  it('SC2: every cookie is __Host-, Secure, HttpOnly, Path=/, SameSite=Lax, without Domain', async () => {
    const { res } = await signedIn('cookies');
    const all = res.headers.getSetCookie();
    expect(all.length).toBeGreaterThan(0);
    for (const c of all) {
      expect(c).toMatch(/^__Host-/);
      expect(c).toContain('; Secure');
      expect(c).toContain('; HttpOnly');
      expect(c).toContain('; Path=/');
      expect(c).toContain('; SameSite=Lax');
      expect(c.toLowerCase()).not.toContain('domain=');
    }
  });

  it('the session token is an ES256 JWT with the documented claims', async () => {
    const { cookie } = await signedIn('claims', ['admin']);
    const [h, p] = cookie.split('.');
    expect(JSON.parse(Buffer.from(h as string, 'base64url').toString())).toMatchObject({
      alg: 'ES256',
      typ: SESSION_TOKEN_TYPE,
    });
    const claims = JSON.parse(Buffer.from(p as string, 'base64url').toString());
    expect(claims).toMatchObject({
      iss: app.url,
      aud: app.url,
      sub: 'claims',
      amr: ['pwd'],
      idp: 'password',
      roles: ['admin'],
    });
    // Short-lived token (re-issued while the session row lives); the cookie lasts the session.
    expect(claims.exp - claims.iat).toBe(TOKEN_LIFETIME_MINUTES * 60);
    const jwks = await (await fetch(`${app.url}/api/auth/jwks`)).json();
    expect(jwks.keys.map((k: { kid: string }) => k.kid)).toContain(
      JSON.parse(Buffer.from(h as string, 'base64url').toString()).kid,
    );
    expect(JSON.stringify(jwks)).not.toContain('"d"');
  });

  it('SC3: the idle timeout is enforced server-side (fake clock)', async () => {
    const { b } = await signedIn('idle');
    clock.advance((IDLE_TIMEOUT_MINUTES - 1) * 60_000);
    expect((await b.session()).status).toBe(200); // activity resets the idle timer
    clock.advance((IDLE_TIMEOUT_MINUTES - 1) * 60_000);
    expect((await b.session()).status).toBe(200);
    clock.advance((IDLE_TIMEOUT_MINUTES + 1) * 60_000);
    expect((await b.session()).status).toBe(401);
  });

  it('SC3: the absolute timeout (session lifetime setting) is enforced server-side', async () => {
    await patchSettings(app, { sessionLifetimeMinutes: 20 });
    try {
      const { b, res } = await signedIn('absolute');
      const set = res.headers.getSetCookie().find((c) => c.startsWith(`${SESSION_COOKIE}=`));
      expect(set).toContain('; Max-Age=1200;');
      for (let i = 0; i < 3; i++) {
        clock.advance(6 * 60_000);
        expect((await b.session()).status).toBe(200);
      }
      clock.advance(3 * 60_000);
      expect((await b.session()).status).toBe(401);
    } finally {
      await patchSettings(app, { sessionLifetimeMinutes: 480 });
    }
  });

  it('the short-lived token is re-issued while the session lives; a revoked session gets none', async () => {
    const { b, cookie } = await signedIn('refresher');
    const exp = (jwt: string) =>
      JSON.parse(Buffer.from(jwt.split('.')[1] as string, 'base64url').toString()).exp;
    clock.advance(7 * 60_000); // less than 5 minutes of the token left
    const res = await b.session();
    expect(res.status).toBe(200);
    const refreshed = b.jar.cookies.get(SESSION_COOKIE) as string;
    expect(refreshed).not.toBe(cookie);
    expect(exp(refreshed)).toBeGreaterThan(exp(cookie));
    // The old token, past its own exp but for a live session, still identifies it (and is re-issued).
    clock.advance(4 * 60_000);
    const old = await fetch(`${app.url}/api/auth/session`, {
      headers: { cookie: `${SESSION_COOKIE}=${cookie}` },
    });
    expect(old.status).toBe(200);
    expect(old.headers.getSetCookie().some((c) => c.startsWith(`${SESSION_COOKIE}=ey`))).toBe(true);
    // Once the row is gone (logout), neither token works and nothing is re-issued.
    await b.post('/api/auth/logout', {});
    for (const t of [cookie, refreshed]) {
      const r = await fetch(`${app.url}/api/auth/session`, { headers: { cookie: `${SESSION_COOKIE}=${t}` } });
      expect(r.status).toBe(401);
      expect(r.headers.getSetCookie()).toEqual([]);
    }
  });

  it('removing the admin role ends the sessions (the token carries roles)', async () => {
    await signedIn('demoted-admin', ['admin']);
    const { b } = await signedIn('demoted', ['admin']);
    expect((await b.session()).status).toBe(200);
    const res = await app.admin('/api/manage/users/demoted', { method: 'PATCH', json: { roles: [] } });
    expect(res.status).toBe(200);
    expect((await b.session()).status).toBe(401);
  });

  it('SC4: disabling a user ends their sessions at once', async () => {
    const { b } = await signedIn('to-disable');
    expect((await b.session()).status).toBe(200);
    expect(
      (await app.admin('/api/manage/users/to-disable', { method: 'PATCH', json: { disabled: true } })).status,
    ).toBe(200);
    expect((await b.session()).status).toBe(401);
  });

  it('SC5: forged tokens are refused (alg none, HS256 with the public key, wrong aud, wrong typ, expired, foreign key)', async () => {
    const { cookie, b } = await signedIn('forgery');
    const [h, p] = cookie.split('.') as [string, string, string];
    const header = JSON.parse(Buffer.from(h, 'base64url').toString());
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
    const jwks = await (await fetch(`${app.url}/api/auth/jwks`)).json();
    const pub = JSON.stringify(jwks.keys[0]);
    const attacker = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const signWith = (over: Record<string, unknown>, hdr: Record<string, unknown> = {}) =>
      new SignJWT({ ...claims, ...over }).setProtectedHeader({ ...header, ...hdr }).sign(attacker.privateKey);
    const forgeries = [
      `${b64({ alg: 'none', typ: SESSION_TOKEN_TYPE })}.${p}.`,
      (() => {
        const hh = b64({ ...header, alg: 'HS256' });
        return `${hh}.${p}.${createHmac('sha256', pub).update(`${hh}.${p}`).digest('base64url')}`;
      })(),
      await signWith({}),
      await signWith({ aud: 'https://other.example' }),
      await signWith({}, { typ: 'JWT' }),
      await signWith({ exp: Math.floor(clock.now() / 1000) - 10 }),
      `${h}.${b64({ ...claims, sub: 'someone-else' })}.${cookie.split('.')[2]}`,
      'x'.repeat(5000),
    ];
    for (const forged of forgeries) {
      const res = await fetch(`${app.url}/api/auth/session`, {
        headers: { cookie: `${SESSION_COOKIE}=${forged}` },
      });
      expect(res.status).toBe(401);
    }
    expect((await b.session()).status).toBe(200);
    void exportJWK;
  });

  it('SC6: the session token never appears in logs or error bodies', async () => {
    const logs = captureLogs();
    let cookie = '';
    const bodies: string[] = [];
    try {
      const s = await signedIn('canary-user');
      cookie = s.cookie;
      bodies.push(await (await s.b.session()).text());
      bodies.push(await (await s.b.get('/api/manage/users')).text());
      bodies.push(await (await s.b.post('/api/auth/logout', {})).text());
      bodies.push(
        await (await s.b.get('/api/auth/session', { cookie: `${SESSION_COOKIE}=${cookie}` })).text(),
      );
    } finally {
      logs.stop();
    }
    expect(cookie.length).toBeGreaterThan(100);
    for (const text of [...bodies, logs.lines.join('\n')]) expect(text).not.toContain(cookie.split('.')[2]);
  });
});

describe('logout', () => {
  it('LO1: POST revokes the session before answering and expires the cookie with the same attributes', async () => {
    const { b, cookie } = await signedIn('leaver');
    const res = await b.post('/api/auth/logout', {});
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/api/auth/login');
    const cleared = res.headers.getSetCookie().find((c) => c.startsWith(`${SESSION_COOKIE}=`));
    expect(cleared).toMatch(
      /^__Host-broker_session=; Path=\/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Secure; HttpOnly; SameSite=Lax$/,
    );
    // Replaying the old cookie: 401.
    const replay = await fetch(`${app.url}/api/auth/session`, {
      headers: { cookie: `${SESSION_COOKIE}=${cookie}` },
    });
    expect(replay.status).toBe(401);
    expect((await fetch(`${app.url}/api/auth/logout`)).status).toBe(405);
  });

  it('LO1: a cross-site logout is refused', async () => {
    const { b } = await signedIn('csrf-logout');
    const res = await b.post('/api/auth/logout', {}, { origin: 'https://evil.example' });
    expect(res.status).toBe(403);
    expect((await b.session()).status).toBe(200);
  });

  it('LO2: the post-logout redirect honours the allow-list only', async () => {
    await patchSettings(app, { allowedReturnOrigins: ['https://app.example'] });
    for (const [returnTo, expected] of [
      ['https://evil.example/', '/api/auth/login'],
      ['//evil.example', '/api/auth/login'],
      ['https://app.example/bye', 'https://app.example/bye'],
      ['/goodbye', '/goodbye'],
    ]) {
      const { b } = await signedIn(`out-${Math.random().toString(36).slice(2, 8)}`);
      const res = await b.post('/api/auth/logout', { returnTo: returnTo as string });
      expect(res.headers.get('location'), returnTo).toBe(expected);
    }
  });
});

describe('admin with a browser session', () => {
  it('AD2: the session authorizes /api/manage only with X-Broker-Csrf: 1 and a same-origin Origin', async () => {
    const { b } = await signedIn('boss', ['admin']);
    expect((await b.get('/api/manage/users', { 'x-broker-csrf': '1' })).status).toBe(200);
    expect((await b.get('/api/manage/users')).status).toBe(403);
    const crossSite = await fetch(`${app.url}/api/manage/tokens`, {
      method: 'POST',
      headers: {
        cookie: b.jar.header(),
        'content-type': 'text/plain',
        origin: 'https://evil.example',
        'x-broker-csrf': '1',
      },
      body: '{"name":"evil"}',
    });
    expect([403, 415]).toContain(crossSite.status);
    const simpleForm = await fetch(`${app.url}/api/manage/tokens`, {
      method: 'POST',
      headers: { cookie: b.jar.header(), 'content-type': 'text/plain' },
      body: '{"name":"evil"}',
    });
    expect(simpleForm.status).toBe(403);
    const ok = await fetch(`${app.url}/api/manage/tokens`, {
      method: 'POST',
      headers: {
        cookie: b.jar.header(),
        'content-type': 'application/json',
        origin: b.origin,
        'x-broker-csrf': '1',
      },
      body: '{"name":"from-session"}',
    });
    expect(ok.status).toBe(201);
  });

  it('an API token created with a session lives only while its creator stays an admin', async () => {
    const { b } = await signedIn('token-maker', ['admin']);
    const created = await fetch(`${app.url}/api/manage/tokens`, {
      method: 'POST',
      headers: {
        cookie: b.jar.header(),
        'content-type': 'application/json',
        origin: b.origin,
        'x-broker-csrf': '1',
      },
      body: '{"name":"made-by-session"}',
    });
    expect(created.status).toBe(201);
    const { token } = await created.json();
    const use = (t: string) =>
      fetch(`${app.url}/api/manage/tokens`, { headers: { authorization: `Bearer ${t}` } });
    expect((await use(token)).status).toBe(200);
    // A token minted with that token is tied to the same admin.
    const child = await fetch(`${app.url}/api/manage/tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: '{"name":"grandchild","expiresInDays":730}',
    });
    expect(child.status).toBe(201);
    const childToken = (await child.json()).token;
    expect((await use(childToken)).status).toBe(200);
    const disabled = await app.admin('/api/manage/users/token-maker', {
      method: 'PATCH',
      json: { disabled: true },
    });
    expect(disabled.status).toBe(200);
    expect((await use(token)).status).toBe(401);
    expect((await use(childToken)).status).toBe(401);
  });

  it('a token does not come back to life when its admin is deleted and the name is reused', async () => {
    const { b } = await signedIn('reused-name', ['admin']);
    const created = await fetch(`${app.url}/api/manage/tokens`, {
      method: 'POST',
      headers: {
        cookie: b.jar.header(),
        'content-type': 'application/json',
        origin: b.origin,
        'x-broker-csrf': '1',
      },
      body: '{"name":"orphan"}',
    });
    const { token } = await created.json();
    expect((await app.admin('/api/manage/users/reused-name', { method: 'DELETE' })).status).toBe(204);
    clock.advance(1000); // (a manual clock: real accounts are never created in the same millisecond)
    await createUser(app, {
      username: 'reused-name',
      verifyType: 'password',
      password: PASSWORD,
      roles: ['admin'],
    });
    const res = await fetch(`${app.url}/api/manage/tokens`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(401);
  });

  it('a re-issued token is not sent back by a request that ended its own session', async () => {
    const { b } = await signedIn('self-revoker', ['admin']);
    clock.advance(7 * 60_000); // the token is due for re-issue
    const res = await fetch(`${app.url}/api/manage/users/self-revoker/sessions`, {
      method: 'DELETE',
      headers: { cookie: b.jar.header(), origin: b.origin, 'x-broker-csrf': '1' },
    });
    expect(res.status).toBe(200);
    expect((await res.json()).revoked).toBe(1);
    expect(res.headers.getSetCookie().some((c) => c.startsWith(`${SESSION_COOKIE}=ey`))).toBe(false);
  });

  it('AD5: changing another admin with a stale session needs a recent sign-in', async () => {
    await createUser(app, {
      username: 'other-admin',
      verifyType: 'password',
      password: PASSWORD,
      roles: ['admin'],
    });
    const { b } = await signedIn('stale-admin', ['admin']);
    clock.advance(11 * 60_000);
    const call = (path: string, method: string, body?: unknown) =>
      fetch(`${app.url}${path}`, {
        method,
        headers: {
          cookie: b.jar.header(),
          'content-type': 'application/json',
          origin: b.origin,
          'x-broker-csrf': '1',
        },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
    for (const [path, method, body] of [
      ['/api/manage/users/other-admin', 'PATCH', { disabled: true }],
      ['/api/manage/users/other-admin/binding', 'DELETE', undefined],
      ['/api/manage/users/other-admin/password', 'DELETE', undefined],
      ['/api/manage/settings', 'PATCH', { allowedReturnOrigins: ['https://wide.example'] }],
    ] as const) {
      const res = await call(path, method, body);
      expect(res.status, `${method} ${path}`).toBe(401);
      expect((await res.json()).code).toBe('reauthentication_required');
    }
    // A non-admin account can still be managed with the same session.
    await createUser(app, { username: 'plain-user', verifyType: 'password', password: PASSWORD });
    expect((await call('/api/manage/users/plain-user', 'PATCH', { displayName: 'Plain' })).status).toBe(200);
  });

  it('AD5: creating an API token with a stale session is refused', async () => {
    const { b } = await signedIn('slow-admin', ['admin']);
    clock.advance(11 * 60_000);
    expect((await b.session()).status).toBe(200);
    const res = await fetch(`${app.url}/api/manage/tokens`, {
      method: 'POST',
      headers: {
        cookie: b.jar.header(),
        'content-type': 'application/json',
        origin: b.origin,
        'x-broker-csrf': '1',
      },
      body: '{"name":"late"}',
    });
    expect(res.status).toBe(401);
    expect((await res.json()).code).toBe('reauthentication_required');
  });

  it('a non-admin session is refused (403); an expired one is 401', async () => {
    const { b } = await signedIn('pleb');
    expect((await b.get('/api/manage/users', { 'x-broker-csrf': '1' })).status).toBe(403);
    await b.post('/api/auth/logout', {});
    const stale = await fetch(`${app.url}/api/manage/users`, {
      headers: {
        cookie: `${SESSION_COOKIE}=${'a'.repeat(20)}.${'b'.repeat(20)}.${'c'.repeat(20)}`,
        'x-broker-csrf': '1',
      },
    });
    expect(stale.status).toBe(401);
  });

  it('AD5: turning on Allow OAuth Passwords with a session needs a recent sign-in', async () => {
    const { b } = await signedIn('careful-admin', ['admin']);
    const patch = (body: unknown) =>
      fetch(`${app.url}/api/manage/settings`, {
        method: 'PATCH',
        headers: {
          cookie: b.jar.header(),
          'content-type': 'application/json',
          origin: b.origin,
          'x-broker-csrf': '1',
        },
        body: JSON.stringify(body),
      });
    clock.advance(11 * 60_000);
    expect((await b.get('/api/auth/session')).status).toBe(200);
    const stale = await patch({ allowOAuthPasswords: true });
    expect(stale.status).toBe(401);
    expect((await stale.json()).code).toBe('reauthentication_required');
    await b.post('/api/auth/password', { username: 'careful-admin', password: PASSWORD });
    const fresh = await patch({ allowOAuthPasswords: true });
    expect(fresh.status).toBe(200);
    await patch({ allowOAuthPasswords: false });
  });

  it('AD5: changing which applications may get tokens for an API needs a recent sign-in; renaming it does not', async () => {
    const { b } = await signedIn('api-admin', ['admin']);
    const created = await app.admin('/api/manage/apis', {
      method: 'POST',
      json: {
        resource: 'https://api.fresh-sign-in.example',
        name: 'Fresh sign-in API',
        scopes: ['read'],
        allowedApplications: [],
        accessTokenLifetimeSeconds: 600,
      },
    });
    expect(created.status, await created.clone().text()).toBe(201);
    const { id } = (await created.json()) as { id: string };
    const { clientId } = await createApplication(app);
    const patch = (body: unknown) =>
      fetch(`${app.url}/api/manage/apis/${id}`, {
        method: 'PATCH',
        headers: {
          cookie: b.jar.header(),
          'content-type': 'application/json',
          origin: b.origin,
          'x-broker-csrf': '1',
        },
        body: JSON.stringify(body),
      });
    clock.advance(11 * 60_000);
    expect((await b.get('/api/auth/session')).status).toBe(200);
    expect((await patch({ name: 'Renamed API' })).status).toBe(200);
    const stale = await patch({ allowedApplications: [clientId] });
    expect(stale.status).toBe(401);
    expect((await stale.json()).code).toBe('reauthentication_required');
    await b.post('/api/auth/password', { username: 'api-admin', password: PASSWORD });
    expect((await patch({ allowedApplications: [clientId] })).status).toBe(200);
  });

  it("AD5: changing the link the broker's signed-in page shows for an application needs a recent sign-in", async () => {
    const { b } = await signedIn('portal-admin', ['admin']);
    const { clientId } = await createApplication(app);
    const patch = (body: unknown) =>
      fetch(`${app.url}/api/manage/applications/${clientId}`, {
        method: 'PATCH',
        headers: {
          cookie: b.jar.header(),
          'content-type': 'application/json',
          origin: b.origin,
          'x-broker-csrf': '1',
        },
        body: JSON.stringify(body),
      });
    clock.advance(11 * 60_000);
    expect((await b.get('/api/auth/session')).status).toBe(200);
    const stale = await patch({ initiateLoginUri: 'https://app.example.com/login' });
    expect(stale.status).toBe(401);
    expect((await stale.json()).code).toBe('reauthentication_required');
    await b.post('/api/auth/password', { username: 'portal-admin', password: PASSWORD });
    expect((await patch({ initiateLoginUri: 'https://app.example.com/login' })).status).toBe(200);
  });

  it('AD5: shortening the audit retention with a session needs a recent sign-in; lengthening it does not', async () => {
    const { b } = await signedIn('retention-admin', ['admin']);
    const patch = (body: unknown) =>
      fetch(`${app.url}/api/manage/settings`, {
        method: 'PATCH',
        headers: {
          cookie: b.jar.header(),
          'content-type': 'application/json',
          origin: b.origin,
          'x-broker-csrf': '1',
        },
        body: JSON.stringify(body),
      });
    const before = (await (await app.admin('/api/manage/settings')).json()).auditRetentionDays as number;
    clock.advance(11 * 60_000);
    expect((await b.get('/api/auth/session')).status).toBe(200);
    const longer = await patch({ auditRetentionDays: before + 30 });
    expect(longer.status).toBe(200);
    const shorter = await patch({ auditRetentionDays: before });
    expect(shorter.status).toBe(401);
    expect((await shorter.json()).code).toBe('reauthentication_required');
    expect((await (await app.admin('/api/manage/settings')).json()).auditRetentionDays).toBe(before + 30);
    await b.post('/api/auth/password', { username: 'retention-admin', password: PASSWORD });
    expect((await patch({ auditRetentionDays: before })).status).toBe(200);
  });
});

describe('signing keys', () => {
  it('SE4: rotation keeps the previous public key in the JWKS; old sessions stay valid', async () => {
    const { b, cookie } = await signedIn('rotator');
    const kidBefore = JSON.parse(Buffer.from(cookie.split('.')[0] as string, 'base64url').toString()).kid;
    await app.services.sessionKeys.rotate();
    const jwks = await (await fetch(`${app.url}/api/auth/jwks`)).json();
    const kids = jwks.keys.map((k: { kid: string }) => k.kid);
    expect(kids).toHaveLength(2);
    expect(kids[1]).toBe(kidBefore);
    expect((await b.session()).status).toBe(200);
    const { cookie: after } = await signedIn('rotator-2');
    expect(JSON.parse(Buffer.from(after.split('.')[0] as string, 'base64url').toString()).kid).toBe(kids[0]);
  });
});
