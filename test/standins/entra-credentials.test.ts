/**
 * Credentials without a secret at the Entra stand-in, driven by the real clients: MSAL Node with
 * `clientAssertion` and `clientCertificate`, `@azure/identity`'s ManagedIdentityCredential, and
 * plain fetch in Microsoft Graph's shapes. Needs NODE_EXTRA_CA_CERTS (set by `npm test`).
 */
import { createPrivateKey, randomUUID } from 'node:crypto';
import { ManagedIdentityCredential } from '@azure/identity';
import { ConfidentialClientApplication, type Configuration } from '@azure/msal-node';
import { decodeJwt, decodeProtectedHeader, SignJWT } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  DEMO_ENTRA,
  DEMO_MANAGED_IDENTITY,
  demoTenant,
  type EntraStandIn,
  startEntraStandIn,
} from '../../scripts/standins/entra.ts';
import { msalAuthorityOptions } from '../../shared/entra/authority.ts';
import {
  authorizationCode,
  clientCredentialsToken,
  EXCHANGE_AUDIENCE,
  graph,
  selfSignedCertificate,
  startIssuer,
  type TestIssuer,
  tokenWithAssertion,
} from './credential-helpers.ts';

/** Two app registrations with no secret at all: integrations A and B of one broker. */
const APP_A = 'a1a1a1a1-0000-4000-8000-00000000000a';
const APP_B = 'b2b2b2b2-0000-4000-8000-00000000000b';

let standIn: EntraStandIn;
let broker: TestIssuer;

beforeAll(async () => {
  const tenant = demoTenant();
  tenant.apps.push(
    { clientId: APP_A, displayName: 'Integration A', redirectUris: ['*'] },
    { clientId: APP_B, displayName: 'Integration B', redirectUris: ['*'] },
  );
  standIn = await startEntraStandIn({ tenants: [tenant] });
  broker = await startIssuer('https');
});

afterAll(async () => {
  await standIn?.close();
  await broker?.close();
});

const subjectOf = (app: string) => `integration:${app}`;

async function trust(
  app: string,
  fic: { name: string; issuer: string; subject: string; audiences?: string[] },
) {
  const res = await graph(standIn, 'POST', `/applications(appId='${app}')/federatedIdentityCredentials`, {
    audiences: [EXCHANGE_AUDIENCE],
    ...fic,
  });
  expect(res.status).toBe(201);
  return res.body as { id: string };
}

async function untrustAll(app: string) {
  const list = await graph(standIn, 'GET', `/applications(appId='${app}')/federatedIdentityCredentials`);
  for (const f of (list.body?.value as { id: string }[]) ?? []) {
    expect(
      (await graph(standIn, 'DELETE', `/applications(appId='${app}')/federatedIdentityCredentials/${f.id}`))
        .status,
    ).toBe(204);
  }
}

function msalClient(
  clientId: string,
  credential: Pick<Configuration['auth'], 'clientAssertion' | 'clientCertificate'>,
) {
  const authority = msalAuthorityOptions('public', DEMO_ENTRA.tenantId, {
    BROKER_ENTRA_PUBLIC_AUTHORITY_HOST: standIn.host,
  });
  return new ConfidentialClientApplication({ auth: { clientId, ...authority, ...credential } });
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the call to fail');
}

function expectEntraError(
  reply: { status: number; body: Record<string, unknown> },
  status: number,
  code: number,
) {
  expect(reply.status).toBe(status);
  expect(reply.body.error_codes).toEqual([code]);
  expect(String(reply.body.error_description)).toMatch(new RegExp(`^AADSTS${code}: `));
  expect(reply.body.access_token).toBeUndefined();
}

