/**
 * The Key Vault stand-in, driven by the real SecretClient built by shared/secrets/client.ts.
 * Needs NODE_EXTRA_CA_CERTS pointing at the local CA bundle (set by `npm test`).
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { SecretClient } from '@azure/keyvault-secrets';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureLocalCa } from '../../scripts/standins/ca.ts';
import { type KeyVaultStandIn, startKeyVaultStandIn } from '../../scripts/standins/keyvault.ts';
import { loadConfig } from '../../shared/core/config.ts';
import { DependencyError } from '../../shared/core/errors.ts';
import { createSecretClient } from '../../shared/secrets/client.ts';

interface SdkError {
  name: string;
  message: string;
  statusCode?: number;
  /** DependencyError (the broker's 503 for a failing vault). */
  status?: number;
  code?: string;
  details?: { error?: { code?: string; message?: string; innerError?: { code?: string } } };
}

/** Awaits a promise that must reject and returns the error the SDK surfaced. */
async function rejection(promise: Promise<unknown>): Promise<SdkError> {
  try {
    await promise;
  } catch (err) {
    return err as SdkError;
  }
  throw new Error('expected the call to fail');
}

/** A client configured exactly as the local stack configures production code. */
function devClient(vaultUrl: string): SecretClient {
  const config = loadConfig({
    BROKER_PUBLIC_BASE_URL: 'http://localhost:7071',
    BROKER_TABLE_ENDPOINT: 'http://127.0.0.1:10002/devstoreaccount1',
    BROKER_KEY_VAULT_URI: vaultUrl,
    BROKER_DEV_CREDENTIALS: 'true',
  });
  return createSecretClient(config);
}

