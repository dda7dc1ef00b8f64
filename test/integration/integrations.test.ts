/**
 * The integrations management API against Azurite, a Key Vault stand-in of this file's own
 * (to count and fail its requests) and the suite's Entra stand-in, through the real app on the
 * local host.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { AzureNamedKeyCredential, RestError, TableClient, type TableEntity } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { freePort } from '../../scripts/standins/azurite.ts';
import { DEMO_ENTRA } from '../../scripts/standins/entra.ts';
import { type KeyVaultStandIn, startKeyVaultStandIn } from '../../scripts/standins/keyvault.ts';
import { BrokerError } from '../../shared/core/errors.ts';
import { defaultEntraClientFactory } from '../../shared/entra/msal.ts';
import { IntegrationService } from '../../shared/integrations/service.ts';
import { TITLE_PARTITION, titleKey } from '../../shared/integrations/store.ts';
import { captureLogs, startTestApp, type TestApp, testServices } from '../helpers/stack.ts';

const CANARY = `canary-${randomBytes(12).toString('hex')}`;
let canaryCount = 0;
const canarySecret = () => `${CANARY}~${++canaryCount}`;
const day = 86_400_000;
const PUBLIC_BASE = 'https://broker.example';
/** Azurite's published development account key (from Microsoft's docs; not a secret). */
const AZURITE_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

// biome-ignore lint/suspicious/noExplicitAny: JSON bodies are checked by assertions.
type Json = Record<string, any>;
type Row = Record<string, unknown>;

interface Reply {
  status: number;
  body: Json;
  headers: Headers;
}

