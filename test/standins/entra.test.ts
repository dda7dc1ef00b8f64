/**
 * The Entra stand-in driven by the real MSAL Node client that production builds
 * (shared/entra/msal.ts), with static authority metadata (no discovery calls).
 */
import { createHash, randomBytes } from 'node:crypto';
import { CryptoProvider } from '@azure/msal-node';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEMO_ENTRA,
  demoTenant,
  type EntraStandIn,
  startEntraStandIn,
} from '../../scripts/standins/entra.ts';
import { authorityHost, issuerFor, msalAuthorityOptions } from '../../shared/entra/authority.ts';
import { classifyEntraError } from '../../shared/entra/errors.ts';
import { createConfidentialClient, testClientCredentials } from '../../shared/entra/msal.ts';

const OTHER_TENANT = {
  tenantId: '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d',
  domain: 'contoso.example',
  clientId: '5d6e7f80-9a1b-4c2d-8e3f-4a5b6c7d8e9f',
  clientSecret: 'contoso~Secret_abcdefghijklmnop',
};

let standIn: EntraStandIn;
let config: { BROKER_ENTRA_PUBLIC_AUTHORITY_HOST: string };
const logs: string[] = [];

beforeAll(async () => {
  standIn = await startEntraStandIn({
    tenants: [demoTenant()],
  });
  config = { BROKER_ENTRA_PUBLIC_AUTHORITY_HOST: standIn.host };
});

afterAll(async () => {
  await standIn?.close();
});

function client(over: Partial<{ applicationId: string; tenant: string; clientSecret: string }> = {}) {
  return createConfidentialClient(
    {
      applicationId: DEMO_ENTRA.clientId,
      tenant: DEMO_ENTRA.tenantId,
      cloud: 'public',
      clientSecret: DEMO_ENTRA.clientSecret,
      ...over,
    },
    config,
    { logger: (level, message) => logs.push(`${level}: ${message}`) },
  );
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to fail');
}

/** Only token endpoint calls since `from`: MSAL made no discovery / instance-metadata request. */
function expectOnlyTokenCalls(from: number) {
  const seen = standIn.requests.slice(from);
  expect(seen.length).toBeGreaterThan(0);
  for (const r of seen) {
    expect(r.method).toBe('POST');
    expect(r.path).toMatch(/^\/[^/]+\/oauth2\/v2\.0\/token$/);
  }
}

describe('client credentials through MSAL', () => {
  it('succeeds with the right secret, calling only the token endpoint', async () => {
    const from = standIn.requests.length;
    const result = await testClientCredentials(client(), 'public');
    expect(result.accessToken).toBeTruthy();
    expectOnlyTokenCalls(from);
    expect(standIn.requests.slice(from)).toHaveLength(1);
    const jwks = createRemoteJWKSet(new URL(`${standIn.authority(DEMO_ENTRA.tenantId)}/discovery/v2.0/keys`));
    const { payload, protectedHeader } = await jwtVerify(result.accessToken, jwks, {
      issuer: standIn.issuer(DEMO_ENTRA.tenantId),
      audience: 'https://graph.microsoft.com',
      algorithms: ['RS256'],
    });
    expect(protectedHeader.kid).toBeTruthy();
    expect(payload.tid).toBe(DEMO_ENTRA.tenantId);
    expect(payload.appid).toBe(DEMO_ENTRA.clientId);
  });

  it('also works with the tenant addressed by its domain', async () => {
    const from = standIn.requests.length;
    const result = await testClientCredentials(client({ tenant: DEMO_ENTRA.domain }), 'public');
    expect(result.accessToken).toBeTruthy();
    expect(standIn.requests.slice(from).map((r) => r.path)).toEqual(['/demo.example/oauth2/v2.0/token']);
  });

  const cases = [
    {
      name: 'wrong secret',
      over: { clientSecret: 'not-the-secret' },
      kind: 'wrong_secret',
      aadsts: 7000215,
      status: 401,
    },
    {
      name: 'unknown application',
      over: { applicationId: '11111111-2222-4333-8444-555555555555' },
      kind: 'unknown_application',
      aadsts: 700016,
      status: 400,
    },
    {
      name: 'unknown tenant',
      over: { tenant: '99999999-8888-4777-8666-555555555555' },
      kind: 'unknown_tenant',
      aadsts: 90002,
      status: 400,
    },
    {
      name: 'expired secret',
      over: { applicationId: DEMO_ENTRA.expiredClientId, clientSecret: DEMO_ENTRA.expiredClientSecret },
      kind: 'secret_expired',
      aadsts: 7000222,
      status: 401,
    },
    {
      name: 'app of another tenant',
      over: { applicationId: OTHER_TENANT.clientId, clientSecret: OTHER_TENANT.clientSecret },
      kind: 'unknown_application',
      aadsts: 700016,
      status: 400,
    },
  ] as const;

  for (const c of cases) {
    it(`classifies ${c.name} as ${c.kind} (AADSTS${c.aadsts})`, async () => {
      const from = standIn.requests.length;
      const err = await failure(testClientCredentials(client(c.over), 'public'));
      const classified = classifyEntraError(err);
      expect(classified.kind).toBe(c.kind);
      expect(classified.aadsts).toBe(c.aadsts);
      expect(classified.correlationId).toMatch(/^[0-9a-f-]{36}$/);
      // Only the number and kind: none of Entra's text.
      expect(JSON.stringify(classified)).not.toMatch(/AADSTS\d|Trace ID|not found|Invalid client|expired\./);
      expectOnlyTokenCalls(from);
      expect(standIn.requests.at(-1)?.status).toBe(c.status);
    });
  }

  it('classifies a stopped authority as unreachable', async () => {
    const stopped = await startEntraStandIn();
    await stopped.close();
    const offline = createConfidentialClient(
      {
        applicationId: DEMO_ENTRA.clientId,
        tenant: DEMO_ENTRA.tenantId,
        cloud: 'public',
        clientSecret: DEMO_ENTRA.clientSecret,
      },
      { BROKER_ENTRA_PUBLIC_AUTHORITY_HOST: stopped.host },
    );
    const err = await failure(testClientCredentials(offline, 'public'));
    expect(classifyEntraError(err).kind).toBe('unreachable');
  });

  it('never hands the secret to the logger', () => {
    for (const line of logs) expect(line).not.toContain(DEMO_ENTRA.clientSecret);
  });
});