describe('Microsoft Graph shapes for app registration credentials', () => {
  beforeEach(async () => untrustAll(APP_A));

  it('reads the application, adds, lists, reads and deletes a federated identity credential', async () => {
    const app = await graph(standIn, 'GET', `/applications(appId='${APP_A}')`);
    expect(app.status).toBe(200);
    expect(app.body).toMatchObject({ appId: APP_A, displayName: 'Integration A', keyCredentials: [] });
    expect(app.body?.id).toMatch(/^[0-9a-f-]{36}$/);
    const byObjectId = await graph(standIn, 'GET', `/applications/${app.body?.id}`);
    expect(byObjectId.body?.appId).toBe(APP_A);

    const created = await graph(
      standIn,
      'POST',
      `/applications(appId='${APP_A}')/federatedIdentityCredentials`,
      {
        name: 'broker',
        issuer: broker.issuer,
        subject: subjectOf(APP_A),
        audiences: [EXCHANGE_AUDIENCE],
      },
    );
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      name: 'broker',
      issuer: broker.issuer,
      subject: subjectOf(APP_A),
      audiences: [EXCHANGE_AUDIENCE],
      description: null,
    });
    const id = String(created.body?.id);
    const list = await graph(standIn, 'GET', `/applications(appId='${APP_A}')/federatedIdentityCredentials`);
    expect((list.body?.value as unknown[] | undefined)?.map((f) => (f as { id: string }).id)).toEqual([id]);
    const one = await graph(
      standIn,
      'GET',
      `/applications(appId='${APP_A}')/federatedIdentityCredentials/${id}`,
    );
    expect(one.body?.subject).toBe(subjectOf(APP_A));
    const same = await graph(
      standIn,
      'POST',
      `/applications(appId='${APP_A}')/federatedIdentityCredentials`,
      {
        name: 'broker-again',
        issuer: broker.issuer,
        subject: subjectOf(APP_A),
        audiences: [EXCHANGE_AUDIENCE],
      },
    );
    expect(same.status).toBe(409);
    expect(
      (await graph(standIn, 'DELETE', `/applications(appId='${APP_A}')/federatedIdentityCredentials/${id}`))
        .status,
    ).toBe(204);
    const after = await graph(standIn, 'GET', `/applications(appId='${APP_A}')/federatedIdentityCredentials`);
    expect(after.body?.value).toEqual([]);
  });

  it("answers in Graph's error shape: bad input 400, unknown app 404, no token 401, no role 403", async () => {
    const bad = await graph(standIn, 'POST', `/applications(appId='${APP_A}')/federatedIdentityCredentials`, {
      name: 'x',
      issuer: 'http://broker.example/api/oidc',
      subject: 's',
      audiences: [EXCHANGE_AUDIENCE],
    });
    expect(bad.status).toBe(400);
    expect(bad.body?.error).toMatchObject({ code: 'Request_BadRequest' });
    expect(
      (bad.body?.error as { innerError: Record<string, string> } | undefined)?.innerError['request-id'],
    ).toMatch(/^[0-9a-f-]{36}$/);
    const audience = await graph(
      standIn,
      'POST',
      `/applications(appId='${APP_A}')/federatedIdentityCredentials`,
      {
        name: 'x',
        issuer: broker.issuer,
        subject: 's',
        audiences: ['api://other'],
      },
    );
    expect(audience.status).toBe(400);

    const unknown = await graph(standIn, 'GET', `/applications(appId='${randomUUID()}')`);
    expect(unknown.status).toBe(404);
    expect(unknown.body?.error).toMatchObject({ code: 'Request_ResourceNotFound' });
    const anonymous = await graph(standIn, 'GET', `/applications(appId='${APP_A}')`, undefined, null);
    expect(anonymous.status).toBe(401);
    expect(anonymous.body?.error).toMatchObject({ code: 'InvalidAuthenticationToken' });
    const plainApp = await clientCredentialsToken(standIn, DEMO_ENTRA);
    const denied = await graph(standIn, 'GET', `/applications(appId='${APP_A}')`, undefined, plainApp);
    expect(denied.status).toBe(403);
    expect(denied.body?.error).toMatchObject({ code: 'Authorization_RequestDenied' });
  });
});

