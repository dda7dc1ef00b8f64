/**
 * An application of the broker's OpenID Provider, driven by openid-client v6 (software nobody here
 * wrote), with a BrokerBrowser as the user's browser: authorize → broker login step → sign-in
 * (password or Entra stand-in) → back to the app's redirect URI with a code.
 */
import { randomUUID } from 'node:crypto';
import * as oidc from 'openid-client';
import { expect } from 'vitest';
import type { BrokerBrowser } from './signin.ts';
import type { TestApp } from './stack.ts';

export const RP_REDIRECT = 'http://127.0.0.1:8400/callback';
export const RP_LOGOUT = 'http://127.0.0.1:8400/bye';
export const PASSWORD = 'a long and unusual passphrase';

export interface RegisteredApp {
  clientId: string;
  secret?: string;
  config: oidc.Configuration;
}

export async function createApplication(
  app: TestApp,
  over: Record<string, unknown> = {},
): Promise<RegisteredApp> {
  const res = await app.admin('/api/manage/applications', {
    method: 'POST',
    json: {
      name: `App ${randomUUID().slice(0, 8)}`,
      type: 'confidential',
      redirectUris: [RP_REDIRECT],
      postLogoutRedirectUris: [RP_LOGOUT],
      ...over,
    },
  });
  expect(res.status, await res.clone().text()).toBe(201);
  const body = await res.json();
  const secret: string | undefined = body.clientSecretValue;
  return {
    clientId: body.clientId,
    ...(secret ? { secret } : {}),
    config: await rpConfig(app, body.clientId, secret),
  };
}

export async function rpConfig(app: TestApp, clientId: string, secret?: string): Promise<oidc.Configuration> {
  return oidc.discovery(
    new URL(`${app.url}/api/oidc`),
    clientId,
    secret ? { client_secret: secret } : undefined,
    secret ? oidc.ClientSecretBasic(secret) : oidc.None(),
    { execute: [oidc.allowInsecureRequests] },
  );
}

export type Login =
  | { kind: 'password'; username: string; password?: string }
  | { kind: 'entra'; username: string; account: string }
  | { kind: 'none' };

export interface AuthorizeResult {
  /** The app's redirect URI with code/state (or error), when the broker sent the browser there. */
  callbackUrl?: URL;
  /** How many times the broker showed its sign-in page. */
  loginPages: number;
  /** Broker responses along the way (status + path). */
  hops: { status: number; path: string; setCookies: string[] }[];
  /** The last broker response (for error pages). */
  last: Response;
  verifier: string;
  nonce: string;
  state: string;
}

export interface AuthorizeOptions {
  scope?: string;
  prompt?: string;
  maxAge?: number;
  loginHint?: string;
  redirectUri?: string;
  login?: Login;
  /** Extra or replaced authorization parameters (undefined values are removed). */
  params?: Record<string, string | undefined>;
  /** How the authorization request arrives: a GET (default), a form POST, or pushed first (PAR). */
  via?: 'get' | 'post' | 'par';
}

