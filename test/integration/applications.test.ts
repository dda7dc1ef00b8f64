/**
 * The applications management API and the OP's client lookup (`clientForProvider`),
 * through the real app on the local host, against Azurite and a Key Vault stand-in of this file's
 * own (to count and fail its requests). Time is a manual clock, so the cache TTL is tested by
 * moving it, never by waiting.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_APP_ORIGIN, seedDemoApplication } from '../../scripts/demo.ts';
import { type KeyVaultStandIn, startKeyVaultStandIn } from '../../scripts/standins/keyvault.ts';
import {
  applicationSecretName,
  CLIENT_CACHE_TTL_MS,
  type ProviderClient,
} from '../../shared/applications/service.ts';
import { manualClock } from '../../shared/core/clock.ts';
import type { Tables } from '../../shared/storage/tables.ts';
import type { Services } from '../../shared/web/services.ts';
import { BrokerBrowser, createUser } from '../helpers/signin.ts';
import { captureLogs, startTestApp, type TestApp, testServices } from '../helpers/stack.ts';

// biome-ignore lint/suspicious/noExplicitAny: JSON bodies are checked by assertions.
type Json = Record<string, any>;
interface Reply {
  status: number;
  body: Json;
  headers: Headers;
}

const PASSWORD = 'a long and unusual passphrase';
const clock = manualClock(Date.parse('2026-11-30T12:00:00Z'));

/** Counts Table Storage requests made through these table clients. */
function countTableOps(tables: Tables): { count(): number; reset(): void } {
  let n = 0;
  for (const table of Object.values(tables)) {
    table.pipeline.addPolicy({
      name: `count-${randomUUID()}`,
      sendRequest: (req, next) => {
        n++;
        return next(req);
      },
    });
  }
  return {
    count: () => n,
    reset: () => {
      n = 0;
    },
  };
}