describe('federated identity credentials (the broker as issuer)', () => {
  beforeAll(async () => {
    await untrustAll(APP_A);
    await untrustAll(APP_B);
    await trust(APP_A, { name: 'broker', issuer: broker.issuer, subject: subjectOf(APP_A) });
    await trust(APP_B, { name: 'broker', issuer: broker.issuer, subject: subjectOf(APP_B) });
  });

  it('accepts an assertion with the exact issuer, subject and audience, through MSAL', async () => {
    let calls = 0;
    const cca = msalClient(APP_A, {
      clientAssertion: async (config) => {
        calls++;
        expect(config.clientId).toBe(APP_A);
        return broker.mint({ sub: subjectOf(APP_A) });
      },
    });
    const result = await cca.acquireTokenByClientCredential({
      scopes: ['https://graph.microsoft.com/.default'],
    });
    expect(calls).toBe(1);
    expect(decodeJwt(result?.accessToken ?? '')).toMatchObject({ appid: APP_A, tid: DEMO_ENTRA.tenantId });
    expect(broker.hits).toContain('/api/oidc/.well-known/openid-configuration');
    expect(broker.hits).toContain('/api/oidc/jwks');
  });

  it('redeems an authorization code with a federated assertion (the broker at sign-in), through MSAL', async () => {
    const flow = await authorizationCode(standIn, APP_A, 'alice');
    const cca = msalClient(APP_A, { clientAssertion: async () => broker.mint({ sub: subjectOf(APP_A) }) });
    const result = await cca.acquireTokenByCode({
      code: flow.code,
      codeVerifier: flow.verifier,
      redirectUri: flow.redirectUri,
      scopes: ['openid', 'profile'],
      nonce: 'n',
    });
    expect(decodeJwt(result.idToken)).toMatchObject({ aud: APP_A, preferred_username: 'alice@demo.example' });
    // The same code with an assertion naming integration B's subject is refused before redemption.
    const again = await authorizationCode(standIn, APP_A, 'bob');
    const wrong = msalClient(APP_A, { clientAssertion: async () => broker.mint({ sub: subjectOf(APP_B) }) });
    const err = await failure(
      wrong.acquireTokenByCode({
        code: again.code,
        codeVerifier: again.verifier,
        redirectUri: again.redirectUri,
        scopes: ['openid'],
      }),
    );
    expect(err.message).toMatch(/AADSTS700213:/);
  });

  it('takes a replayed jti again when configured as Entra behaves', async () => {
    const tenant = demoTenant();
    tenant.apps.push({
      clientId: APP_A,
      redirectUris: [],
      federatedCredentials: [
        { name: 'broker', issuer: broker.issuer, subject: subjectOf(APP_A), audiences: [EXCHANGE_AUDIENCE] },
      ],
    });
    const lenient = await startEntraStandIn({ tenants: [tenant], refuseReplayedAssertions: false });
    try {
      const assertion = await broker.mint({ sub: subjectOf(APP_A) });
      expect((await tokenWithAssertion(lenient, APP_A, assertion)).status).toBe(200);
      expect((await tokenWithAssertion(lenient, APP_A, assertion)).status).toBe(200);
    } finally {
      await lenient.close();
    }
  });

  it('accepts PS256 and ES256 signatures too, and reuses the fetched discovery and JWKS', async () => {
    const before = broker.hits.length;
    for (const alg of ['PS256', 'ES256'] as const) {
      const reply = await tokenWithAssertion(
        standIn,
        APP_A,
        await broker.mint({ sub: subjectOf(APP_A) }, { alg }),
      );
      expect(reply.status).toBe(200);
    }
    expect(broker.hits.length).toBe(before);
  });

  it("follows the issuer's key rollover: a new kid makes the stand-in read the JWKS again", async () => {
    const before = await broker.mint({ sub: subjectOf(APP_A) });
    const kid = await broker.rotate();
    const jwksReads = broker.hits.filter((h) => h === '/api/oidc/jwks').length;
    const after = await broker.mint({ sub: subjectOf(APP_A) });
    expect(decodeProtectedHeader(after).kid).toBe(kid);
    expect((await tokenWithAssertion(standIn, APP_A, after)).status).toBe(200);
    expect(broker.hits.filter((h) => h === '/api/oidc/jwks').length).toBe(jwksReads + 1);
    // One signed with the previous key stays valid while the JWKS still publishes that key.
    expect((await tokenWithAssertion(standIn, APP_A, before)).status).toBe(200);
  });

  it("refuses an assertion minted for integration A at integration B's app (AADSTS700213)", async () => {
    const reply = await tokenWithAssertion(standIn, APP_B, await broker.mint({ sub: subjectOf(APP_A) }));
    expectEntraError(reply, 400, 700213);
    expect(reply.body.error).toBe('invalid_request');
  });

  it('refuses a subject differing only in case (AADSTS700213), another issuer (AADSTS700211), another audience (AADSTS70021)', async () => {
    expectEntraError(
      await tokenWithAssertion(standIn, APP_A, await broker.mint({ sub: subjectOf(APP_A).toUpperCase() })),
      400,
      700213,
    );
    expectEntraError(
      await tokenWithAssertion(
        standIn,
        APP_A,
        await broker.mint({ sub: subjectOf(APP_A), iss: `${broker.issuer}/` }),
      ),
      400,
      700211,
    );
    const wrongAud = await tokenWithAssertion(
      standIn,
      APP_A,
      await broker.mint({ sub: subjectOf(APP_A), aud: 'api://SomethingElse' }),
    );
    expectEntraError(wrongAud, 400, 70021);
    expect(String(wrongAud.body.error_description)).toContain(`Assertion Issuer: '${broker.issuer}'`);
  });

  it('refuses an expired or not yet valid assertion (AADSTS700024)', async () => {
    const now = Math.floor(Date.now() / 1000);
    const expired = await broker.mint({
      sub: subjectOf(APP_A),
      iat: now - 1200,
      nbf: now - 1200,
      exp: now - 600,
    });
    expectEntraError(await tokenWithAssertion(standIn, APP_A, expired), 401, 700024);
    const early = await broker.mint({ sub: subjectOf(APP_A), iat: now, nbf: now + 900, exp: now + 1200 });
    expectEntraError(await tokenWithAssertion(standIn, APP_A, early), 401, 700024);
    const tooLong = await broker.mint({ sub: subjectOf(APP_A), exp: now + 2 * 24 * 3600 });
    expectEntraError(await tokenWithAssertion(standIn, APP_A, tooLong), 401, 700024);
  });

  it('refuses a replayed jti', async () => {
    const assertion = await broker.mint({ sub: subjectOf(APP_A) });
    expect((await tokenWithAssertion(standIn, APP_A, assertion)).status).toBe(200);
    expectEntraError(await tokenWithAssertion(standIn, APP_A, assertion), 400, 50013);
  });

  it("refuses a key the issuer's JWKS does not publish (AADSTS7000272) and a forged signature (AADSTS700027)", async () => {
    const unknownKid = await broker.mint({ sub: subjectOf(APP_A) }, { kid: 'not-published' });
    expectEntraError(await tokenWithAssertion(standIn, APP_A, unknownKid), 401, 7000272);
    const good = await broker.mint({ sub: subjectOf(APP_A) });
    const [h, , s] = good.split('.');
    const forgedPayload = Buffer.from(JSON.stringify({ ...decodeJwt(good), jti: randomUUID() })).toString(
      'base64url',
    );
    expectEntraError(await tokenWithAssertion(standIn, APP_A, `${h}.${forgedPayload}.${s}`), 401, 700027);
  });

  it('answers AADSTS50166 when the issuer cannot be reached', async () => {
    const gone = await startIssuer('https');
    await gone.close();
    await trust(APP_B, { name: 'gone', issuer: gone.issuer, subject: 'x' });
    const reply = await tokenWithAssertion(standIn, APP_B, await gone.mint({ sub: 'x' }));
    expectEntraError(reply, 400, 50166);
  });

  it('takes an http issuer on loopback (a local broker), never elsewhere', async () => {
    const local = await startIssuer('http');
    try {
      await trust(APP_B, { name: 'local-http', issuer: local.issuer, subject: subjectOf(APP_B) });
      const reply = await tokenWithAssertion(standIn, APP_B, await local.mint({ sub: subjectOf(APP_B) }));
      expect(reply.status).toBe(200);
    } finally {
      await local.close();
    }
  });

  it('refuses an unknown client id (AADSTS700016) and a malformed assertion (AADSTS50027)', async () => {
    expectEntraError(
      await tokenWithAssertion(standIn, randomUUID(), await broker.mint({ sub: 'x' })),
      400,
      700016,
    );
    expectEntraError(await tokenWithAssertion(standIn, APP_A, 'not-a-jwt'), 400, 50027);
  });
});