const fast = { intervalInMs: 10 };
let counter = 0;
const uniqueName = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${++counter}`;

describe('Key Vault stand-in with the real SecretClient', () => {
  let kv: KeyVaultStandIn;
  let client: SecretClient;

  beforeAll(async () => {
    kv = await startKeyVaultStandIn();
    client = devClient(kv.url);
  });
  afterAll(async () => {
    await kv.close();
  });

  it('answers the first request with the bearer challenge, then accepts the token', async () => {
    const fresh = devClient(kv.url);
    kv.resetRequests();
    const name = uniqueName('challenge');
    await fresh.setSecret(name, 'v');
    await fresh.getSecret(name);
    expect(kv.requests).toEqual([
      { method: 'PUT', path: `/secrets/${name}`, status: 401 },
      { method: 'PUT', path: `/secrets/${name}`, status: 200 },
      { method: 'GET', path: `/secrets/${name}/`, status: 200 },
    ]);

    const res = await fetch(`${kv.url}/secrets?api-version=7.6`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(
      /^Bearer authorization="https:\/\/login\.microsoftonline\.com\/[0-9a-f-]{36}", resource="https:\/\/vault\.azure\.net"$/,
    );
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('Unauthorized');
  });

  it('sets versions, gets the latest and a given version', async () => {
    const name = uniqueName('versions');
    const first = await client.setSecret(name, 'one');
    const second = await client.setSecret(name, 'two');
    expect(first.properties.version).toMatch(/^[0-9a-f]{32}$/);
    expect(second.properties.version).not.toBe(first.properties.version);
    expect(second.properties.id).toBe(`${kv.url}/secrets/${name}/${second.properties.version}`);
    expect(second.properties.vaultUrl).toBe(kv.url);
    expect(second.name).toBe(name);

    const latest = await client.getSecret(name);
    expect(latest.value).toBe('two');
    expect(latest.properties.version).toBe(second.properties.version);
    const old = await client.getSecret(name, { version: first.properties.version! });
    expect(old.value).toBe('one');

    const versions: string[] = [];
    for await (const p of client.listPropertiesOfSecretVersions(name)) versions.push(p.version!);
    expect(versions.sort()).toEqual([first.properties.version, second.properties.version].sort());

    const missing = await rejection(client.getSecret(name, { version: '0'.repeat(32) }));
    expect(missing.statusCode).toBe(404);
    expect(missing.code).toBe('SecretNotFound');
  });

  it('round-trips contentType, tags, enabled, notBefore and expiresOn, and updates properties', async () => {
    const name = uniqueName('props');
    const notBefore = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000);
    const expiresOn = new Date(Math.floor(Date.now() / 1000) * 1000 + 86_400_000);
    const set = await client.setSecret(name, 's3cret', {
      contentType: 'text/plain',
      tags: { integration: 'abc', kind: 'client-secret' },
      notBefore,
      expiresOn,
      enabled: true,
    });
    const got = await client.getSecret(name);
    expect(got.value).toBe('s3cret');
    expect(got.properties).toMatchObject({
      contentType: 'text/plain',
      tags: { integration: 'abc', kind: 'client-secret' },
      enabled: true,
      notBefore,
      expiresOn,
      recoveryLevel: 'Recoverable+Purgeable',
      recoverableDays: 90,
    });
    expect(got.properties.createdOn).toBeInstanceOf(Date);
    expect(got.properties.updatedOn).toBeInstanceOf(Date);

    const updated = await client.updateSecretProperties(name, set.properties.version!, {
      enabled: false,
      tags: { integration: 'abc', rotated: 'yes' },
    });
    expect(updated).toMatchObject({
      enabled: false,
      tags: { integration: 'abc', rotated: 'yes' },
      expiresOn,
    });
    expect(updated.contentType).toBe('text/plain');

    // A disabled version's value is not returned, like Azure (403 Forbidden).
    const disabled = await rejection(client.getSecret(name));
    expect(disabled.statusCode).toBe(403);
    expect(disabled.code).toBe('Forbidden');
    expect(disabled.message).toBe('Operation get is not allowed on a disabled secret.');

    await client.updateSecretProperties(name, set.properties.version!, { enabled: true });
    expect((await client.getSecret(name)).value).toBe('s3cret');
  });

  it('lists secrets across pages, following nextLink', async () => {
    const prefix = uniqueName('page');
    const names = Array.from({ length: 30 }, (_, i) => `${prefix}-${String(i).padStart(2, '0')}`);
    await Promise.all(names.map((n) => client.setSecret(n, `value-${n}`, { tags: { n } })));

    kv.resetRequests();
    const listed: string[] = [];
    let pages = 0;
    for await (const page of client.listPropertiesOfSecrets().byPage({ maxPageSize: 7 })) {
      pages += 1;
      expect(page.length).toBeLessThanOrEqual(7);
      for (const p of page) {
        expect(p.version).toBeUndefined();
        if (p.name.startsWith(prefix)) listed.push(p.name);
      }
    }
    expect(listed).toEqual(names);
    expect(pages).toBeGreaterThanOrEqual(5);
    expect(kv.requests.filter((r) => r.path === '/secrets').length).toBe(pages);

    // Default page size (25): more than 25 secrets still needs a second page.
    kv.resetRequests();
    const all: string[] = [];
    for await (const p of client.listPropertiesOfSecrets()) all.push(p.name);
    expect(all.filter((n) => n.startsWith(prefix))).toEqual(names);
    expect(new Set(all).size).toBe(all.length);
    expect(kv.requests.filter((r) => r.path === '/secrets').length).toBe(Math.ceil(all.length / 25));
  });

  it('pages secret versions too', async () => {
    const name = uniqueName('manyversions');
    const versions: string[] = [];
    for (let i = 0; i < 5; i++) versions.push((await client.setSecret(name, `v${i}`)).properties.version!);
    const seen: string[] = [];
    for await (const page of client.listPropertiesOfSecretVersions(name).byPage({ maxPageSize: 2 })) {
      expect(page.length).toBeLessThanOrEqual(2);
      for (const p of page) seen.push(p.version!);
    }
    expect(seen).toEqual(versions);
  });

  it('soft-deletes, refuses the name while deleted (409), recovers and purges', async () => {
    const name = uniqueName('lifecycle');
    await client.setSecret(name, 'first', { tags: { t: '1' } });
    const latest = await client.setSecret(name, 'second', { tags: { t: '2' } });

    const poller = await client.beginDeleteSecret(name, fast);
    const deleted = await poller.pollUntilDone();
    expect(deleted.properties.recoveryId).toBe(`${kv.url}/deletedsecrets/${name}`);
    expect(deleted.properties.deletedOn).toBeInstanceOf(Date);
    expect(deleted.properties.scheduledPurgeDate!.getTime() - deleted.properties.deletedOn!.getTime()).toBe(
      90 * 86_400_000,
    );
    expect(deleted.properties.version).toBe(latest.properties.version);
    expect(deleted.properties.tags).toEqual({ t: '2' });

    const gone = await rejection(client.getSecret(name));
    expect(gone.statusCode).toBe(404);
    expect(gone.code).toBe('SecretNotFound');

    const fetched = await client.getDeletedSecret(name);
    expect(fetched.properties.recoveryId).toBe(`${kv.url}/deletedsecrets/${name}`);
    const deletedNames: string[] = [];
    for await (const d of client.listDeletedSecrets()) {
      deletedNames.push(d.name);
      if (d.name === name) expect(d.properties.deletedOn).toBeInstanceOf(Date);
    }
    expect(deletedNames).toContain(name);
    const live: string[] = [];
    for await (const p of client.listPropertiesOfSecrets()) live.push(p.name);
    expect(live).not.toContain(name);

    // The name cannot be reused while it is deleted but recoverable.
    const conflict = await rejection(client.setSecret(name, 'third'));
    console.info(
      'SDK error for a deleted-but-recoverable name:',
      JSON.stringify({
        name: conflict.name,
        statusCode: conflict.statusCode,
        code: conflict.code,
        details: conflict.details,
      }),
    );
    expect(conflict.statusCode).toBe(409);
    expect(conflict.code).toBe('Conflict');
    expect(conflict.details?.error?.innerError?.code).toBe('ObjectIsDeletedButRecoverable');
    expect(conflict.message).toContain('is currently in a deleted but recoverable state');

    const recoverPoller = await client.beginRecoverDeletedSecret(name, fast);
    const recovered = await recoverPoller.pollUntilDone();
    expect(recovered.name).toBe(name);
    expect(recovered.version).toBe(latest.properties.version);
    expect((await client.getSecret(name)).value).toBe('second');
    await expect(client.getDeletedSecret(name)).rejects.toMatchObject({ statusCode: 404 });

    await (await client.beginDeleteSecret(name, fast)).pollUntilDone();
    kv.resetRequests();
    await expect(client.purgeDeletedSecret(name)).resolves.toBeUndefined();
    expect(kv.requests).toEqual([{ method: 'DELETE', path: `/deletedsecrets/${name}`, status: 204 }]);
    await expect(client.getDeletedSecret(name)).rejects.toMatchObject({
      statusCode: 404,
      code: 'SecretNotFound',
    });

    // Purged: the name is free again, with a fresh history.
    await client.setSecret(name, 'reborn');
    const history: string[] = [];
    for await (const p of client.listPropertiesOfSecretVersions(name)) history.push(p.version!);
    expect(history).toHaveLength(1);
  });

  it('treats names case-insensitively and rejects invalid names with 400 BadParameter', async () => {
    const name = uniqueName('CaseName');
    await client.setSecret(name, 'x');
    const got = await client.getSecret(name.toLowerCase());
    expect(got.name).toBe(name);

    for (const bad of ['bad_name', 'a'.repeat(128), 'dot.name']) {
      const err = await rejection(client.setSecret(bad, 'x'));
      expect(err.statusCode).toBe(400);
      expect(err.code).toBe('BadParameter');
    }
    expect((await client.setSecret('a'.repeat(127), 'x')).name).toHaveLength(127);
  });

  it('surfaces injected failures as 503 after the SDK retries, and recovers', async () => {
    const name = uniqueName('flaky');
    await client.setSecret(name, 'v');

    kv.resetRequests();
    kv.failNext(3, { methods: ['GET'], pathPrefix: '/secrets/' });
    // The broker's client turns a 5xx after its retries into a DependencyError (503, status logged).
    const err = await rejection(client.getSecret(name));
    expect(err).toBeInstanceOf(DependencyError);
    expect((err as unknown as DependencyError).failure).toMatchObject({
      dependency: 'secrets',
      status: 503,
      operation: 'getSecret',
    });
    expect(kv.requests.map((r) => r.status)).toEqual([503, 503, 503]);

    // One failure is absorbed by the client's retry.
    kv.resetRequests();
    kv.failNext(1, { status: 500 });
    expect((await client.getSecret(name)).value).toBe('v');
    expect(kv.requests.map((r) => r.status)).toEqual([500, 200]);

    // A custom status and code pass through unchanged (4xx is not retried).
    kv.failNext(1, { status: 429, code: 'Throttled' });
    expect(await rejection(client.getSecret(name))).toMatchObject({ statusCode: 429, code: 'Throttled' });

    kv.setDown(true);
    expect((await rejection(client.getSecret(name))).status).toBe(503);
    kv.setDown(false);
    expect((await client.getSecret(name)).value).toBe('v');
  });

  it('answers unknown routes with 404 NotFound and oversized bodies with 413', async () => {
    const auth = { authorization: 'Bearer anything' };
    const unknown = await fetch(`${kv.url}/certificates/k?api-version=7.6`, { headers: auth });
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('content-type')).toMatch(/^application\/json/);
    expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe('NotFound');

    const big = await fetch(`${kv.url}/secrets/big?api-version=7.6`, {
      method: 'PUT',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ value: 'x'.repeat(300 * 1024) }),
    });
    expect(big.status).toBe(413);

    const badPage = await fetch(`${kv.url}/secrets?api-version=7.6&maxresults=26`, { headers: auth });
    expect(badPage.status).toBe(400);
  });

  it('is trusted through NODE_EXTRA_CA_CERTS only', async () => {
    expect(process.env.NODE_TLS_REJECT_UNAUTHORIZED).not.toBe('0');
    const bundle = process.env.NODE_EXTRA_CA_CERTS;
    expect(bundle, 'run with NODE_EXTRA_CA_CERTS=.local/ca/bundle.pem').toBeTruthy();
    expect(readFileSync(bundle!, 'utf8')).toContain(ensureLocalCa().certPem.trim());

    expect((await fetch(`${kv.url}/secrets`)).status).toBe(401);

    // The same fetch from a process without the variable fails TLS verification.
    const { NODE_EXTRA_CA_CERTS: _, ...envWithout } = process.env;
    const script = `fetch(${JSON.stringify(`${kv.url}/secrets`)}).then(
      (r) => console.log('status', r.status),
      (e) => console.log('error', e.cause?.code ?? e.message));`;
    const output = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, ['-e', script], { env: envWithout, timeout: 10_000 }, (err, stdout) =>
        err ? reject(err) : resolve(stdout.trim()),
      ),
    );
    expect(output).toMatch(
      /^error (UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT)/,
    );
  });
});

describe('Key Vault stand-in with purge protection', () => {
  let kv: KeyVaultStandIn;
  let client: SecretClient;

  beforeAll(async () => {
    kv = await startKeyVaultStandIn({ purgeProtection: true, retentionDays: 7 });
    client = devClient(kv.url);
  });
  afterAll(async () => {
    await kv.close();
  });

  it('refuses purge with 403 and reports the recovery level', async () => {
    const name = uniqueName('protected');
    const set = await client.setSecret(name, 'v');
    expect(set.properties.recoveryLevel).toBe('CustomizedRecoverable');
    expect(set.properties.recoverableDays).toBe(7);

    const deleted = await (await client.beginDeleteSecret(name, fast)).pollUntilDone();
    expect(deleted.properties.scheduledPurgeDate!.getTime() - deleted.properties.deletedOn!.getTime()).toBe(
      7 * 86_400_000,
    );

    const err = await rejection(client.purgeDeletedSecret(name));
    expect(err.statusCode).toBe(403);
    expect(err.code).toBe('Forbidden');
    expect(err.message).toContain('Operation "purge" is not allowed because purge protection is enabled');
    expect((await client.getDeletedSecret(name)).name).toBe(name);
  });
});
