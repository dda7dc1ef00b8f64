/**
 * How the OpenID Provider answers what it does not serve: bad input is a clear 4xx, never a 5xx or
 * a bare "Not Found". OAuth JSON (`error`, `error_description`) at its API endpoints, the broker's
 * error page at the routes a browser is sent to: a body over the bridge's cap, a path no endpoint
 * has, a method an endpoint does not take (405 with Allow). CORS preflights stay as they are. A
 * logout form posted to the end-session endpoint (RP-Initiated Logout 1.0 §2: GET and POST) is sent
 * on as the same request made with GET, where the broker's Lax cookies come along.
 */
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

let app: TestApp;
let rp: RegisteredApp;
const RP_ORIGIN = 'http://127.0.0.1:8400';

beforeAll(async () => {
  app = await startTestApp();
  rp = await createApplication(app, { name: 'Ledger' });
}, 60_000);
afterAll(() => app.close());

const oidcUrl = (path: string) => `${app.url}/api/oidc/${path}`;

async function expectOAuthError(res: Response, status: number, error = 'invalid_request') {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  const body = (await res.json()) as Record<string, unknown>;
  expect(body).toMatchObject({ error, error_description: expect.any(String) });
  return body;
}

async function expectErrorPage(res: Response, status: number) {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^text\/html/);
  expect(res.headers.get('location')).toBeNull();
  const html = await res.text();
  expect(html).toContain('Sign-in did not work');
  return html;
}