describe('integrations API', () => {
  let app: TestApp;
  let kv: KeyVaultStandIn;
  let logs: ReturnType<typeof captureLogs>;
  const bodies: string[] = [];

  beforeAll(async () => {
    logs = captureLogs();
    kv = await startKeyVaultStandIn();
    app = await startTestApp({ env: { BROKER_KEY_VAULT_URI: kv.url, BROKER_PUBLIC_BASE_URL: PUBLIC_BASE } });
  });
  afterAll(async () => {
    logs.stop();
    await app?.close();
    await kv?.close();
  });

  async function call(
    method: string,
    path: string,
    json?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Reply> {
    const r = await app.admin(`/api/manage/integrations${path}`, {
      method,
      headers,
      ...(json !== undefined ? { json } : {}),
    });
    const text = await r.text();
    bodies.push(text);
    return { status: r.status, body: text ? JSON.parse(text) : {}, headers: r.headers };
  }

  let titleSeq = 0;
  const uniqueTitle = (base = 'Integration') => `${base} ${++titleSeq} ${randomBytes(3).toString('hex')}`;

  function validBody(over: Record<string, unknown> = {}) {
    return {
      kind: 'azure-ad',
      title: uniqueTitle(),
      applicationId: randomUUID(),
      tenant: DEMO_ENTRA.tenantId,
      clientSecret: canarySecret(),
      ...over,
    };
  }

  async function create(over: Record<string, unknown> = {}): Promise<Json> {
    const r = await call('POST', '', validBody(over));
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    return r.body;
  }

  const demo = (over: Record<string, unknown> = {}) =>
    create({ applicationId: DEMO_ENTRA.clientId, clientSecret: DEMO_ENTRA.clientSecret, ...over });

  async function tableRows(): Promise<Row[]> {
    const rows: Row[] = [];
    for await (const e of app.services.tables.integrations.listEntities()) rows.push(e);
    return rows;
  }

  it('answers 401 without a token on every integrations route', async () => {
    const id = randomUUID();
    for (const [method, path] of [
      ['GET', ''],
      ['POST', ''],
      ['GET', `/${id}`],
      ['PATCH', `/${id}`],
      ['DELETE', `/${id}`],
      ['PUT', `/${id}/client-secret`],
      ['POST', `/${id}/activate`],
      ['POST', `/${id}/deactivate`],
    ] as const) {
      const r = await fetch(`${app.url}/api/manage/integrations${path}`, {
        method,
        headers: { 'content-type': 'application/json' },
        ...(method === 'GET' || method === 'DELETE' ? {} : { body: JSON.stringify(validBody()) }),
      });
      expect(r.status, `${method} ${path}`).toBe(401);
      expect(r.headers.get('content-type')).toBe('application/problem+json');
    }
  });

  it('creates an inactive integration; the secret goes to Key Vault, the row keeps only its version', async () => {
    const expires = '2027-06-30';
    const r = await call('POST', '', validBody({ clientSecretExpiresOn: expires, matchClaim: 'email' }));
    expect(r.status).toBe(201);
    const i = r.body;
    expect(i).toMatchObject({
      kind: 'azure-ad',
      status: 'inactive',
      cloud: 'public',
      matchClaim: 'email',
      tenant: DEMO_ENTRA.tenantId,
      allowedTenants: [],
      redirectUri: `${PUBLIC_BASE}/api/auth/callback`,
      clientSecret: { set: true, expiresOn: '2027-06-30T00:00:00.000Z' },
      lastTest: null,
      warnings: [],
    });
    expect(i.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(i.clientSecret.version).toMatch(/^[0-9a-f]{32}$/);
    expect(typeof i.secretExpiresInDays).toBe('number');
    expect(r.headers.get('etag')).toBe(i.etag);
    expect(r.headers.get('location')).toBe(`/api/manage/integrations/${i.id}`);

    const row = await app.services.tables.integrations.getEntity('integration', i.id);
    expect(row.secretVersion).toBe(i.clientSecret.version);
    expect(row.secretExpiresOn).toBe('2027-06-30T00:00:00.000Z');
    expect(JSON.stringify(row)).not.toContain(CANARY);

    const secret = await app.services.secrets.getSecret(`integration-${i.id}`);
    expect(secret.value).toContain(CANARY);
    expect(secret.properties.version).toBe(i.clientSecret.version);
    expect(secret.properties.contentType).toBe('text/plain');
    expect(secret.properties.tags).toEqual({ integrationId: i.id, kind: 'azure-ad-client-secret' });
    expect(secret.properties.expiresOn?.toISOString()).toBe('2027-06-30T00:00:00.000Z');
  });

  it('lists and gets integrations; unknown ids answer 404', async () => {
    const a = await create();
    const list = await call('GET', '');
    expect(list.status).toBe(200);
    expect(list.body.items.map((x: { id: string }) => x.id)).toContain(a.id);
    expect(list.body.items.every((x: Record<string, unknown>) => !('warnings' in x))).toBe(true);
    const got = await call('GET', `/${a.id}`);
    expect(got.status).toBe(200);
    const { warnings: _w, ...withoutWarnings } = a;
    expect(got.body).toEqual(withoutWarnings);
    expect(got.headers.get('etag')).toBe(a.etag);
    expect(got.body.clientSecret).not.toHaveProperty('value');

    for (const id of [randomUUID(), 'not-a-guid', "x'or'1'eq'1"]) {
      const r = await call('GET', `/${encodeURIComponent(id)}`);
      expect(r.status).toBe(404);
      expect(r.body.code).toBe('integration_not_found');
    }
    for (const [method, path, json] of [
      ['PATCH', '', { title: 'x' }],
      ['DELETE', '', undefined],
      ['PUT', '/client-secret', { clientSecret: 's' }],
      ['POST', '/activate', undefined],
      ['POST', '/deactivate', undefined],
    ] as const) {
      const r = await call(method, `/${randomUUID()}${path}`, json);
      expect(r.status, `${method} ${path}`).toBe(404);
    }
  });

  it('finds an integration by title ignoring case', async () => {
    const a = await create({ title: uniqueTitle('Contoso CRM') });
    expect((await app.services.integrations.findByTitle(a.title.toUpperCase()))?.id).toBe(a.id);
    expect(await app.services.integrations.findByTitle(`${a.title} nope`)).toBeUndefined();
  });

  it('validates every field of the create body, naming each failing field', async () => {
    const cases: [Record<string, unknown>, string[]][] = [
      [{ kind: undefined }, ['kind']],
      [{ kind: 'saml' }, ['kind']],
      [{ title: undefined }, ['title']],
      [{ title: '' }, ['title']],
      [{ title: '   ' }, ['title']],
      [{ title: 'x'.repeat(101) }, ['title']],
      [{ title: 'bad\ntitle' }, ['title']],
      [{ title: 7 }, ['title']],
      [{ applicationId: 'not-a-guid' }, ['applicationId']],
      [{ applicationId: undefined }, ['applicationId']],
      [{ tenant: 'contoso' }, ['tenant']],
      [{ tenant: 'common' }, ['tenant']],
      [{ tenant: 'https://evil.example/' }, ['tenant']],
      [{ tenant: '' }, ['tenant']],
      [{ tenant: 'organizations' }, ['allowedTenants']],
      [{ tenant: 'organizations', allowedTenants: [] }, ['allowedTenants']],
      [{ tenant: 'organizations', allowedTenants: ['nope'] }, ['allowedTenants.0']],
      [
        { tenant: 'organizations', allowedTenants: Array.from({ length: 51 }, () => randomUUID()) },
        ['allowedTenants'],
      ],
      [{ allowedTenants: [randomUUID()] }, ['allowedTenants']],
      [{ clientSecret: '' }, ['clientSecret']],
      [{ clientSecret: 'x'.repeat(1025) }, ['clientSecret']],
      [{ clientSecret: undefined }, ['clientSecret']],
      [{ clientSecretExpiresOn: 'tomorrow' }, ['clientSecretExpiresOn']],
      [{ clientSecretExpiresOn: '2027-02-30' }, ['clientSecretExpiresOn']],
      [{ clientSecretExpiresOn: '2027-01-01T00:00:00' }, ['clientSecretExpiresOn']],
      [{ clientSecretExpiresOn: 1767225600 }, ['clientSecretExpiresOn']],
      [{ cloud: 'germany' }, ['cloud']],
      [{ matchClaim: 'oid' }, ['matchClaim']],
      [{ status: 'active' }, ['status']],
      [{ clientSecretValue: 'x' }, ['clientSecretValue']],
      [{ applicationId: 'nope', tenant: 'nope', cloud: 'mars' }, ['applicationId', 'tenant', 'cloud']],
    ];
    for (const [over, fields] of cases) {
      const r = await call('POST', '', validBody(over));
      expect(r.status, JSON.stringify(over).slice(0, 80)).toBe(400);
      expect(r.headers.get('content-type')).toBe('application/problem+json');
      expect(r.body.code).toBe('validation_failed');
      const named = r.body.errors.map((e: { field: string }) => e.field);
      for (const f of fields) expect(named, JSON.stringify(over).slice(0, 80)).toContain(f);
    }
    for (const [over, stored] of [
      [{ clientSecretExpiresOn: '2027-01-31T12:30:00+02:00' }, '2027-01-31T10:30:00.000Z'],
      [{ tenant: 'Contoso.OnMicrosoft.com' }, 'contoso.onmicrosoft.com'],
      [{ applicationId: DEMO_ENTRA.clientId.toUpperCase() }, DEMO_ENTRA.clientId],
    ] as const) {
      const r = await call('POST', '', validBody(over));
      expect(r.status).toBe(201);
      expect(JSON.stringify(r.body)).toContain(stored);
    }
    const multi = await create({
      tenant: 'organizations',
      allowedTenants: [DEMO_ENTRA.tenantId],
      cloud: 'usgov',
    });
    expect(multi).toMatchObject({
      tenant: 'organizations',
      allowedTenants: [DEMO_ENTRA.tenantId],
      cloud: 'usgov',
    });

    const notJson = await app.admin('/api/manage/integrations', {
      method: 'POST',
      body: 'title=x',
      headers: { 'content-type': 'text/plain' },
    });
    expect(notJson.status).toBe(415);
    const tooLarge = await call('POST', '', validBody({ pad: 'x'.repeat(9000) }));
    expect(tooLarge.status).toBe(413);
    const array = await call('POST', '', [validBody()]);
    expect(array.status).toBe(400);
  });

  it('answers 409 for a duplicate title in any case and for the reserved title "password"', async () => {
    const a = await create({ title: uniqueTitle('Sales CRM') });
    for (const title of [a.title, a.title.toUpperCase(), ` ${a.title.toLowerCase()} `]) {
      const r = await call('POST', '', validBody({ title }));
      expect(r.status).toBe(409);
      expect(r.body.code).toBe('duplicate_title');
      expect(r.body.errors[0].field).toBe('title');
    }
    for (const title of ['password', 'PASSWORD', ' Password ']) {
      const r = await call('POST', '', validBody({ title }));
      expect(r.status).toBe(400);
      expect(r.body.code).toBe('validation_failed');
      expect(r.body.errors[0].field).toBe('title');
    }
    const b = await create();
    const renamed = await call('PATCH', `/${b.id}`, { title: a.title.toUpperCase() });
    expect(renamed.status).toBe(409);
    expect((await call('PATCH', `/${b.id}`, { title: 'Password' })).status).toBe(400);
  });

  it('keeps titles unique when two admins create the same title at once', async () => {
    const title = uniqueTitle('Race');
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        call('POST', '', validBody({ title: i % 2 ? title : title.toUpperCase() })),
      ),
    );
    expect(results.filter((r) => r.status === 201)).toHaveLength(1);
    expect(results.filter((r) => r.status === 409)).toHaveLength(5);
  });

  it('patches fields, renames (freeing the old title) and audits the changed field names', async () => {
    const a = await create({ title: uniqueTitle('Old name') });
    const newTitle = uniqueTitle('New name');
    const r = await call('PATCH', `/${a.id}`, { title: newTitle, matchClaim: 'upn' }, { 'if-match': a.etag });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ title: newTitle, matchClaim: 'upn', warnings: [] });
    expect(r.body.etag).not.toBe(a.etag);
    expect(r.headers.get('etag')).toBe(r.body.etag);
    expect((await app.services.integrations.findByTitle(newTitle))?.id).toBe(a.id);
    expect(await app.services.integrations.findByTitle(a.title)).toBeUndefined();
    const reuse = await create({ title: a.title });
    expect(reuse.id).not.toBe(a.id);

    const toMulti = await call('PATCH', `/${a.id}`, { tenant: 'organizations' });
    expect(toMulti.status).toBe(400);
    expect(toMulti.body.errors[0].field).toBe('allowedTenants');
    const multi = await call('PATCH', `/${a.id}`, {
      tenant: 'organizations',
      allowedTenants: [DEMO_ENTRA.tenantId],
    });
    expect(multi.status).toBe(200);
    const single = await call('PATCH', `/${a.id}`, { tenant: DEMO_ENTRA.domain });
    expect(single.body).toMatchObject({ tenant: DEMO_ENTRA.domain, allowedTenants: [] });

    for (const [json, field] of [
      [{}, '(body)'],
      [{ clientSecret: 'x' }, 'clientSecret'],
      [{ kind: 'azure-ad' }, 'kind'],
      [{ status: 'active' }, 'status'],
      [{ title: '' }, 'title'],
      [{ applicationId: 'x' }, 'applicationId'],
      [{ cloud: 'x' }, 'cloud'],
    ] as const) {
      const bad = await call('PATCH', `/${a.id}`, json);
      expect(bad.status).toBe(400);
      expect(bad.body.errors.map((e: { field: string }) => e.field)).toContain(field);
    }

    const events: Row[] = [];
    for await (const e of app.services.tables.auditEvents.listEntities()) events.push(e);
    const updated = events.filter(
      (e) => e.type === 'admin.integration.updated' && e.target === `integration:${a.id}`,
    );
    expect(updated.map((e) => JSON.parse(e.changedFields as string))).toContainEqual(['title', 'matchClaim']);
    expect(updated.every((e) => e.actor === 'test-admin')).toBe(true);
    const created = events.find(
      (e) => e.type === 'admin.integration.created' && e.target === `integration:${a.id}`,
    );
    expect(JSON.parse(created?.changedFields as string)).toContain('clientSecret');
  });

  it('warns when another integration already uses the same application id (create and patch)', async () => {
    const appId = randomUUID();
    const a = await create({ applicationId: appId });
    expect(a.warnings).toEqual([]);
    const b = await create({ applicationId: appId });
    expect(b.warnings.map((w: { code: string }) => w.code)).toEqual(['application_id_shared']);
    expect(b.warnings[0].integrationIds).toEqual([a.id]);
    const c = await create();
    const patched = await call('PATCH', `/${c.id}`, { applicationId: appId });
    expect(patched.status).toBe(200);
    expect(patched.body.warnings[0]).toMatchObject({ code: 'application_id_shared' });
  });

  it('answers 412 for a stale If-Match on every mutating route, and accepts a missing one', async () => {
    const a = await create();
    const fresh = await call('PATCH', `/${a.id}`, { matchClaim: 'email' });
    expect(fresh.status).toBe(200);
    const stale = { 'if-match': a.etag };
    const routes: [string, string, unknown][] = [
      ['PATCH', `/${a.id}`, { matchClaim: 'upn' }],
      ['PUT', `/${a.id}/client-secret`, { clientSecret: canarySecret() }],
      ['POST', `/${a.id}/activate`, undefined],
      ['POST', `/${a.id}/deactivate`, undefined],
      ['DELETE', `/${a.id}`, undefined],
    ];
    for (const [method, path, json] of routes) {
      const r = await call(method, path, json, stale);
      expect(r.status, `${method} ${path}`).toBe(412);
      expect(r.body.code).toBe('precondition_failed');
    }
    const current = await call('GET', `/${a.id}`);
    expect(current.body.etag).toBe(fresh.body.etag);
    expect(current.body.clientSecret.version).toBe(a.clientSecret.version);
    const ok = await call(
      'PUT',
      `/${a.id}/client-secret`,
      { clientSecret: canarySecret() },
      { 'if-match': fresh.body.etag },
    );
    expect(ok.status).toBe(200);
    const star = await call('PATCH', `/${a.id}`, { matchClaim: 'upn' }, { 'if-match': '*' });
    expect(star.status).toBe(200);
  });

  it('a concurrent change between read and write gives 412, not a lost write', async () => {
    const a = await create();
    const results = await Promise.all(
      ['email', 'upn', 'preferred_username', 'email'].map((matchClaim) =>
        call('PATCH', `/${a.id}`, { matchClaim, title: uniqueTitle('Concurrent') }),
      ),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(1);
    expect(statuses.every((s) => s === 200 || s === 412)).toBe(true);
    const final = await call('GET', `/${a.id}`);
    const winner = results.find((r) => r.status === 200 && r.body.etag === final.body.etag);
    expect(winner?.body.title).toBe(final.body.title);
    // Only the final title is held: the losers released the titles they had claimed.
    for (const r of results) {
      if (r.status !== 200 || r.body.etag === final.body.etag) continue;
      expect(await app.services.integrations.findByTitle(r.body.title)).toBeUndefined();
    }
  });

  it('activates with a working secret: status active, lastTest ok, getForSignIn serves the secret', async () => {
    const a = await demo();
    const r = await call('POST', `/${a.id}/activate`, undefined, { 'if-match': a.etag });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({ status: 'active', lastTest: { ok: true, reason: null } });
    expect(r.headers.get('etag')).toBe(r.body.etag);
    const signIn = await app.services.integrations.getForSignIn(a.id);
    expect(signIn.clientSecret).toBe(DEMO_ENTRA.clientSecret);
    expect(signIn.integration.status).toBe('active');

    const off = await call('POST', `/${a.id}/deactivate`, undefined, { 'if-match': r.body.etag });
    expect(off.status).toBe(200);
    expect(off.body.status).toBe('inactive');
    const err = await app.services.integrations.getForSignIn(a.id).catch((e) => e);
    expect(err).toBeInstanceOf(BrokerError);
    expect(err.code).toBe('integration_inactive');
    const missing = await app.services.integrations.getForSignIn(randomUUID()).catch((e) => e);
    expect(missing.status).toBe(404);
  });

  const failures = [
    {
      name: 'wrong secret',
      over: () => ({ clientSecret: canarySecret() }),
      code: 'wrong_secret',
      text: /Value/,
    },
    {
      name: 'expired secret',
      over: () => ({
        applicationId: DEMO_ENTRA.expiredClientId,
        clientSecret: DEMO_ENTRA.expiredClientSecret,
      }),
      code: 'secret_expired',
      text: /new client secret/,
    },
    {
      name: 'unknown application',
      over: () => ({ applicationId: randomUUID() }),
      code: 'unknown_application',
      text: /client\) ID/,
    },
    {
      name: 'unknown tenant',
      over: () => ({ tenant: randomUUID() }),
      code: 'unknown_tenant',
      text: /tenant/,
    },
  ];
  for (const f of failures) {
    it(`a failed connection test (${f.name}) answers 422 ${f.code} and leaves the integration inactive`, async () => {
      const a = await demo(f.over());
      const r = await call('POST', `/${a.id}/activate`);
      expect(r.status).toBe(422);
      expect(r.headers.get('content-type')).toBe('application/problem+json');
      expect(r.body.code).toBe(f.code);
      expect(r.body.fix).toMatch(f.text);
      expect(r.body.lastTest).toMatchObject({ ok: false, reason: f.code });
      // None of Entra's own text (error_description, trace ids).
      expect(JSON.stringify(r.body)).not.toMatch(/Trace ID|Correlation ID|Timestamp:|AADSTS\d+:/);
      const after = await call('GET', `/${a.id}`);
      expect(after.body).toMatchObject({ status: 'inactive', lastTest: { ok: false, reason: f.code } });
      expect(r.headers.get('etag')).toBe(after.body.etag);
      expect(r.body.etag).toBe(after.body.etag);
      if (f.code === 'wrong_secret') expect(r.body.detail).toMatch(/ID was pasted instead of its Value/);
    });
  }

  it('records activated and activation_failed audit events', async () => {
    const events: Row[] = [];
    for await (const e of app.services.tables.auditEvents.listEntities()) events.push(e);
    const types = new Set(events.map((e) => e.type));
    for (const t of [
      'created',
      'updated',
      'secret_rotated',
      'activated',
      'activation_failed',
      'deactivated',
    ]) {
      expect(types, t).toContain(`admin.integration.${t}`);
    }
    const failed = events.filter((e) => e.type === 'admin.integration.activation_failed');
    expect(failed.map((e) => e.reason)).toContain('wrong_secret');
    expect(failed.every((e) => e.outcome === 'failure')).toBe(true);
  });

  it('translates an unreachable authority into 422 authority_unreachable', async () => {
    const port = await freePort();
    const services = await testServices({
      env: { BROKER_KEY_VAULT_URI: kv.url, BROKER_ENTRA_PUBLIC_AUTHORITY_HOST: `https://localhost:${port}` },
    });
    const created = await services.integrations.create(
      {
        kind: 'azure-ad',
        title: 'Offline',
        applicationId: DEMO_ENTRA.clientId,
        tenant: DEMO_ENTRA.tenantId,
        clientSecret: DEMO_ENTRA.clientSecret,
        cloud: 'public',
        matchClaim: 'preferred_username',
      },
      'tester',
    );
    const err = await services.integrations.activate(created.id, created.etag, 'tester').catch((e) => e);
    expect(err).toBeInstanceOf(BrokerError);
    expect(err.status).toBe(422);
    expect(err.code).toBe('authority_unreachable');
    expect(err.extras.fix).toMatch(/outbound/);
    expect((await services.integrations.get(created.id)).lastTest).toMatchObject({
      ok: false,
      reason: 'authority_unreachable',
    });
  });

  it('rotates the secret: a new Key Vault version, and getForSignIn serves the new value', async () => {
    const a = await demo();
    const active = await call('POST', `/${a.id}/activate`);
    expect(active.status).toBe(200);
    expect((await app.services.integrations.getForSignIn(a.id)).clientSecret).toBe(DEMO_ENTRA.clientSecret);

    const newSecret = canarySecret();
    const r = await call(
      'PUT',
      `/${a.id}/client-secret`,
      { clientSecret: newSecret, expiresOn: '2028-01-01' },
      { 'if-match': active.body.etag },
    );
    expect(r.status).toBe(200);
    expect(r.body.clientSecret.version).not.toBe(a.clientSecret.version);
    expect(r.body.clientSecret.expiresOn).toBe('2028-01-01T00:00:00.000Z');
    expect(r.body.status).toBe('active');
    expect(JSON.stringify(r.body)).not.toContain(newSecret);
    expect((await app.services.integrations.getForSignIn(a.id)).clientSecret).toBe(newSecret);

    const versions = [];
    for await (const v of app.services.secrets.listPropertiesOfSecretVersions(`integration-${a.id}`))
      versions.push(v.version);
    expect(versions).toHaveLength(2);

    // Another instance (its own cache) rotated: this one may use its cached row for up to
    // SIGN_IN_ROW_TTL_MS; a fresh read (what a callback does when Entra says the secret is wrong) finds
    // the row naming the new version, misses the secret cache and loads it.
    const other = await testServices({ env: { BROKER_KEY_VAULT_URI: kv.url }, tables: app.services.tables });
    const third = canarySecret();
    await other.integrations.rotateSecret(a.id, { clientSecret: third }, undefined, 'other-admin');
    expect((await app.services.integrations.getForSignIn(a.id, { refreshSecret: true })).clientSecret).toBe(
      third,
    );

    const bad = await call('PUT', `/${a.id}/client-secret`, { clientSecret: '' });
    expect(bad.status).toBe(400);
    const unknown = await call('PUT', `/${a.id}/client-secret`, { clientSecret: 'x', value: 'y' });
    expect(unknown.body.errors[0].field).toBe('value');
  });

  it('serves warm sign-in reads with zero Key Vault calls (cold: one)', async () => {
    const a = await demo();
    await call('POST', `/${a.id}/activate`);
    // A fresh service instance = a cold cache, as on a new Functions instance.
    const services = await testServices({
      env: { BROKER_KEY_VAULT_URI: kv.url },
      tables: app.services.tables,
    });
    kv.resetRequests();
    let t = performance.now();
    const cold = await services.integrations.getForSignIn(a.id);
    const coldMs = performance.now() - t;
    expect(cold.clientSecret).toBe(DEMO_ENTRA.clientSecret);
    // A brand-new SecretClient first sends one unauthenticated request to learn the vault's bearer
    // challenge (401); that happens once per client, not per read.
    const challenge = kv.requests.filter((q) => q.status === 401).length;
    expect(challenge).toBeLessThanOrEqual(1);
    const reads = kv.requests.filter((q) => q.status !== 401);
    const coldCalls = reads.length;
    expect(coldCalls).toBe(1);
    expect(reads[0]).toMatchObject({
      method: 'GET',
      path: `/secrets/integration-${a.id}/${a.clientSecret.version}`,
    });

    // Cold again on the same (now authenticated) client: another instance rotated nothing, but
    // the cache entry is gone (refreshSecret) — exactly one request.
    kv.resetRequests();
    await services.integrations.getForSignIn(a.id, { refreshSecret: true });
    expect(kv.requests).toHaveLength(1);

    kv.resetRequests();
    const N = 200;
    t = performance.now();
    for (let i = 0; i < N; i++)
      expect((await services.integrations.getForSignIn(a.id)).clientSecret).toBe(DEMO_ENTRA.clientSecret);
    const warmMs = (performance.now() - t) / N;
    expect(kv.requests).toHaveLength(0);

    console.info(
      `[integrations] Key Vault calls per sign-in read: cold ${coldCalls} + ${challenge} challenge on a new client (${coldMs.toFixed(1)} ms incl. table read), ` +
        `warm 0 (${warmMs.toFixed(2)} ms avg over ${N}, one table point read each)`,
    );
  });

  it('deletes (soft delete + purge) and re-creates with the same title under a new Key Vault name', async () => {
    const a = await create({ title: uniqueTitle('Recreate me') });
    kv.resetRequests();
    const r = await call('DELETE', `/${a.id}`, undefined, { 'if-match': a.etag });
    expect(r.status).toBe(204);
    expect((await call('GET', `/${a.id}`)).status).toBe(404);
    const paths = kv.requests.map((q) => `${q.method} ${q.path}`);
    expect(paths).toContain(`DELETE /secrets/integration-${a.id}`);
    expect(paths).toContain(`DELETE /deletedsecrets/integration-${a.id}`);
    expect((await call('DELETE', `/${a.id}`)).status).toBe(404);
    const again = await create({ title: a.title });
    expect(again.id).not.toBe(a.id);
    const rows = await tableRows();
    expect(
      rows.filter((e) => e.partitionKey === TITLE_PARTITION && e.rowKey === titleKey(a.title)),
    ).toHaveLength(1);
    expect(rows.some((e) => e.rowKey === a.id)).toBe(false);
  });

  it('deletes from a vault with purge protection: soft delete only, re-create still works', async () => {
    const protectedKv = await startKeyVaultStandIn({ purgeProtection: true });
    try {
      const services = await testServices({ env: { BROKER_KEY_VAULT_URI: protectedKv.url } });
      const input = {
        kind: 'azure-ad' as const,
        title: 'Protected',
        applicationId: randomUUID(),
        tenant: DEMO_ENTRA.tenantId,
        clientSecret: canarySecret(),
        cloud: 'public' as const,
        matchClaim: 'preferred_username' as const,
      };
      const a = await services.integrations.create(input, 'tester');
      await services.integrations.delete(a.id, a.etag, 'tester');
      const deleted = await services.secrets.getDeletedSecret(`integration-${a.id}`);
      expect(deleted.properties.tags?.integrationId).toBe(a.id);
      const b = await services.integrations.create(input, 'tester');
      expect(b.id).not.toBe(a.id);
    } finally {
      await protectedKv.close();
    }
  });

  it('blocks delete with 409 while users are assigned to the integration', async () => {
    const a = await create();
    const assigned = new Map([[a.id, 3]]);
    // The integration service counts through the users store it was given at construction.
    const counter = vi
      .spyOn(app.services.users.store, 'countUsersAssignedTo')
      .mockImplementation(async (id) => assigned.get(id) ?? 0);
    try {
      const r = await call('DELETE', `/${a.id}`);
      expect(r.status).toBe(409);
      expect(r.body).toMatchObject({ code: 'integration_in_use', assignedUsers: 3 });
      expect((await call('GET', `/${a.id}`)).status).toBe(200);
      assigned.set(a.id, 0);
      expect((await call('DELETE', `/${a.id}`)).status).toBe(204);
    } finally {
      counter.mockRestore();
    }
  });

  it('leaves nothing half-written when Key Vault fails during create', async () => {
    const title = uniqueTitle('Vault down');
    const before = (await tableRows()).length;
    kv.failNext(3, { methods: ['PUT'], pathPrefix: '/secrets/' });
    const r = await call('POST', '', validBody({ title }));
    expect(r.status).toBe(503);
    expect(r.body).toMatchObject({ code: 'dependency_unavailable', dependency: 'secrets' });
    expect(JSON.stringify(r.body)).not.toMatch(/Simulated|stand-in|at /);
    const rows = await tableRows();
    expect(rows.length).toBe(before);
    expect(rows.some((e) => e.partitionKey === TITLE_PARTITION && e.rowKey === titleKey(title))).toBe(false);
    expect(await app.services.integrations.findByTitle(title)).toBeUndefined();

    kv.setDown(true);
    try {
      expect((await call('POST', '', validBody({ title }))).status).toBe(503);
    } finally {
      kv.setDown(false);
    }
    expect((await tableRows()).length).toBe(before);
    const ok = await create({ title });
    expect(ok.title).toBe(title);
  });

  it('leaves a rotation consistent when Key Vault fails (old version still served)', async () => {
    const a = await demo();
    await call('POST', `/${a.id}/activate`);
    kv.failNext(3, { methods: ['PUT'], pathPrefix: '/secrets/' });
    const r = await call('PUT', `/${a.id}/client-secret`, { clientSecret: canarySecret() });
    expect(r.status).toBe(503);
    const after = await call('GET', `/${a.id}`);
    expect(after.body.clientSecret.version).toBe(a.clientSecret.version);
    expect((await app.services.integrations.getForSignIn(a.id)).clientSecret).toBe(DEMO_ENTRA.clientSecret);
  });

  it('deletes the secret again when the table write fails after it was written', async () => {
    // A Table Storage client whose insert of integration rows fails (index rows still work).
    class FailingRowTable extends TableClient {
      override async createEntity<T extends object>(entity: TableEntity<T>, options?: object) {
        if (entity.partitionKey === 'integration') {
          throw new RestError('simulated', { statusCode: 503 });
        }
        return super.createEntity(entity, options);
      }
    }
    const real = app.services.tables.integrations;
    const azurite = new AzureNamedKeyCredential('devstoreaccount1', AZURITE_KEY);
    const failing = new FailingRowTable(real.url, real.tableName, azurite, { allowInsecureConnection: true });
    const config = app.services.config;
    const service = new IntegrationService({
      table: failing,
      secrets: app.services.secrets,
      clock: app.services.clock,
      audit: app.services.audit,
      config,
      entraClientFactory: defaultEntraClientFactory(config),
      log: app.services.log,
    });
    const title = uniqueTitle('Table fails');
    kv.resetRequests();
    const err = await service
      .create(
        {
          kind: 'azure-ad',
          title,
          applicationId: randomUUID(),
          tenant: DEMO_ENTRA.tenantId,
          clientSecret: canarySecret(),
          cloud: 'public',
          matchClaim: 'preferred_username',
        },
        'tester',
      )
      .catch((e) => e);
    expect(err).toBeInstanceOf(RestError);
    const put = kv.requests.find((q) => q.method === 'PUT');
    const name = put?.path.split('/')[2] as string;
    expect(name).toMatch(/^integration-/);
    expect(kv.requests.map((q) => `${q.method} ${q.path}`)).toContain(`DELETE /deletedsecrets/${name}`);
    await expect(app.services.secrets.getSecret(name)).rejects.toMatchObject({ statusCode: 404 });
    const rows = await tableRows();
    expect(rows.some((e) => e.partitionKey === TITLE_PARTITION && e.rowKey === titleKey(title))).toBe(false);
  });

  it('builds redirectUri from configuration, never from the request', async () => {
    const a = await create();
    for (const headers of [
      { host: 'evil.example' } as Record<string, string>,
      { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' },
      { forwarded: 'host=evil.example;proto=https' },
    ]) {
      const r = await call('GET', `/${a.id}`, undefined, headers);
      expect(r.body.redirectUri).toBe(`${PUBLIC_BASE}/api/auth/callback`);
    }
  });

  it('lists expiring and expired secrets as health warnings, status staying 200', async () => {
    const soon = new Date(Date.now() + 10 * day).toISOString();
    const past = new Date(Date.now() - 2 * day).toISOString().slice(0, 10);
    const later = new Date(Date.now() + 90 * day).toISOString();
    const s = await create({ clientSecretExpiresOn: soon });
    expect(s.secretExpiresInDays).toBe(9);
    expect(s.warnings.map((w: { code: string }) => w.code)).toContain('secret_expiring');
    const p = await create({ clientSecretExpiresOn: past });
    expect(p.secretExpiresInDays).toBeLessThan(0);
    expect(p.warnings.map((w: { code: string }) => w.code)).toContain('secret_expired');
    const l = await create({ clientSecretExpiresOn: later });
    const r = await app.admin('/api/manage/health');
    expect(r.status).toBe(200);
    const health = await r.json();
    bodies.push(JSON.stringify(health));
    const byId = new Map(health.warnings.map((w: { integrationId: string }) => [w.integrationId, w]));
    expect(byId.get(s.id)).toMatchObject({ code: 'integration_secret_expiring', daysLeft: 9 });
    expect(byId.get(p.id)).toMatchObject({ code: 'integration_secret_expired' });
    expect(byId.has(l.id)).toBe(false);
    expect(JSON.stringify(health)).not.toContain(s.title);
  });

  // Runs last: everything above used canary secret values.
  it('never lets a secret value reach a response, a table row or a log line (canary)', async () => {
    expect(canaryCount).toBeGreaterThan(20);
    for (const body of bodies) expect(body).not.toContain(CANARY);
    for (const [name, table] of Object.entries(app.services.tables)) {
      for await (const e of table.listEntities()) expect(JSON.stringify(e), name).not.toContain(CANARY);
    }
    expect(logs.lines.length).toBeGreaterThan(0);
    for (const line of logs.lines) expect(line).not.toContain(CANARY);
    // The values really were stored: they are in the vault.
    let inVault = 0;
    for await (const p of app.services.secrets.listPropertiesOfSecrets()) {
      if ((await app.services.secrets.getSecret(p.name)).value?.includes(CANARY)) inVault++;
    }
    expect(inVault).toBeGreaterThan(5);
  });
});
