/**
 * Integrations without a client secret, end to end: the real app on the local host, the Entra
 * stand-in (federated credentials, certificates, a managed identity endpoint) registered through its
 * Microsoft Graph routes the way an admin's tooling does it, the Key Vault stand-in's Keys API, and
 * a user signing in through Entra for each kind. docs/security.md CR1–CR3.
 */
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerDemoFederatedCredential, seedDemo } from '../../scripts/demo.ts';
import {
  DEMO_ENTRA,
  DEMO_MANAGED_IDENTITY,
  demoTenant,
  type EntraStandIn,
  startEntraStandIn,
} from '../../scripts/standins/entra.ts';
import { type KeyVaultStandIn, startKeyVaultStandIn } from '../../scripts/standins/keyvault.ts';
import { fromPem } from '../../shared/entra/x509.ts';
import { createKeyClient } from '../../shared/secrets/keys.ts';
import { BrokerBrowser, createUser, demoAccount } from '../helpers/signin.ts';
import { startTestApp, type TestApp } from '../helpers/stack.ts';
import { graph, tokenWithAssertion } from '../standins/credential-helpers.ts';

/** App registrations with no secret at all, one per integration of these tests. */
const APPS = {
  federated: 'f0f0f0f0-0000-4000-8000-0000000000f1',
  other: 'f0f0f0f0-0000-4000-8000-0000000000f2',
  certificate: 'c0c0c0c0-0000-4000-8000-0000000000c1',
  identity: 'd0d0d0d0-0000-4000-8000-0000000000d1',
  switching: 'e0e0e0e0-0000-4000-8000-0000000000e1',
  back: 'e0e0e0e0-0000-4000-8000-0000000000e2',
};

interface IntegrationBody {
  id: string;
  title: string;
  etag: string;
  status: string;
  credential: {
    kind: string;
    federated?: { issuer: string; subject: string; audience: string; issuerWarning?: string };
    managedIdentity?: { issuer: string; subject: string; audience: string };
    certificate?: { thumbprint: string; expiresOn: string; pem: string };
  };
  pendingCredential: IntegrationBody['credential'] | null;
  clientSecret?: unknown;
}

function tenantWithApps() {
  const tenant = demoTenant();
  // The switching app also has the demo client secret (it starts as a clientSecret integration).
  tenant.apps.push(
    { clientId: APPS.federated, displayName: 'Federated', redirectUris: ['*'] },
    { clientId: APPS.other, displayName: 'Other', redirectUris: ['*'] },
    { clientId: APPS.certificate, displayName: 'Certificate', redirectUris: ['*'] },
    { clientId: APPS.identity, displayName: 'Managed identity', redirectUris: ['*'] },
    {
      clientId: APPS.switching,
      displayName: 'Switching',
      clientSecret: 'switching~Secret.Value_0123456789',
      redirectUris: ['*'],
    },
    {
      clientId: APPS.back,
      displayName: 'Back to a secret',
      clientSecret: 'switching~Secret.Value_0123456789',
      redirectUris: ['*'],
    },
  );
  return tenant;
}

async function create(app: TestApp, applicationId: string, credential: Record<string, unknown>) {
  const res = await app.admin('/api/manage/integrations', {
    method: 'POST',
    json: {
      kind: 'azure-ad',
      title: `Cred ${Math.random().toString(36).slice(2, 8)}`,
      applicationId,
      tenant: DEMO_ENTRA.tenantId,
      ...credential,
    },
  });
  expect(res.status, await res.clone().text()).toBe(201);
  return (await res.json()) as IntegrationBody;
}

async function post(app: TestApp, path: string, json?: unknown) {
  const res = await app.admin(`/api/manage/integrations/${path}`, {
    method: 'POST',
    ...(json !== undefined ? { json } : {}),
  });
  return { status: res.status, body: (await res.json()) as IntegrationBody & Record<string, unknown> };
}