describe('certificate credentials', () => {
  const cert = selfSignedCertificate('integration-a');
  const other = selfSignedCertificate('not-registered');

  beforeAll(async () => {
    const patched = await graph(standIn, 'PATCH', `/applications(appId='${APP_A}')`, {
      keyCredentials: [
        { type: 'AsymmetricX509Cert', usage: 'Verify', key: cert.der, displayName: 'CN=integration-a' },
      ],
    });
    expect(patched.status).toBe(204);
  });

  it('shows the registered certificate as Graph does (key only when $select-ed)', async () => {
    const app = await graph(standIn, 'GET', `/applications(appId='${APP_A}')`);
    const [kc] = (app.body?.keyCredentials ?? []) as Record<string, unknown>[];
    expect(kc).toMatchObject({
      type: 'AsymmetricX509Cert',
      usage: 'Verify',
      customKeyIdentifier: cert.sha1,
      displayName: 'CN=integration-a',
      key: null,
    });
    expect(kc?.keyId).toMatch(/^[0-9a-f-]{36}$/);
    expect(Date.parse(String(kc?.endDateTime))).toBeGreaterThan(Date.now());
    const selected = await graph(standIn, 'GET', `/applications(appId='${APP_A}')?$select=keyCredentials`);
    expect((selected.body?.keyCredentials as { key: string }[] | undefined)?.[0]?.key).toBe(cert.der);
    const bad = await graph(standIn, 'PATCH', `/applications(appId='${APP_A}')`, {
      keyCredentials: [
        { keyId: kc?.keyId },
        { type: 'AsymmetricX509Cert', usage: 'Verify', key: 'bm90IGEgY2VydA==' },
      ],
    });
    expect(bad.status).toBe(400);
  });

  it('accepts an assertion signed by the registered certificate, through MSAL (x5t#S256, PS256)', async () => {
    const cca = msalClient(APP_A, {
      clientCertificate: { thumbprintSha256: cert.sha256, privateKey: cert.privateKeyPem },
    });
    const result = await cca.acquireTokenByClientCredential({
      scopes: ['https://graph.microsoft.com/.default'],
    });
    expect(decodeJwt(result?.accessToken ?? '').appid).toBe(APP_A);
  });

  it('accepts an RS256 assertion naming the certificate by x5t (SHA-1)', async () => {
    const now = Math.floor(Date.now() / 1000);
    const assertion = await new SignJWT({
      aud: standIn.tokenEndpoint(DEMO_ENTRA.tenantId),
      jti: randomUUID(),
    })
      .setProtectedHeader({
        alg: 'RS256',
        typ: 'JWT',
        x5t: Buffer.from(cert.sha1, 'hex').toString('base64url'),
      })
      .setIssuer(APP_A)
      .setSubject(APP_A)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + 600)
      .sign(createPrivateKey(cert.privateKeyPem));
    expect((await tokenWithAssertion(standIn, APP_A, assertion)).status).toBe(200);
    expectEntraError(await tokenWithAssertion(standIn, APP_A, assertion), 400, 50013);
  });

  it('refuses a certificate that is not registered (AADSTS700027), also through MSAL', async () => {
    const cca = msalClient(APP_A, {
      clientCertificate: { thumbprintSha256: other.sha256, privateKey: other.privateKeyPem },
    });
    const err = await failure(
      cca.acquireTokenByClientCredential({ scopes: ['https://graph.microsoft.com/.default'] }),
    );
    expect(err.message).toMatch(/AADSTS700027:/);
    // The registered thumbprint with another key's signature is no better.
    const forged = msalClient(APP_A, {
      clientCertificate: { thumbprintSha256: cert.sha256, privateKey: other.privateKeyPem },
    });
    expect(
      (
        await failure(
          forged.acquireTokenByClientCredential({ scopes: ['https://graph.microsoft.com/.default'] }),
        )
      ).message,
    ).toMatch(/AADSTS700027:/);
    // The certificate of app A does not authenticate app B.
    const asB = msalClient(APP_B, {
      clientCertificate: { thumbprintSha256: cert.sha256, privateKey: cert.privateKeyPem },
    });
    expect(
      (
        await failure(
          asB.acquireTokenByClientCredential({ scopes: ['https://graph.microsoft.com/.default'] }),
        )
      ).message,
    ).toMatch(/AADSTS700027:/);
  });

  it('refuses a certificate assertion for another audience', async () => {
    const now = Math.floor(Date.now() / 1000);
    const assertion = await new SignJWT({
      aud: 'https://login.microsoftonline.com/common/oauth2/v2.0/token',
      jti: randomUUID(),
    })
      .setProtectedHeader({
        alg: 'RS256',
        typ: 'JWT',
        'x5t#S256': Buffer.from(cert.sha256, 'hex').toString('base64url'),
      })
      .setIssuer(APP_A)
      .setSubject(APP_A)
      .setIssuedAt(now)
      .setExpirationTime(now + 600)
      .sign(createPrivateKey(cert.privateKeyPem));
    expectEntraError(await tokenWithAssertion(standIn, APP_A, assertion), 401, 700027);
  });
});