/** A request sent with its path exactly as given (fetch would resolve `..` first). */
function rawGet(path: string): Promise<{ status: number; contentType: string }> {
  return new Promise((resolve, reject) => {
    const url = new URL(app.url);
    const req = httpRequest({ host: url.hostname, port: url.port, path, method: 'GET' }, (res) => {
      res.resume();
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? '') }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

describe('bodies over the bridge’s cap', () => {
  const big = `grant_type=refresh_token&refresh_token=${'x'.repeat(70_000)}`;
  const post = (path: string) =>
    fetch(oidcUrl(path), {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: big,
    });

  it('token, revocation, userinfo and PAR answer 413 invalid_request in JSON', async () => {
    for (const path of ['token', 'token/revocation', 'me', 'request']) {
      const body = await expectOAuthError(await post(path), 413);
      expect(String(body.error_description)).toMatch(/too large/);
    }
  });

  it('the authorization and end-session endpoints keep the error page', async () => {
    await expectErrorPage(await post('auth'), 413);
    await expectErrorPage(await post('session/end'), 413);
  });
});

/** The kinds of limit slot taken while `run` runs. */
async function slotKindsTaken(run: () => Promise<void>): Promise<string[]> {
  const kinds: string[] = [];
  const slots = app.services.slots;
  const take = slots.take.bind(slots);
  slots.take = (kind, ...rest) => {
    kinds.push(kind);
    return take(kind, ...rest);
  };
  try {
    await run();
  } finally {
    slots.take = take;
  }
  return kinds;
}

describe('paths and methods the OP does not serve', () => {
  it('a wrong method at an API endpoint: 405 with Allow, invalid_request in JSON', async () => {
    for (const [path, allow] of [
      ['token', 'OPTIONS, POST'],
      ['token/revocation', 'OPTIONS, POST'],
      ['request', 'OPTIONS, POST'],
    ] as const) {
      const res = await fetch(oidcUrl(path));
      expect(res.headers.get('allow'), path).toBe(allow);
      await expectOAuthError(res, 405);
    }
    // The library matches letters in any case: so does the answer.
    const upper = await fetch(oidcUrl('Token'));
    expect(upper.headers.get('allow')).toBe('OPTIONS, POST');
    await expectOAuthError(upper, 405);
    for (const path of ['jwks', '.well-known/openid-configuration']) {
      const res = await fetch(oidcUrl(path), { method: 'POST' });
      expect(res.headers.get('allow'), path).toBe('GET, OPTIONS');
      await expectOAuthError(res, 405);
    }
    // An OPTIONS that is no CORS preflight (no Access-Control-Request-Method): the methods it takes.
    const options = await fetch(oidcUrl('token'), { method: 'OPTIONS' });
    expect(options.status).toBe(204);
    expect(options.headers.get('allow')).toBe('OPTIONS, POST');
  });

  it('an unknown API path (or a feature that is off): 404 invalid_request in JSON, for every method', async () => {
    for (const path of [
      '',
      'reg',
      'device',
      'token/introspection',
      'backchannel',
      'nope/deeper',
      'constructor',
      '__proto__',
    ]) {
      await expectOAuthError(await fetch(oidcUrl(path)), 404);
      await expectOAuthError(await fetch(oidcUrl(path), { method: 'POST' }), 404);
      await expectOAuthError(await fetch(oidcUrl(path), { method: 'OPTIONS' }), 404);
    }
    // `..` resolves before routing: what is left is the OP's root.
    for (const path of ['/api/oidc/interaction/..', '/api/oidc/auth/..']) {
      const res = await rawGet(path);
      expect(res.status, path).toBe(404);
      expect(res.contentType, path).toMatch(/^application\/json/);
    }
  });

  it('browser paths: the broker’s error page (404)', async () => {
    const open = await authorize(new BrokerBrowser(app), rp);
    const uid = open.hops.map((h) => /\/api\/oidc\/interaction\/([^/?]+)/.exec(h.path)?.[1]).find(Boolean);
    expect(uid).toBeTruthy();
    for (const path of [
      'interaction/x/login',
      'interaction/%2F',
      `interaction/${uid}/abort`,
      'session/end/confirm',
      'session/end/nope',
      'auth/x/y',
    ]) {
      await expectErrorPage(await fetch(oidcUrl(path), { redirect: 'manual' }), 404);
    }
    await expectErrorPage(await fetch(oidcUrl('auth'), { method: 'OPTIONS' }), 404);
    await expectErrorPage(await fetch(oidcUrl('session/end'), { method: 'OPTIONS' }), 404);
  });

  it('CORS preflights and the endpoints themselves answer as before', async () => {
    for (const [path, method] of [
      ['token', 'POST'],
      ['me', 'GET'],
      ['token/revocation', 'POST'],
      ['request', 'POST'],
      ['jwks', 'GET'],
      ['.well-known/openid-configuration', 'GET'],
    ] as const) {
      const res = await fetch(oidcUrl(path), {
        method: 'OPTIONS',
        headers: {
          origin: RP_ORIGIN,
          'access-control-request-method': method,
          'access-control-request-headers': 'authorization',
        },
      });
      expect(res.status, path).toBe(204);
      expect(res.headers.get('access-control-allow-origin'), path).toBe(RP_ORIGIN);
      expect(res.headers.get('access-control-allow-methods'), path).toContain(method);
    }
    expect((await fetch(oidcUrl('jwks'))).status).toBe(200);
    const token = await fetch(oidcUrl('token'), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: 'nope' }),
    });
    await expectOAuthError(token, 400);
    // An unknown access token at userinfo: the library's own 401, in JSON.
    const me = await fetch(oidcUrl('me'), { headers: { authorization: 'Bearer nope' } });
    await expectOAuthError(me, 401, 'invalid_token');
  });
});

describe('routes as the library matches them (letters in any case)', () => {
  it('both discovery documents name only the documented response modes, however the path is written', async () => {
    for (const path of [
      '.well-known/openid-configuration',
      '.well-known/OpenID-Configuration',
      '.well-known/oauth-authorization-server',
    ]) {
      const res = await fetch(oidcUrl(path));
      expect(res.status, path).toBe(200);
      const doc = (await res.json()) as Record<string, unknown>;
      expect(doc.response_modes_supported, path).toEqual(['query', 'form_post']);
    }
  });

  it('the limits see the route: `TOKEN`, `AUTH` and `Session/End` take their route’s slot', async () => {
    const kinds = await slotKindsTaken(async () => {
      await fetch(oidcUrl('TOKEN'), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'authorization_code', code: 'x', client_id: 'nobody' }),
      });
      await fetch(oidcUrl(`AUTH?client_id=${rp.clientId}`), { redirect: 'manual' });
      await fetch(oidcUrl('Session/End'), { redirect: 'manual' });
    });
    expect(kinds).toEqual(['oidc-public-token', 'oidc-auth', 'oidc-logout']);
  });
});