/** Runs an authorization request through the broker like a browser, signing in when asked. */
export async function authorize(
  b: BrokerBrowser,
  rp: RegisteredApp,
  o: AuthorizeOptions = {},
): Promise<AuthorizeResult> {
  const verifier = oidc.randomPKCECodeVerifier();
  const nonce = oidc.randomNonce();
  const state = oidc.randomState();
  const params: Record<string, string> = {
    redirect_uri: o.redirectUri ?? RP_REDIRECT,
    scope: o.scope ?? 'openid profile email offline_access',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    nonce,
    state,
    ...(o.prompt ? { prompt: o.prompt } : {}),
    ...(o.maxAge !== undefined ? { max_age: String(o.maxAge) } : {}),
    ...(o.loginHint ? { login_hint: o.loginHint } : {}),
  };
  for (const [k, v] of Object.entries(o.params ?? {})) {
    if (v === undefined) delete params[k];
    else params[k] = v;
  }
  let url =
    o.via === 'par'
      ? (await oidc.buildAuthorizationUrlWithPAR(rp.config, params)).href
      : oidc.buildAuthorizationUrl(rp.config, params).href;
  const hops: AuthorizeResult['hops'] = [];
  let loginPages = 0;
  let last: Response | undefined;
  const redirectUri = params.redirect_uri ?? '';
  for (let hop = 0; hop < 20; hop++) {
    let res: Response;
    if (o.via === 'post' && hop === 0) {
      // A form post from the app's page: the parameters in the body, none in the URL.
      const target = new URL(url);
      const form = Object.fromEntries(target.searchParams);
      res = await b.post(target.pathname, form, { origin: new URL(redirectUri).origin });
    } else res = await b.get(url);
    last = res;
    hops.push({ status: res.status, path: new URL(url).pathname, setCookies: res.headers.getSetCookie() });
    const location = res.headers.get('location');
    if (res.status < 300 || res.status >= 400 || !location) break;
    const next = new URL(location, url);
    if (redirectUri && next.href.startsWith(redirectUri)) {
      return { callbackUrl: next, loginPages, hops, last: res, verifier, nonce, state };
    }
    if (next.pathname === '/api/auth/login' && next.origin === new URL(b.app.url).origin) {
      loginPages++;
      const page = await b.get(next.pathname + next.search);
      hops.push({ status: page.status, path: next.pathname, setCookies: page.headers.getSetCookie() });
      expect(page.status).toBe(200);
      const returnTo = next.searchParams.get('returnTo') ?? '';
      const login = o.login ?? { kind: 'none' };
      if (login.kind === 'none') return { loginPages, hops, last: page, verifier, nonce, state };
      if (login.kind === 'password') {
        const r = await b.post('/api/auth/password', {
          username: login.username,
          password: login.password ?? PASSWORD,
          returnTo,
        });
        hops.push({ status: r.status, path: '/api/auth/password', setCookies: r.headers.getSetCookie() });
        expect(r.status, await r.clone().text()).toBe(303);
        url = new URL(r.headers.get('location') ?? '', b.app.url).href;
      } else {
        const { callback } = await b.signInWithEntra(login.username, login.account, { returnTo });
        hops.push({
          status: callback.status,
          path: '/api/auth/callback',
          setCookies: callback.headers.getSetCookie(),
        });
        expect(callback.status, await callback.clone().text()).toBe(302);
        url = new URL(callback.headers.get('location') ?? '', b.app.url).href;
      }
      continue;
    }
    url = next.href;
  }
  return { loginPages, hops, last: last as Response, verifier, nonce, state };
}

/** Redeems the code the way the app would (openid-client checks signature, iss, aud, nonce, state). */
export function redeem(rp: RegisteredApp, r: AuthorizeResult) {
  if (!r.callbackUrl) throw new Error('no callback');
  return oidc.authorizationCodeGrant(rp.config, r.callbackUrl, {
    pkceCodeVerifier: r.verifier,
    expectedNonce: r.nonce,
    expectedState: r.state,
    idTokenExpected: true,
  });
}

/** The raw token endpoint, for error answers the client library would turn into exceptions. */
export function tokenRequest(
  app: TestApp,
  form: Record<string, string>,
  auth?: { clientId: string; secret: string },
): Promise<{ status: number; body: Record<string, unknown> }> {
  return formPost(app, 'token', form, auth);
}

/** The revocation endpoint (RFC 7009); its success answer has no body (`{}` here). */
export function revocationRequest(
  app: TestApp,
  form: { token: string; token_type_hint?: string },
  auth: { clientId: string; secret: string },
): Promise<{ status: number; body: Record<string, unknown> }> {
  return formPost(app, 'token/revocation', form, auth);
}

async function formPost(
  app: TestApp,
  path: string,
  form: Record<string, string>,
  auth?: { clientId: string; secret: string },
): Promise<{ status: number; body: Record<string, unknown> }> {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (auth) {
    headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(auth.clientId)}:${encodeURIComponent(auth.secret)}`).toString('base64')}`;
  }
  const res = await fetch(`${app.url}/api/oidc/${path}`, {
    method: 'POST',
    headers,
    body: new URLSearchParams(form),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
}

/** The status userinfo answers for an access token (200, or 401 once it is refused). */
export async function userinfoStatus(app: TestApp, accessToken: string): Promise<number> {
  const res = await fetch(`${app.url}/api/oidc/me`, { headers: { authorization: `Bearer ${accessToken}` } });
  await res.body?.cancel();
  return res.status;
}

/** Redeems an authorization's code a second time (a replay): the token endpoint's raw answer. */
export function replayCode(app: TestApp, rp: RegisteredApp, r: AuthorizeResult) {
  return tokenRequest(
    app,
    {
      grant_type: 'authorization_code',
      code: r.callbackUrl?.searchParams.get('code') as string,
      redirect_uri: RP_REDIRECT,
      code_verifier: r.verifier,
    },
    { clientId: rp.clientId, secret: rp.secret as string },
  );
}

export { oidc };