describe('Entra-shaped token errors (raw HTTP)', () => {
  it('has error, AADSTS description with trace/correlation ids, error_codes, timestamp', async () => {
    const res = await fetch(`${standIn.authority(DEMO_ENTRA.tenantId)}/oauth2/v2.0/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: DEMO_ENTRA.clientId,
        client_secret: 'wrong',
        scope: 'https://graph.microsoft.com/.default',
      }),
    });
    expect(res.status).toBe(401);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body.error).toBe('invalid_client');
    expect(body.error_codes).toEqual([7000215]);
    expect(body.error_description).toMatch(
      /^AADSTS7000215: .+\r\nTrace ID: [0-9a-f-]{36}\r\nCorrelation ID: [0-9a-f-]{36}\r\nTimestamp: \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/,
    );
    expect(body.trace_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(body.correlation_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(body.timestamp).toBeTruthy();
  });

  it('answers an unknown tenant on any path with AADSTS90002', async () => {
    const res = await fetch(`${standIn.host}/nowhere.example/v2.0/.well-known/openid-configuration`);
    expect(res.status).toBe(400);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body.error_codes).toEqual([90002]);
  });
});

describe('authority layout', () => {
  it('uses the sovereign hosts and only overrides the public cloud', () => {
    const local = { BROKER_ENTRA_PUBLIC_AUTHORITY_HOST: 'https://localhost:7443' };
    expect(authorityHost('public', {})).toBe('https://login.microsoftonline.com');
    expect(authorityHost('public', local)).toBe('https://localhost:7443');
    expect(authorityHost('usgov', local)).toBe('https://login.microsoftonline.us');
    expect(authorityHost('china', local)).toBe('https://login.chinacloudapi.cn');
    expect(issuerFor('usgov', DEMO_ENTRA.tenantId, {})).toBe(
      `https://login.microsoftonline.us/${DEMO_ENTRA.tenantId}/v2.0`,
    );
    const opts = msalAuthorityOptions('public', 'organizations', {});
    expect(opts.authority).toBe('https://login.microsoftonline.com/organizations');
    expect(JSON.parse(opts.authorityMetadata)).toMatchObject({
      issuer: 'https://login.microsoftonline.com/{tenantid}/v2.0',
      token_endpoint: 'https://login.microsoftonline.com/organizations/oauth2/v2.0/token',
      jwks_uri: 'https://login.microsoftonline.com/organizations/discovery/v2.0/keys',
    });
    const discovery = JSON.parse(opts.cloudDiscoveryMetadata);
    expect(discovery.metadata[0].aliases).toContain('login.microsoftonline.com');
  });
});

// ---------------------------------------------------------------------------------------------
// Authorization code flow without a browser: fetch + a tiny cookie jar.