describe('managed identity endpoint (App Service 2019-08-01) as a federated credential', () => {
  const saved = { endpoint: process.env.IDENTITY_ENDPOINT, header: process.env.IDENTITY_HEADER };
  beforeAll(() => {
    process.env.IDENTITY_ENDPOINT = standIn.managedIdentityEndpoint;
    process.env.IDENTITY_HEADER = standIn.identityHeader;
  });
  afterAll(() => {
    for (const [key, value] of [
      ['IDENTITY_ENDPOINT', saved.endpoint],
      ['IDENTITY_HEADER', saved.header],
    ] as const) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  });

  it('issues the identity a token for api://AzureADTokenExchange through ManagedIdentityCredential', async () => {
    const from = standIn.requests.length;
    const credential = new ManagedIdentityCredential({ clientId: DEMO_MANAGED_IDENTITY.clientId });
    const token = await credential.getToken(`${EXCHANGE_AUDIENCE}/.default`);
    const claims = decodeJwt(token.token);
    expect(claims).toMatchObject({
      iss: standIn.issuer(DEMO_ENTRA.tenantId),
      sub: DEMO_MANAGED_IDENTITY.objectId,
      oid: DEMO_MANAGED_IDENTITY.objectId,
      aud: EXCHANGE_AUDIENCE,
      tid: DEMO_ENTRA.tenantId,
    });
    expect(token.expiresOnTimestamp).toBeGreaterThan(Date.now() + 3600_000);
    expect(standIn.requests.slice(from)).toEqual([{ method: 'GET', path: '/msi/token', status: 200 }]);
  });

  it('refuses a wrong X-IDENTITY-HEADER and an unknown identity', async () => {
    const url = new URL(standIn.managedIdentityEndpoint);
    url.search = new URLSearchParams({
      resource: EXCHANGE_AUDIENCE,
      'api-version': '2019-08-01',
      client_id: DEMO_MANAGED_IDENTITY.clientId,
    }).toString();
    expect((await fetch(url, { headers: { 'x-identity-header': 'wrong' } })).status).toBe(401);
    url.searchParams.set('client_id', randomUUID());
    expect((await fetch(url, { headers: { 'x-identity-header': standIn.identityHeader } })).status).toBe(400);
  });

  it("lets the identity's token act as app A's credential, and reuse it as Entra does", async () => {
    await untrustAll(APP_A);
    await trust(APP_A, {
      name: 'function-app-identity',
      issuer: standIn.issuer(DEMO_ENTRA.tenantId),
      subject: DEMO_MANAGED_IDENTITY.objectId,
    });
    const credential = new ManagedIdentityCredential({ clientId: DEMO_MANAGED_IDENTITY.clientId });
    const assertion = async () => (await credential.getToken(`${EXCHANGE_AUDIENCE}/.default`)).token;
    for (let i = 0; i < 2; i++) {
      const cca = msalClient(APP_A, { clientAssertion: assertion });
      const result = await cca.acquireTokenByClientCredential({
        scopes: ['https://graph.microsoft.com/.default'],
      });
      expect(decodeJwt(result?.accessToken ?? '').appid).toBe(APP_A);
    }
    // App B does not trust the identity.
    const reply = await tokenWithAssertion(standIn, APP_B, await assertion());
    expectEntraError(reply, 400, 700211);
  });
});