describe('applications API', () => {
  let app: TestApp;
  let kv: KeyVaultStandIn;
  let logs: ReturnType<typeof captureLogs>;
  const bodies: string[] = [];
  /** Every secret value the API handed out: none may appear anywhere else. */
  const secrets: string[] = [];

  beforeAll(async () => {
    logs = captureLogs();
    kv = await startKeyVaultStandIn();
    app = await startTestApp({
      clock,
      env: { BROKER_KEY_VAULT_URI: kv.url },
    });
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
    const r = await app.admin(`/api/manage/applications${path}`, {
      method,
      headers,
      ...(json !== undefined ? { json } : {}),
    });
    const text = await r.text();
    const body = text ? (JSON.parse(text) as Json) : {};
    if (typeof body.clientSecretValue === 'string' && body.clientSecretValue) {
      secrets.push(body.clientSecretValue);
      // Kept for the canary check without the one field allowed to carry it.
      bodies.push(text.replace(body.clientSecretValue, '<shown-once>'));
    } else bodies.push(text);
    return { status: r.status, body, headers: r.headers };
  }

  const valid = (over: Record<string, unknown> = {}) => ({
    name: `App ${randomUUID().slice(0, 8)}`,
    type: 'confidential',
    redirectUris: ['https://app.example/callback'],
    ...over,
  });

  async function create(over: Record<string, unknown> = {}): Promise<Json> {
    const r = await call('POST', '', valid(over));
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    return r.body;
  }

  it('creates a confidential application: secret shown once (256 bits), kept in Key Vault only', async () => {
    const r = await call(
      'POST',
      '',
      valid({
        postLogoutRedirectUris: ['https://app.example/bye'],
        allowedRoles: ['staff', 'admin'],
        idTokenSignedResponseAlg: 'ES256',
      }),
    );
    expect(r.status).toBe(201);
    const a = r.body;
    expect(a).toMatchObject({
      type: 'confidential',
      redirectUris: ['https://app.example/callback'],
      postLogoutRedirectUris: ['https://app.example/bye'],
      allowedRoles: ['staff', 'admin'],
      idTokenSignedResponseAlg: 'ES256',
      tokenEndpointAuthMethod: 'client_secret_basic',
      clientSecret: { set: true },
      issuer: `${app.url}/api/oidc`,
      discoveryUrl: `${app.url}/api/oidc/.well-known/openid-configuration`,
    });
    expect(a.clientId).toMatch(/^[0-9a-f-]{36}$/);
    expect(Buffer.from(a.clientSecretValue, 'base64url')).toHaveLength(32);
    expect(a.clientSecretValue).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(r.headers.get('etag')).toBe(a.etag);
    expect(r.headers.get('location')).toBe(`/api/manage/applications/${a.clientId}`);

    const got = await call('GET', `/${a.clientId}`);
    expect(got.status).toBe(200);
    expect(got.body.clientSecretValue).toBeUndefined();
    expect(got.body).toEqual({ ...a, clientSecretValue: undefined });
    const list = await call('GET', '');
    expect(list.body.items.map((x: Json) => x.clientId)).toContain(a.clientId);
    expect(list.body.items.every((x: Json) => !('clientSecretValue' in x))).toBe(true);

    const stored = await kv.requests.find((q) => q.method === 'PUT');
    expect(stored?.path).toBe(`/secrets/${applicationSecretName(a.clientId)}`);
    const client = (await app.services.applications.clientForProvider(a.clientId)) as ProviderClient;
    expect(client).toEqual({
      client_id: a.clientId,
      client_secret: a.clientSecretValue,
      client_name: a.name,
      redirect_uris: ['https://app.example/callback'],
      post_logout_redirect_uris: ['https://app.example/bye'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'ES256',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      allowedRoles: ['staff', 'admin'],
    });
  });

  it('a public client has no secret, authenticates with none (PKCE), and cannot rotate one', async () => {
    kv.resetRequests();
    const a = await create({ type: 'public', redirectUris: ['http://127.0.0.1:8400/cb'] });
    expect(a.clientSecret).toBeNull();
    expect('clientSecretValue' in a).toBe(false);
    expect(a.tokenEndpointAuthMethod).toBe('none');
    expect(kv.requests).toHaveLength(0);
    const client = await app.services.applications.clientForProvider(a.clientId);
    expect(client?.token_endpoint_auth_method).toBe('none');
    expect(client && 'client_secret' in client).toBe(false);
    const rotate = await call('POST', `/${a.clientId}/client-secret`);
    expect(rotate.status).toBe(409);
    expect(rotate.body.code).toBe('public_client');
    const bad = await call(
      'POST',
      '',
      valid({ type: 'public', tokenEndpointAuthMethod: 'client_secret_post' }),
    );
    expect(bad.status).toBe(400);
  });

  it.each([
    ['empty body', {}, 'name'],
    ['unknown key', { ...valid(), clientSecret: 'mine' }, 'clientSecret'],
    ['missing type', { name: 'x', redirectUris: ['https://a.example/cb'] }, 'type'],
    ['bad type', valid({ type: 'hybrid' }), 'type'],
    ['no redirect URIs', valid({ redirectUris: [] }), 'redirectUris'],
    [
      'too many redirect URIs',
      valid({ redirectUris: Array.from({ length: 11 }, (_, i) => `https://a.example/cb${i}`) }),
      'redirectUris',
    ],
    [
      'too long redirect URI',
      valid({ redirectUris: [`https://a.example/${'x'.repeat(2000)}`] }),
      'redirectUris.0',
    ],
    [
      'bad post-logout URI',
      valid({ postLogoutRedirectUris: ['http://evil.example/'] }),
      'postLogoutRedirectUris.0',
    ],
    ['bad role name', valid({ allowedRoles: ['Staff'] }), 'allowedRoles.0'],
    [
      'too many roles',
      valid({ allowedRoles: Array.from({ length: 21 }, (_, i) => `r${i}`) }),
      'allowedRoles',
    ],
    ['bad alg', valid({ idTokenSignedResponseAlg: 'HS256' }), 'idTokenSignedResponseAlg'],
    ['bad auth method', valid({ tokenEndpointAuthMethod: 'private_key_jwt' }), 'tokenEndpointAuthMethod'],
    ['control character in name', valid({ name: 'a\nb' }), 'name'],
    ['too long name', valid({ name: 'n'.repeat(101) }), 'name'],
  ])('rejects a %s with 400 naming the field, and writes nothing', async (_, json, field) => {
    const before = (await call('GET', '')).body.items.length;
    kv.resetRequests();
    const r = await call('POST', '', json);
    expect(r.status).toBe(400);
    expect(r.headers.get('content-type')).toBe('application/problem+json');
    expect(r.body.errors.map((e: Json) => e.field)).toContain(field);
    expect((await call('GET', '')).body.items.length).toBe(before);
    expect(kv.requests).toHaveLength(0);
  });

  describe('redirect URI rules (OP1: exact strings, https or loopback http)', () => {
    it.each([
      'https://app.example/callback',
      'https://app.example:8443/cb?tenant=1',
      'http://localhost:7072/callback',
      'http://127.0.0.1/cb',
      'http://[::1]:9000/cb',
    ])('accepts %s', async (uri) => {
      const a = await create({ redirectUris: [uri] });
      expect(a.redirectUris).toEqual([uri]);
    });

    it.each([
      ['http on a public host', 'http://app.example/cb'],
      ['http on a localhost look-alike', 'http://localhost.evil.example/cb'],
      ['a fragment', 'https://app.example/cb#frag'],
      ['an empty fragment', 'https://app.example/cb#'],
      ['a wildcard host', 'https://*.app.example/cb'],
      ['a wildcard path', 'https://app.example/*'],
      ['user info', 'https://user:pw@app.example/cb'],
      ['a relative URL', '/callback'],
      ['javascript:', 'javascript:alert(1)'],
      ['data:', 'data:text/html,hi'],
      ['a custom scheme', 'com.example.app:/oauth2redirect'],
      ['a space', 'https://app.example/c b'],
      ['a newline', 'https://app.example/cb\n'],
      ['an empty string', ''],
    ])('refuses %s', async (_, uri) => {
      const r = await call('POST', '', valid({ redirectUris: [uri] }));
      expect(r.status, uri).toBe(400);
      expect(r.body.errors.map((e: Json) => e.field)).toContain('redirectUris.0');
    });

    it('stores the URIs exactly as given (no normalisation), duplicates once', async () => {
      const a = await create({
        redirectUris: ['https://APP.example/cb', 'https://app.example/cb/', 'https://APP.example/cb'],
      });
      expect(a.redirectUris).toEqual(['https://APP.example/cb', 'https://app.example/cb/']);
    });
  });

  it('PATCH and DELETE honour If-Match (412 on a stale etag) and audit the changed field names', async () => {
    const a = await create();
    const stale = a.etag;
    const p = await call(
      'PATCH',
      `/${a.clientId}`,
      { name: 'Renamed', allowedRoles: ['staff'] },
      { 'if-match': stale },
    );
    expect(p.status).toBe(200);
    expect(p.body).toMatchObject({ name: 'Renamed', allowedRoles: ['staff'] });
    expect(p.body.etag).not.toBe(stale);
    expect(p.headers.get('etag')).toBe(p.body.etag);
    const again = await call('PATCH', `/${a.clientId}`, { name: 'Lost write' }, { 'if-match': stale });
    expect(again.status).toBe(412);
    expect((await call('GET', `/${a.clientId}`)).body.name).toBe('Renamed');
    expect((await call('DELETE', `/${a.clientId}`, undefined, { 'if-match': stale })).status).toBe(412);
    expect(
      (await call('POST', `/${a.clientId}/client-secret`, undefined, { 'if-match': stale })).status,
    ).toBe(412);
    expect((await call('PATCH', `/${a.clientId}`, { type: 'public' })).status).toBe(400);
    expect((await call('PATCH', `/${a.clientId}`, {})).status).toBe(400);

    const events = await app.services.auditQuery.list({ type: 'admin.application.updated' });
    const e = events.items.find((x) => x.target === `application:${a.clientId}`);
    expect(e?.changedFields).toEqual(['name', 'allowedRoles']);

    // This instance sees the change at once.
    const client = await app.services.applications.clientForProvider(a.clientId);
    expect(client?.allowedRoles).toEqual(['staff']);
    expect(client?.client_name).toBe('Renamed');
  });

  it('answers 404 for an unknown or malformed client id', async () => {
    for (const id of [randomUUID(), 'not-a-client', 'A'.repeat(300)]) {
      expect((await call('GET', `/${id}`)).status).toBe(404);
      expect((await call('PATCH', `/${id}`, { name: 'x' })).status).toBe(404);
      expect((await call('DELETE', `/${id}`)).status).toBe(404);
      expect((await call('POST', `/${id}/client-secret`)).status).toBe(404);
    }
    expect(await app.services.applications.clientForProvider(randomUUID())).toBeUndefined();
    expect(await app.services.applications.clientForProvider('../etc')).toBeUndefined();
  });

  it('rotation gives a new working secret (new Key Vault version); the old one stops at once', async () => {
    const a = await create();
    const before = await app.services.applications.clientForProvider(a.clientId);
    expect(before?.client_secret).toBe(a.clientSecretValue);
    const r = await call('POST', `/${a.clientId}/client-secret`, undefined, { 'if-match': a.etag });
    expect(r.status).toBe(200);
    expect(r.body.clientSecretValue).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(r.body.clientSecretValue).not.toBe(a.clientSecretValue);
    expect(r.body.clientId).toBe(a.clientId);
    const after = await app.services.applications.clientForProvider(a.clientId);
    expect(after?.client_secret).toBe(r.body.clientSecretValue);
    // A cold instance reads the new version too; the old version is disabled in the vault.
    const cold = await testServices({ env: { BROKER_KEY_VAULT_URI: kv.url }, tables: app.services.tables });
    expect((await cold.applications.clientForProvider(a.clientId))?.client_secret).toBe(
      r.body.clientSecretValue,
    );
    const secret = await app.services.secrets.getSecret(applicationSecretName(a.clientId));
    expect(secret.value).toBe(r.body.clientSecretValue);
    const versions: boolean[] = [];
    for await (const v of app.services.secrets.listPropertiesOfSecretVersions(
      applicationSecretName(a.clientId),
    )) {
      versions.push(v.enabled === true);
    }
    expect(versions.sort()).toEqual([false, true]);
    const events = await app.services.auditQuery.list({ type: 'admin.application.secret_rotated' });
    expect(events.items.some((x) => x.target === `application:${a.clientId}`)).toBe(true);
  });

  it('delete: clientForProvider answers undefined at once here, on other instances within the TTL; secret purged', async () => {
    const a = await create();
    const other = await testServices({
      clock,
      env: { BROKER_KEY_VAULT_URI: kv.url },
      tables: app.services.tables,
    });
    expect((await other.applications.clientForProvider(a.clientId))?.client_id).toBe(a.clientId);
    expect((await app.services.applications.clientForProvider(a.clientId))?.client_id).toBe(a.clientId);
    kv.resetRequests();
    expect((await call('DELETE', `/${a.clientId}`, undefined, { 'if-match': a.etag })).status).toBe(204);
    expect(await app.services.applications.clientForProvider(a.clientId)).toBeUndefined();
    expect((await call('GET', `/${a.clientId}`)).status).toBe(404);
    const name = applicationSecretName(a.clientId);
    expect(kv.requests.map((q) => `${q.method} ${q.path}`)).toContain(`DELETE /deletedsecrets/${name}`);
    // The other instance still has it cached until the TTL passes, and not a moment longer.
    expect((await other.applications.clientForProvider(a.clientId))?.client_id).toBe(a.clientId);
    clock.advance(CLIENT_CACHE_TTL_MS);
    expect(await other.applications.clientForProvider(a.clientId)).toBeUndefined();
    const events = await app.services.auditQuery.list({ type: 'admin.application.deleted' });
    expect(events.items.find((x) => x.target === `application:${a.clientId}`)?.details).toMatchObject({
      secretDeleted: true,
      secretPurged: true,
    });
  });

  describe('client lookup cache (per instance, TTL stated in CLIENT_CACHE_TTL_MS)', () => {
    let other: Services;
    let ops: { count(): number; reset(): void };
    beforeAll(async () => {
      // Another instance: its own table clients on the same tables, so only its requests are counted.
      const prefix = app.services.tables.applications.tableName.slice(0, -'Applications'.length);
      other = await testServices({ clock, prefix, env: { BROKER_KEY_VAULT_URI: kv.url } });
      ops = countTableOps(other.tables);
    });

    it('cold: one row read + one Key Vault read; warm: nothing; after the TTL: one row read, no Key Vault', async () => {
      const a = await create();
      ops.reset();
      kv.resetRequests();
      expect((await other.applications.clientForProvider(a.clientId))?.client_secret).toBe(
        a.clientSecretValue,
      );
      const coldTable = ops.count();
      const coldKv = kv.requests.filter((q) => q.status !== 401).length;
      expect(coldTable).toBe(1);
      expect(coldKv).toBe(1);

      ops.reset();
      kv.resetRequests();
      for (let i = 0; i < 100; i++) await other.applications.clientForProvider(a.clientId);
      clock.advance(CLIENT_CACHE_TTL_MS - 1);
      await other.applications.clientForProvider(a.clientId);
      expect(ops.count()).toBe(0);
      expect(kv.requests).toHaveLength(0);

      clock.advance(1);
      // 200 parallel lookups after the TTL share one row read (and need no Key Vault read).
      const all = await Promise.all(
        Array.from({ length: 200 }, () => other.applications.clientForProvider(a.clientId)),
      );
      expect(all.every((c) => c?.client_secret === a.clientSecretValue)).toBe(true);
      expect(ops.count()).toBe(1);
      expect(kv.requests).toHaveLength(0);
      console.info(
        `[applications] clientForProvider: cold ${coldTable} table + ${coldKv} Key Vault request(s); ` +
          `warm 0 + 0 for ${CLIENT_CACHE_TTL_MS} ms; then 1 table + 0 Key Vault (200 parallel lookups coalesced)`,
      );
    });

    it('changes made on another instance are seen within the TTL; a rotation costs one Key Vault read', async () => {
      const a = await create();
      await other.applications.clientForProvider(a.clientId);
      const p = await call('PATCH', `/${a.clientId}`, { redirectUris: ['https://new.example/cb'] });
      expect(p.status).toBe(200);
      expect((await other.applications.clientForProvider(a.clientId))?.redirect_uris).toEqual([
        'https://app.example/callback',
      ]);
      clock.advance(CLIENT_CACHE_TTL_MS);
      expect((await other.applications.clientForProvider(a.clientId))?.redirect_uris).toEqual([
        'https://new.example/cb',
      ]);
      const r = await call('POST', `/${a.clientId}/client-secret`);
      expect((await other.applications.clientForProvider(a.clientId))?.client_secret).toBe(
        a.clientSecretValue,
      );
      clock.advance(CLIENT_CACHE_TTL_MS);
      kv.resetRequests();
      expect((await other.applications.clientForProvider(a.clientId))?.client_secret).toBe(
        r.body.clientSecretValue,
      );
      expect(kv.requests.filter((q) => q.status !== 401)).toHaveLength(1);
    });

    it('callers get copies: changing one never changes the cached client', async () => {
      const a = await create();
      const c = (await other.applications.clientForProvider(a.clientId)) as ProviderClient;
      c.redirect_uris.push('https://evil.example/cb');
      c.allowedRoles.length = 0;
      const again = await other.applications.clientForProvider(a.clientId);
      expect(again?.redirect_uris).toEqual(['https://app.example/callback']);
    });
  });

  it('never a half-write: a failed Key Vault write leaves no row; a failed row write removes the secret', async () => {
    const before = (await call('GET', '')).body.items.length;
    kv.failNext(3, { methods: ['PUT'], pathPrefix: '/secrets/' });
    const r = await call('POST', '', valid());
    expect(r.status).toBe(503);
    expect((await call('GET', '')).body.items.length).toBe(before);

    // The row write fails (the table is gone for a moment): the new secret is deleted again.
    const services = await testServices({ env: { BROKER_KEY_VAULT_URI: kv.url } });
    await services.tables.applications.deleteTable();
    kv.resetRequests();
    await expect(
      services.applications.create(
        {
          name: 'Half',
          type: 'confidential',
          redirectUris: ['https://a.example/cb'],
          idTokenSignedResponseAlg: 'RS256',
        },
        'test',
      ),
    ).rejects.toThrow();
    const put = kv.requests.find((q) => q.method === 'PUT');
    const name = put?.path.split('/')[2] ?? '';
    expect(name).toMatch(/^application-/);
    expect(kv.requests.map((q) => `${q.method} ${q.path}`)).toContain(`DELETE /secrets/${name}`);
  });

  it('AD5: rotating a secret or changing redirect URIs / roles with a stale admin session is refused (401)', async () => {
    await createUser(app, {
      username: 'apps-admin',
      verifyType: 'password',
      password: PASSWORD,
      roles: ['admin'],
    });
    const b = new BrokerBrowser(app);
    expect((await b.post('/api/auth/password', { username: 'apps-admin', password: PASSWORD })).status).toBe(
      303,
    );
    const a = await create();
    const rotate = () =>
      fetch(`${app.url}/api/manage/applications/${a.clientId}/client-secret`, {
        method: 'POST',
        headers: {
          cookie: b.jar.header(),
          origin: b.origin,
          'x-broker-csrf': '1',
          'content-type': 'application/json',
        },
        body: '{}',
      });
    const fresh = await rotate();
    expect(fresh.status).toBe(200);
    secrets.push((await fresh.json()).clientSecretValue);
    clock.advance(11 * 60_000);
    expect((await b.session()).status).toBe(200);
    const stale = await rotate();
    expect(stale.status).toBe(401);
    expect((await stale.json()).code).toBe('reauthentication_required');
    const patch = (body: unknown) =>
      fetch(`${app.url}/api/manage/applications/${a.clientId}`, {
        method: 'PATCH',
        headers: {
          cookie: b.jar.header(),
          origin: b.origin,
          'x-broker-csrf': '1',
          'content-type': 'application/json',
        },
        body: JSON.stringify(body),
      });
    for (const body of [{ redirectUris: ['https://elsewhere.example/cb'] }, { allowedRoles: [] }]) {
      const r = await patch(body);
      expect(r.status, JSON.stringify(body)).toBe(401);
      expect((await r.json()).code).toBe('reauthentication_required');
    }
    expect((await patch({ name: 'Renamed with a stale session' })).status).toBe(200);
    expect((await app.services.applications.get(a.clientId)).redirectUris).toEqual([
      'https://app.example/callback',
    ]);
  });

  it('SE1 canary: no secret value in any GET/list response, table row, audit event or log line', async () => {
    expect(secrets.length).toBeGreaterThan(5);
    const rows: string[] = [];
    for (const t of [app.services.tables.applications, app.services.tables.auditEvents]) {
      for await (const e of t.listEntities()) rows.push(JSON.stringify(e));
    }
    const list = JSON.stringify((await call('GET', '')).body);
    const haystacks = [...bodies, list, ...rows, ...logs.lines];
    for (const s of secrets) {
      for (const h of haystacks) expect(h.includes(s)).toBe(false);
    }
    expect(rows.some((r) => r.includes('admin.application.created'))).toBe(true);
  });
});

describe('npm start: the demo application', () => {
  it('is seeded once into an empty store, with its secret in a 0600 file under .local for the demo app', async () => {
    const services = await testServices();
    const dir = await mkdtemp(path.join(tmpdir(), 'demo-app-'));
    try {
      const file = path.join(dir, 'demo-app.json');
      const seeded = await seedDemoApplication(services, file);
      expect(seeded?.redirectUri).toBe(`${DEMO_APP_ORIGIN}/callback`);
      expect(seeded?.redirectUri).toBe('http://localhost:7072/callback');
      const saved = JSON.parse(await readFile(file, 'utf8'));
      expect(saved).toEqual(seeded);
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      const client = await services.applications.clientForProvider(saved.clientId);
      expect(client?.client_secret).toBe(saved.clientSecret);
      expect(client?.redirect_uris).toEqual(['http://localhost:7072/callback']);
      expect(await seedDemoApplication(services, file)).toBeUndefined();
      expect(await services.applications.list()).toHaveLength(1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