class CookieJar {
  private readonly cookies = new Map<string, string>();
  store(res: Response) {
    for (const line of res.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const i = pair.indexOf('=');
      const name = pair.slice(0, i).trim();
      const value = pair.slice(i + 1).trim();
      if (/;\s*expires=Thu, 01 Jan 1970/i.test(line) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

interface SignIn {
  code: string;
  state: string;
  verifier: string;
  nonce: string;
  redirectUri: string;
  loginFormValue: string;
}

async function signIn(login: string, opts: { tenant?: string; loginHint?: string } = {}): Promise<SignIn> {
  const cca = client({ tenant: opts.tenant ?? DEMO_ENTRA.tenantId });
  const crypto = new CryptoProvider();
  const { verifier, challenge } = await crypto.generatePkceCodes();
  expect(challenge).toBe(createHash('sha256').update(verifier).digest('base64url'));
  const state = randomBytes(16).toString('base64url');
  const nonce = randomBytes(16).toString('base64url');
  const redirectUri = 'http://localhost:7071/api/auth/callback';
  const authorizeUrl = await cca.getAuthCodeUrl({
    scopes: ['openid', 'profile', 'email'],
    redirectUri,
    codeChallenge: challenge,
    codeChallengeMethod: 'S256',
    state,
    nonce,
    loginHint: opts.loginHint ?? login,
    responseMode: 'query',
  });
  expect(authorizeUrl.startsWith(`${standIn.host}/`)).toBe(true);

  const jar = new CookieJar();
  let url = authorizeUrl;
  let loginFormValue = '';
  for (let hop = 0; hop < 10; hop++) {
    const res = await fetch(url, { redirect: 'manual', headers: { cookie: jar.header() } });
    jar.store(res);
    if (res.status === 200) {
      const html = await res.text();
      const action = /<form method="post" action="([^"]+)"/.exec(html)?.[1];
      expect(action).toBeTruthy();
      loginFormValue = /name="login" value="([^"]*)"/.exec(html)?.[1] ?? '';
      expect(html).toMatch(/name="password"/);
      expect(html).toMatch(/<button type="submit"/);
      const post = await fetch(new URL(action!.replace(/&amp;/g, '&'), url), {
        method: 'POST',
        redirect: 'manual',
        headers: { cookie: jar.header(), 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ login, password: 'any password' }),
      });
      jar.store(post);
      expect([302, 303]).toContain(post.status);
      url = new URL(post.headers.get('location')!, url).href;
      continue;
    }
    expect([302, 303]).toContain(res.status);
    const location = new URL(res.headers.get('location')!, url).href;
    if (location.startsWith(redirectUri)) {
      const params = new URL(location).searchParams;
      expect(params.get('error')).toBeNull();
      expect(params.get('state')).toBe(state);
      return { code: params.get('code')!, state, verifier, nonce, redirectUri, loginFormValue };
    }
    url = location;
  }
  throw new Error('too many redirects');
}

async function redeem(flow: SignIn, over: Partial<{ codeVerifier: string; tenant: string }> = {}) {
  return client({ tenant: over.tenant ?? DEMO_ENTRA.tenantId }).acquireTokenByCode(
    {
      code: flow.code,
      redirectUri: flow.redirectUri,
      codeVerifier: over.codeVerifier ?? flow.verifier,
      // MSAL Node 7 compares the ID token's nonce with request.nonce (not the payload's).
      nonce: flow.nonce,
      scopes: ['openid', 'profile', 'email'],
      state: flow.state,
    },
    { code: flow.code, state: flow.state },
  );
}

async function verifyIdToken(idToken: string, nonce: string) {
  const jwks = createRemoteJWKSet(new URL(`${standIn.authority(DEMO_ENTRA.tenantId)}/discovery/v2.0/keys`));
  const { payload, protectedHeader } = await jwtVerify(idToken, jwks, {
    issuer: standIn.issuer(DEMO_ENTRA.tenantId),
    audience: DEMO_ENTRA.clientId,
    algorithms: ['RS256'],
  });
  expect(protectedHeader.alg).toBe('RS256');
  expect(protectedHeader.kid).toBeTruthy();
  expect(payload.nonce).toBe(nonce);
  return payload;
}