/** What an admin pastes in Entra → Federated credentials → Other issuer, registered through Graph. */
async function registerFederated(
  standIn: EntraStandIn,
  appId: string,
  v: { issuer: string; subject: string; audience: string },
  name = 'broker',
) {
  const res = await graph(standIn, 'POST', `/applications(appId='${appId}')/federatedIdentityCredentials`, {
    name,
    issuer: v.issuer,
    subject: v.subject,
    audiences: [v.audience],
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
}

async function signIn(app: TestApp, integrationId: string, name: string) {
  await createUser(app, { username: name, email: demoAccount(name), verifyType: { integrationId } });
  const b = new BrokerBrowser(app);
  const { callback } = await b.signInWithEntra(name, name);
  return { callback, session: await b.session() };
}

// This file rotates the OP's signing keys: a vault of its own keeps that from other files' apps.
let vault: KeyVaultStandIn;
beforeAll(async () => {
  vault = await startKeyVaultStandIn();
});
afterAll(async () => {
  await vault?.close();
});

describe('federated credential and managed identity (stand-in refuses a replayed jti)', () => {
  let standIn: EntraStandIn;
  let app: TestApp;
  const saved = { endpoint: process.env.IDENTITY_ENDPOINT, header: process.env.IDENTITY_HEADER };

  beforeAll(async () => {
    standIn = await startEntraStandIn({ tenants: [tenantWithApps()] });
    process.env.IDENTITY_ENDPOINT = standIn.managedIdentityEndpoint;
    process.env.IDENTITY_HEADER = standIn.identityHeader;
    app = await startTestApp({
      env: {
        BROKER_ENTRA_PUBLIC_AUTHORITY_HOST: standIn.host,
        BROKER_KEY_VAULT_URI: vault.url,
        AZURE_CLIENT_ID: DEMO_MANAGED_IDENTITY.clientId,
      },
    });
  });
  afterAll(async () => {
    await app?.close();
    await standIn?.close();
    for (const [key, value] of [
      ['IDENTITY_ENDPOINT', saved.endpoint],
      ['IDENTITY_HEADER', saved.header],
    ] as const) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  });

  it('CR1 federated: the three values to paste, nothing in Key Vault, a fresh assertion per sign-in through Entra', async () => {
    const created = await create(app, APPS.federated, { credential: { kind: 'federated' } });
    expect(created.clientSecret).toBeUndefined();
    const discovery = await (await fetch(`${app.url}/api/oidc/.well-known/openid-configuration`)).json();
    expect(created.credential).toEqual({
      kind: 'federated',
      federated: {
        issuer: discovery.issuer,
        subject: `integration:${created.id}`,
        audience: 'api://AzureADTokenExchange',
        // The test broker is on localhost: said before any test (the stand-in takes loopback issuers).
        issuerWarning: expect.stringContaining('BROKER_PUBLIC_BASE_URL'),
      },
    });
    // Before it is registered in Entra, the activation test names the issuer as the field to fix.
    const refused = await post(app, `${created.id}/activate`);
    expect(refused.status).toBe(422);
    expect(refused.body).toMatchObject({
      code: 'federated_issuer_mismatch',
      field: 'issuer',
      aadsts: 700211,
      expected: { issuer: discovery.issuer, subject: `integration:${created.id}` },
    });
    await registerFederated(standIn, APPS.federated, created.credential.federated as never);
    const activated = await post(app, `${created.id}/activate`);
    expect(activated.status, JSON.stringify(activated.body)).toBe(200);

    // CR1: two sign-ins in a row each send a fresh assertion (the stand-in refuses a replayed jti).
    const signedBefore = app.services.assertions.stats.federatedSigned;
    for (const name of ['fed-ann', 'fed-bo']) {
      const { callback, session } = await signIn(app, created.id, name);
      expect(callback.status, await callback.clone().text()).toBe(302);
      expect((await session.json()).username).toBe(name);
    }
    expect(app.services.assertions.stats.federatedSigned - signedBefore).toBe(2);
  });

  it('maps a wrong subject (AADSTS700213) to the field to fix, with the values Entra must hold', async () => {
    const created = await create(app, APPS.other, { credential: { kind: 'federated' } });
    const v = created.credential.federated as { issuer: string; subject: string; audience: string };
    await registerFederated(standIn, APPS.other, { ...v, subject: `${v.subject}-typo` }, 'typo');
    const subject = await post(app, `${created.id}/activate`);
    expect(subject.status).toBe(422);
    expect(subject.body).toMatchObject({
      code: 'federated_subject_mismatch',
      field: 'subject',
      aadsts: 700213,
    });
    expect(subject.body.expected).toMatchObject({
      subject: v.subject,
      audience: 'api://AzureADTokenExchange',
    });
    expect(String(subject.body.fix)).toContain('Subject identifier');
  });

  it('CR1: an assertion names its own integration only, and no route hands one out', async () => {
    const a = await create(app, APPS.federated, { credential: { kind: 'federated' } });
    const before = app.services.assertions.stats.federatedSigned;
    // Reading, listing and describing integrations signs nothing, and no answer carries a JWT.
    for (const path of [
      `/api/manage/integrations/${a.id}`,
      '/api/manage/integrations',
      '/api/manage/openapi.json',
    ]) {
      const text = await (await app.admin(path)).text();
      expect(text).not.toMatch(/eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/);
    }
    expect(app.services.assertions.stats.federatedSigned).toBe(before);
    // Inactive: a sign-in never reaches the token request, so nothing is signed for it.
    await createUser(app, {
      username: 'fed-inactive',
      email: demoAccount('fed-inactive'),
      verifyType: { integrationId: a.id },
    });
    const b = new BrokerBrowser(app);
    const start = await b.post('/api/auth/login', { username: 'fed-inactive' });
    expect(start.status).not.toBe(302);
    expect(app.services.assertions.stats.federatedSigned).toBe(before);
    // An assertion minted for A is refused at another app registration (B trusts its own subject only).
    const source = app.services.assertions.credentialFor(
      a.id,
      { kind: 'federated', addedAt: 'x' },
      undefined,
    );
    if (!('clientAssertion' in source)) throw new Error('expected an assertion');
    const assertion = await source.clientAssertion({ clientId: APPS.other, tokenEndpoint: '' });
    expect(decodeJwt(assertion).sub).toBe(`integration:${a.id}`);
    const reply = await tokenWithAssertion(standIn, APPS.other, assertion);
    expect(reply.status).toBe(400);
    expect(reply.body.error_codes).toEqual([700213]);
  });

  it("CR1: assertions are signed with the OP's published key and stay valid through a key rollover", async () => {
    const created = await create(app, APPS.federated, { credential: { kind: 'federated' } });
    const source = app.services.assertions.credentialFor(
      created.id,
      { kind: 'federated', addedAt: 'x' },
      undefined,
    );
    if (!('clientAssertion' in source)) throw new Error('expected an assertion');
    const beforeRotation = await source.clientAssertion({ clientId: APPS.federated, tokenEndpoint: '' });
    const jwks = async () =>
      ((await (await fetch(`${app.url}/api/oidc/jwks`)).json()) as { keys: { kid: string }[] }).keys.map(
        (k) => k.kid,
      );
    const kid = decodeProtectedHeader(beforeRotation).kid;
    expect(await jwks()).toContain(kid);

    await app.services.oidc.rotateKeys();
    const afterRotation = await source.clientAssertion({ clientId: APPS.federated, tokenEndpoint: '' });
    const newKid = decodeProtectedHeader(afterRotation).kid;
    expect(newKid).not.toBe(kid);
    const published = await jwks();
    expect(published).toContain(newKid);
    expect(published).toContain(kid);
    // Registered for this integration; both the old key's assertion (another instance may still hold
    // it) and the new key's are taken.
    await registerFederated(
      standIn,
      APPS.federated,
      created.credential.federated as never,
      `rollover-${created.id.slice(0, 6)}`,
    );
    expect((await tokenWithAssertion(standIn, APPS.federated, beforeRotation)).status).toBe(200);
    expect((await tokenWithAssertion(standIn, APPS.federated, afterRotation)).status).toBe(200);
  });

  it("managedIdentity: the identity's issuer and object id to paste, and a user signs in through Entra", async () => {
    const created = await create(app, APPS.identity, { credential: { kind: 'managedIdentity' } });
    expect(created.credential.managedIdentity).toEqual({
      issuer: standIn.issuer(DEMO_ENTRA.tenantId),
      subject: DEMO_MANAGED_IDENTITY.objectId,
      audience: 'api://AzureADTokenExchange',
    });
    await registerFederated(standIn, APPS.identity, created.credential.managedIdentity as never);
    const activated = await post(app, `${created.id}/activate`);
    expect(activated.status, JSON.stringify(activated.body)).toBe(200);
    const { callback, session } = await signIn(app, created.id, 'mi-cy');
    expect(callback.status, await callback.clone().text()).toBe(302);
    expect((await session.json()).username).toBe('mi-cy');
  });

  it('CR3: back from federated to a client secret, and a pending credential removed', async () => {
    const created = await create(app, APPS.back, { credential: { kind: 'federated' } });
    await registerFederated(
      standIn,
      APPS.back,
      created.credential.federated as never,
      `back-${created.id.slice(0, 6)}`,
    );
    expect((await post(app, `${created.id}/activate`)).status).toBe(200);
    const again = await post(app, `${created.id}/credentials`, { credential: { kind: 'federated' } });
    expect(again.status).toBe(200);
    const twice = await post(app, `${created.id}/credentials`, { credential: { kind: 'federated' } });
    expect(twice.status).toBe(409);
    const removed = await app.admin(`/api/manage/integrations/${created.id}/credentials/pending`, {
      method: 'DELETE',
    });
    expect(removed.status).toBe(200);
    expect((await removed.json()).pendingCredential).toBeNull();

    const wrong = await post(app, `${created.id}/credentials`, {
      credential: { kind: 'clientSecret', clientSecret: 'the-secret-id-not-its-value' },
    });
    expect(wrong.body.pendingCredential?.kind).toBe('clientSecret');
    const refused = await post(app, `${created.id}/credentials/promote`);
    expect(refused.status).toBe(422);
    expect(refused.body).toMatchObject({ code: 'wrong_secret', field: 'clientSecret' });
    await app.admin(`/api/manage/integrations/${created.id}/credentials/pending`, { method: 'DELETE' });
    await post(app, `${created.id}/credentials`, {
      credential: {
        kind: 'clientSecret',
        clientSecret: 'switching~Secret.Value_0123456789',
        expiresOn: '2099-01-01',
      },
    });
    const promoted = await post(app, `${created.id}/credentials/promote`);
    expect(promoted.status, JSON.stringify(promoted.body)).toBe(200);
    expect(promoted.body).toMatchObject({
      credential: { kind: 'clientSecret' },
      clientSecret: { set: true, expiresOn: '2099-01-01T00:00:00.000Z' },
      pendingCredential: null,
    });
    const { callback } = await signIn(app, created.id, 'back-to-secret');
    expect(callback.status).toBe(302);
  });

  it('npm start seeds a demo integration with a federated credential, registered in Entra through Graph', async () => {
    const demo = await startTestApp({
      env: { BROKER_ENTRA_PUBLIC_AUTHORITY_HOST: standIn.host, BROKER_KEY_VAULT_URI: vault.url },
    });
    try {
      const seed = await seedDemo(
        demo.services,
        {
          DEMO_ENTRA_TENANT_ID: DEMO_ENTRA.tenantId,
          DEMO_ENTRA_DOMAIN: DEMO_ENTRA.domain,
          DEMO_ENTRA_CLIENT_ID: DEMO_ENTRA.clientId,
          DEMO_ENTRA_CLIENT_SECRET: DEMO_ENTRA.clientSecret,
        },
        standIn.host,
      );
      if (!seed) throw new Error('nothing seeded');
      const integration = await demo.services.integrations.get(seed.integrationId);
      expect(integration).toMatchObject({ status: 'active', credential: { kind: 'federated' } });
      expect(integration.clientSecret).toBeUndefined();
      const b = new BrokerBrowser(demo);
      const { callback } = await b.signInWithEntra(seed.entraUser.username, seed.entraUser.account);
      expect(callback.status, await callback.clone().text()).toBe(302);
      // Registering again (every npm start: the stand-in forgets) is harmless.
      await registerDemoFederatedCredential(standIn.host, DEMO_ENTRA.tenantId, integration);
    } finally {
      await demo.close();
    }
  });

  it('CR3: switching clientSecret → federated while sign-ins run loses none; a failing test replaces nothing', async () => {
    const created = await create(app, APPS.switching, { clientSecret: 'switching~Secret.Value_0123456789' });
    expect((await post(app, `${created.id}/activate`)).status).toBe(200);
    const names = Array.from({ length: 8 }, (_, i) => `switch-${i}`);
    for (const name of names)
      await createUser(app, {
        username: name,
        email: demoAccount(name),
        verifyType: { integrationId: created.id },
      });

    // Sign-ins run all through the switch: started before, finished during and after it.
    const started = await Promise.all(
      names.map(async (name) => {
        const b = new BrokerBrowser(app);
        const start = await b.post('/api/auth/login', { username: name });
        expect(start.status).toBe(302);
        return { b, name, callbackUrl: await b.entraLogin(start.headers.get('location') as string, name) };
      }),
    );
    const [first, second, ...rest] = started;
    if (!first || !second) throw new Error('two sign-ins at least');
    expect((await first.b.get(first.callbackUrl)).status).toBe(302);

    const added = await post(app, `${created.id}/credentials`, { credential: { kind: 'federated' } });
    expect(added.status, JSON.stringify(added.body)).toBe(200);
    expect(added.body.credential.kind).toBe('clientSecret');
    const pending = added.body.pendingCredential?.federated;
    if (!pending) throw new Error('no pending federated credential');
    expect((await second.b.get(second.callbackUrl)).status).toBe(302);

    // Promoting before Entra trusts it fails and changes nothing.
    const early = await post(app, `${created.id}/credentials/promote`);
    expect(early.status).toBe(422);
    expect(early.body).toMatchObject({ field: 'issuer' });
    const unchanged = (await (
      await app.admin(`/api/manage/integrations/${created.id}`)
    ).json()) as IntegrationBody;
    expect(unchanged.credential.kind).toBe('clientSecret');
    expect(unchanged.pendingCredential?.kind).toBe('federated');
    expect(unchanged.status).toBe('active');
    await registerFederated(standIn, APPS.switching, pending);
    const promoting = post(app, `${created.id}/credentials/promote`);
    const during = rest.map(async ({ b, callbackUrl }) => (await b.get(callbackUrl)).status);
    const promoted = await promoting;
    expect(promoted.status, JSON.stringify(promoted.body)).toBe(200);
    expect(promoted.body.credential.kind).toBe('federated');
    expect(promoted.body.pendingCredential).toBeNull();
    expect(await Promise.all(during)).toEqual(rest.map(() => 302));

    // After the switch a new sign-in uses the federated credential.
    const signedBefore = app.services.assertions.stats.federatedSigned;
    const { callback } = await signIn(app, created.id, 'switch-after');
    expect(callback.status).toBe(302);
    expect(app.services.assertions.stats.federatedSigned).toBeGreaterThan(signedBefore);
    const rotate = await app.admin(`/api/manage/integrations/${created.id}/client-secret`, {
      method: 'PUT',
      json: { clientSecret: 'x' },
    });
    expect(rotate.status).toBe(409);
  });
});

describe('certificate credential (stand-in takes an assertion again until it expires, as Entra does)', () => {
  let standIn: EntraStandIn;
  let app: TestApp;

  beforeAll(async () => {
    standIn = await startEntraStandIn({ tenants: [tenantWithApps()], refuseReplayedAssertions: false });
    app = await startTestApp({
      env: { BROKER_ENTRA_PUBLIC_AUTHORITY_HOST: standIn.host, BROKER_KEY_VAULT_URI: vault.url },
    });
  });
  afterAll(async () => {
    await app?.close();
    await standIn?.close();
  });

  it('CR2 certificate: a non-exportable Key Vault key and its certificate to upload; AADSTS700027 names the certificate until it is uploaded; then a user signs in', async () => {
    const created = await create(app, APPS.certificate, { credential: { kind: 'certificate' } });
    const cert = created.credential.certificate;
    if (!cert) throw new Error('no certificate');
    expect(cert.pem).toMatch(/^-----BEGIN CERTIFICATE-----\n/);
    expect(Date.parse(cert.expiresOn) - Date.now()).toBeGreaterThan(360 * 86_400_000);
    const refused = await post(app, `${created.id}/activate`);
    expect(refused.status).toBe(422);
    expect(refused.body).toMatchObject({
      code: 'assertion_signature_invalid',
      field: 'certificate',
      aadsts: 700027,
    });

    // CR2: the key was made in Key Vault, cannot be exported and only signs; no row or answer holds a private key.
    const row = await app.services.tables.integrations.getEntity<{ credential: string }>(
      'integration',
      created.id,
    );
    const stored = JSON.parse(row.credential) as { keyName: string; keyId: string };
    const key = await (await createKeyClient(app.services.config)).getKey(stored.keyName);
    expect(key.properties.exportable).toBe(false);
    expect(key.keyOperations).toEqual(['sign', 'verify']);
    expect(key.id).toBe(stored.keyId);
    for (const text of [JSON.stringify(row), JSON.stringify(created)]) {
      expect(text).not.toMatch(/PRIVATE KEY|"d":|"p":|"q":/);
    }

    // The admin uploads the certificate: Graph's keyCredentials with the DER in base64.
    const patched = await graph(standIn, 'PATCH', `/applications(appId='${APPS.certificate}')`, {
      keyCredentials: [
        { type: 'AsymmetricX509Cert', usage: 'Verify', key: fromPem(cert.pem).toString('base64') },
      ],
    });
    expect(patched.status).toBe(204);
    const app0 = await graph(standIn, 'GET', `/applications(appId='${APPS.certificate}')`);
    const registered = (app0.body?.keyCredentials ?? []) as { customKeyIdentifier: string }[];
    expect(registered[0]?.customKeyIdentifier).toBe(cert.thumbprint);
    const activated = await post(app, `${created.id}/activate`);
    expect(activated.status, JSON.stringify(activated.body)).toBe(200);
    const signs = app.services.assertions.stats.certificateSigned;
    for (const name of ['cert-di', 'cert-ed']) {
      const { callback, session } = await signIn(app, created.id, name);
      expect(callback.status, await callback.clone().text()).toBe(302);
      expect((await session.json()).username).toBe(name);
    }
    // One Key Vault sign per assertion lifetime, not per sign-in.
    expect(app.services.assertions.stats.certificateSigned - signs).toBeLessThanOrEqual(1);

    // Health warns 30 days before the certificate expires, as for a client secret.
    const warnings = await app.services.integrations.expiryWarnings();
    expect(warnings.find((w) => w.integrationId === created.id)).toBeUndefined();
  });
});