describe('a logout form posted to the end-session endpoint', () => {
  it('is sent on as a GET (303) where the browser’s cookies come along: the usual sign-out runs', async () => {
    const username = 'pl-a';
    await createUser(app, { username, verifyType: 'password', password: PASSWORD });
    const b = new BrokerBrowser(app);
    const tokens = await redeem(rp, await authorize(b, rp, { login: { kind: 'password', username } }));
    expect((await b.session()).status).toBe(200);
    const endSession = oidc.buildEndSessionUrl(rp.config, {
      id_token_hint: tokens.id_token as string,
      post_logout_redirect_uri: RP_LOGOUT,
      state: 'posted-bye',
    });
    const form = new URLSearchParams(endSession.searchParams);
    expect(form.get('client_id')).toBe(rp.clientId);
    // The application's page posts the form: cross-site, so no Lax cookie comes with it.
    const posted = await fetch(`${endSession.origin}${endSession.pathname}`, {
      method: 'POST',
      redirect: 'manual',
      headers: { origin: RP_ORIGIN, 'content-type': 'application/x-www-form-urlencoded' },
      body: form,
    });
    expect(posted.status).toBe(303);
    const next = new URL(posted.headers.get('location') ?? '');
    expect(`${next.origin}${next.pathname}`).toBe(`${app.url}/api/oidc/session/end`);
    expect(Object.fromEntries(next.searchParams)).toEqual(Object.fromEntries(form));
    expect(posted.headers.getSetCookie()).toEqual([]);

    // The browser follows with a top-level GET, its cookies with it.
    const confirm = await b.get(next.href);
    expect(confirm.status).toBe(200);
    const html = await confirm.text();
    expect(html).toContain('Ledger asked to sign you out of');
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1] ?? '';
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(html)?.[1] ?? '';
    const done = await b.post(new URL(action).pathname, { xsrf, logout: 'yes' });
    expect(done.status).toBe(303);
    const back = new URL(done.headers.get('location') ?? '');
    expect(`${back.origin}${back.pathname}`).toBe(RP_LOGOUT);
    expect(back.searchParams.get('state')).toBe('posted-bye');
    expect((await b.session()).status).toBe(401);
  });

  it('takes no limit slot of its own (the GET it leads to takes the end-session slot)', async () => {
    const kinds = await slotKindsTaken(async () => {
      const posted = await fetch(oidcUrl('session/end'), {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ client_id: rp.clientId }),
      });
      expect(posted.status).toBe(303);
      await fetch(posted.headers.get('location') ?? '', { redirect: 'manual' });
    });
    expect(kinds).toEqual(['oidc-logout']);
  });

  it('keeps the parameters of the posted URL’s own query beside the form’s', async () => {
    const res = await fetch(oidcUrl('session/end?ui_locales=en'), {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: rp.clientId, state: 's1' }),
    });
    expect(res.status).toBe(303);
    const next = new URL(res.headers.get('location') ?? '');
    expect(Object.fromEntries(next.searchParams)).toEqual({
      ui_locales: 'en',
      client_id: rp.clientId,
      state: 's1',
    });
  });

  it('an empty form is the GET without parameters', async () => {
    const res = await fetch(oidcUrl('session/end'), {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`${app.url}/api/oidc/session/end`);
    const bare = await fetch(oidcUrl('session/end'), { method: 'POST', redirect: 'manual' });
    expect(bare.status).toBe(303);
  });

  it('anything but a form, or a form over the parameter caps, gets the error page (400)', async () => {
    const json = await fetch(oidcUrl('session/end'), {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: rp.clientId }),
    });
    await expectErrorPage(json, 400);
    const long = await fetch(oidcUrl('session/end'), {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: rp.clientId, state: 'x'.repeat(5000) }),
    });
    await expectErrorPage(long, 400);
    // Within each parameter's cap, but too long once written as a query (every character escaped).
    const escaped = await fetch(oidcUrl('session/end'), {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ a: 'é'.repeat(4000), b: 'é'.repeat(4000) }),
    });
    await expectErrorPage(escaped, 400);
  });
});