describe('authorization code flow (PKCE S256) through MSAL', () => {
  it('signs in, redeems the code with MSAL, and issues an Entra-shaped ID token', async () => {
    const from = standIn.requests.length;
    const flow = await signIn('alice');
    expect(flow.loginFormValue).toBe('alice');
    const result = await redeem(flow);
    expect(result.idToken).toBeTruthy();
    const claims = await verifyIdToken(result.idToken, flow.nonce);
    expect(claims).toMatchObject({
      ver: '2.0',
      iss: standIn.issuer(DEMO_ENTRA.tenantId),
      aud: DEMO_ENTRA.clientId,
      tid: DEMO_ENTRA.tenantId,
      preferred_username: 'alice@demo.example',
      email: 'alice@demo.example',
      name: 'Alice',
    });
    expect(claims.oid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(claims.sub).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(typeof claims.iat).toBe('number');
    expect(typeof claims.nbf).toBe('number');
    expect(typeof claims.exp).toBe('number');
    expect(result.account?.tenantId).toBe(DEMO_ENTRA.tenantId);
    expect(result.account?.homeAccountId).toBe(`${claims.oid}.${DEMO_ENTRA.tenantId}`);
    // The flow itself made no discovery request either.
    const paths = standIn.requests.slice(from).map((r) => r.path);
    expect(paths.some((p) => p.includes('.well-known') || p.includes('/discovery/instance'))).toBe(false);
  });

  it('gives the same account the same oid (and a different account another)', async () => {
    const once = await signIn('bob');
    const first = await verifyIdToken((await redeem(once)).idToken, once.nonce);
    const again = await signIn('Bob@demo.example', { loginHint: 'Bob@demo.example' });
    expect(again.loginFormValue).toBe('Bob@demo.example');
    const second = await verifyIdToken((await redeem(again)).idToken, again.nonce);
    const other = await signIn('carol');
    const third = await verifyIdToken((await redeem(other)).idToken, other.nonce);
    expect(second.oid).toBe(first.oid);
    expect(second.sub).toBe(first.sub);
    expect(second.preferred_username).toBe('bob@demo.example');
    expect(third.oid).not.toBe(first.oid);
  }, 20_000);

  it('rejects a wrong code_verifier with AADSTS501481', async () => {
    const flow = await signIn('dave');
    const wrong = await failure(redeem(flow, { codeVerifier: randomBytes(32).toString('base64url') }));
    const classified = classifyEntraError(wrong);
    expect(classified).toMatchObject({ kind: 'invalid_grant', aadsts: 501481 });
  });

  it('rejects a reused code with AADSTS54005', async () => {
    const flow = await signIn('erin');
    await redeem(flow);
    const reused = await failure(redeem(flow));
    expect(classifyEntraError(reused)).toMatchObject({ kind: 'invalid_grant', aadsts: 54005 });
  });

  it('accepts the organizations authority and prompt=select_account (shown as the sign-in form)', async () => {
    const authorize = new URL(`${standIn.authority('organizations')}/oauth2/v2.0/authorize`);
    authorize.search = new URLSearchParams({
      client_id: DEMO_ENTRA.clientId,
      response_type: 'code',
      scope: 'openid profile email offline_access',
      redirect_uri: 'http://127.0.0.1:5555/callback',
      code_challenge: createHash('sha256').update('v'.repeat(43)).digest('base64url'),
      code_challenge_method: 'S256',
      state: 's',
      nonce: 'n',
      prompt: 'select_account',
    }).toString();
    const res = await fetch(authorize, { redirect: 'manual' });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toMatch(new RegExp(`^/${DEMO_ENTRA.tenantId}/interaction/[\\w-]+$`));
  });

  it('refuses PKCE plain and unregistered redirect URIs', async () => {
    const base = `${standIn.authority(DEMO_ENTRA.tenantId)}/oauth2/v2.0/authorize`;
    const plain = new URL(base);
    plain.search = new URLSearchParams({
      client_id: DEMO_ENTRA.clientId,
      response_type: 'code',
      scope: 'openid',
      redirect_uri: 'http://localhost:7071/api/auth/callback',
      code_challenge: 'a'.repeat(43),
      code_challenge_method: 'plain',
      state: 's',
      nonce: 'n',
    }).toString();
    const res = await fetch(plain, { redirect: 'manual' });
    const location = res.headers.get('location') ?? '';
    expect(new URL(location).searchParams.get('error')).toBe('invalid_request');

    const foreign = new URL(base);
    foreign.search = new URLSearchParams({
      client_id: OTHER_TENANT.clientId,
      response_type: 'code',
      scope: 'openid',
      redirect_uri: 'http://localhost:7071/api/auth/callback',
      code_challenge: 'a'.repeat(43),
      code_challenge_method: 'S256',
    }).toString();
    const other = await fetch(foreign.href.replace(DEMO_ENTRA.tenantId, OTHER_TENANT.tenantId), {
      redirect: 'manual',
    });
    expect(other.status).toBe(400);
    expect(other.headers.get('location')).toBeNull();
  });
});
