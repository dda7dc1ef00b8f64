/**
 * The Keys part of the Key Vault stand-in, driven by the real `@azure/keyvault-keys` KeyClient and
 * CryptographyClient. Needs NODE_EXTRA_CA_CERTS pointing at the local CA bundle (set by `npm test`).
 */
import { constants, createHash, createPublicKey, verify as verifySignature } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AccessToken, TokenCredential } from '@azure/identity';
import { CryptographyClient, KeyClient, type KeyVaultKey } from '@azure/keyvault-keys';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type KeyVaultStandIn, startKeyVaultStandIn } from '../../scripts/standins/keyvault.ts';

const credential: TokenCredential = {
  getToken: async (): Promise<AccessToken> => ({
    token: 'local-dev-token',
    expiresOnTimestamp: Date.now() + 3600_000,
    tokenType: 'Bearer',
  }),
};

interface SdkError {
  statusCode?: number;
  code?: string;
  message: string;
}

async function rejection(promise: Promise<unknown>): Promise<SdkError> {
  try {
    await promise;
  } catch (err) {
    return err as SdkError;
  }
  throw new Error('expected the call to fail');
}

const fast = { intervalInMs: 10 };
let counter = 0;
const uniqueName = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${++counter}`;
const sha256 = (text: string) => createHash('sha256').update(text).digest();

function publicKeyOf(key: KeyVaultKey) {
  const jwk = key.key;
  return createPublicKey({
    key: {
      kty: 'RSA',
      n: Buffer.from(jwk?.n ?? new Uint8Array()).toString('base64url'),
      e: Buffer.from(jwk?.e ?? new Uint8Array()).toString('base64url'),
    },
    format: 'jwk',
  });
}

describe('Key Vault stand-in keys with the real KeyClient and CryptographyClient', () => {
  let kv: KeyVaultStandIn;
  let client: KeyClient;
  const options = { disableChallengeResourceVerification: true };

  beforeAll(async () => {
    kv = await startKeyVaultStandIn();
    client = new KeyClient(kv.url, credential, options);
  });
  afterAll(async () => {
    await kv.close();
  });

  it('creates a non-exportable RSA signing key and shows only its public half', async () => {
    const name = uniqueName('cert-key');
    const created = await client.createRsaKey(name, { keySize: 2048, keyOps: ['sign', 'verify'] });
    expect(created.name).toBe(name);
    expect(created.keyType).toBe('RSA');
    expect(created.keyOperations).toEqual(['sign', 'verify']);
    expect(created.properties.exportable).toBe(false);
    expect(created.properties.enabled).toBe(true);
    expect(created.id).toBe(`${kv.url}/keys/${name}/${created.properties.version}`);
    expect(created.key?.n?.length).toBe(256);
    expect(Buffer.from(created.key?.e ?? new Uint8Array()).toString('hex')).toBe('010001');
    // No private parameter ever leaves the vault.
    for (const field of ['d', 'p', 'q', 'dp', 'dq', 'qi'] as const)
      expect(created.key?.[field]).toBeUndefined();

    const latest = await client.getKey(name);
    expect(latest.id).toBe(created.id);
    const byVersion = await client.getKey(name, { version: created.properties.version });
    expect(Buffer.from(byVersion.key?.n ?? []).equals(Buffer.from(created.key?.n ?? []))).toBe(true);

    const raw = await fetch(`${kv.url}/keys/${name}/?api-version=7.6`, {
      headers: { authorization: 'Bearer local-dev-token' },
    });
    const text = await raw.text();
    expect(Object.keys(JSON.parse(text).key).sort()).toEqual(['e', 'key_ops', 'kid', 'kty', 'n']);
    expect(text).not.toMatch(/"(d|p|q|dp|dq|qi)":/);
  });

  it('creates 3072-bit keys, refuses other sizes and exportable keys without a release policy', async () => {
    const big = await client.createRsaKey(uniqueName('big'), { keySize: 3072 });
    expect(big.key?.n?.length).toBe(384);
    const odd = await rejection(client.createRsaKey(uniqueName('odd'), { keySize: 1024 }));
    expect(odd.statusCode).toBe(400);
    expect(odd.code).toBe('BadParameter');
    const exportable = await rejection(client.createRsaKey(uniqueName('exp'), { exportable: true }));
    expect(exportable.statusCode).toBe(400);
  });

  it('signs RS256 and PS256 digests that verify with the public key, remotely and locally', async () => {
    const name = uniqueName('signer');
    const key = await client.createRsaKey(name, { keySize: 2048, keyOps: ['sign', 'verify'] });
    const crypto = new CryptographyClient(key.id ?? '', credential, options);
    const data = 'header.payload';
    const digest = sha256(data);
    const publicKey = publicKeyOf(key);

    const rs = await crypto.sign('RS256', digest);
    expect(rs.keyID).toBe(key.id);
    expect(verifySignature('sha256', Buffer.from(data), publicKey, Buffer.from(rs.result))).toBe(true);
    expect((await crypto.verify('RS256', digest, rs.result)).result).toBe(true);

    const ps = await crypto.sign('PS256', digest);
    expect(
      verifySignature(
        'sha256',
        Buffer.from(data),
        { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 },
        Buffer.from(ps.result),
      ),
    ).toBe(true);
    expect((await crypto.verify('PS256', digest, ps.result)).result).toBe(true);
    expect((await crypto.verify('PS256', sha256('other'), ps.result)).result).toBe(false);

    const signRequests = kv.requests.filter((r) => r.path.endsWith('/sign'));
    expect(signRequests.map((r) => r.path)).toEqual([
      `/keys/${name}/${key.properties.version}/sign`,
      `/keys/${name}/${key.properties.version}/sign`,
    ]);
    const short = await rejection(crypto.sign('RS256', Buffer.alloc(20)));
    expect(short.statusCode).toBe(400);
  });

  it('refuses to sign with a key whose key_ops lack sign, or a disabled key', async () => {
    const name = uniqueName('verify-only');
    const key = await client.createRsaKey(name, { keyOps: ['verify'] });
    // The SDK itself refuses once it has read the key's key_ops; the vault refuses on its own too.
    const crypto = new CryptographyClient(key.id ?? '', credential, options);
    expect((await rejection(crypto.sign('RS256', sha256('x')))).message).toMatch(/sign/i);
    const sign = (id: string) =>
      fetch(`${id}/sign?api-version=7.6`, {
        method: 'POST',
        headers: { authorization: 'Bearer local-dev-token', 'content-type': 'application/json' },
        body: JSON.stringify({ alg: 'RS256', value: sha256('x').toString('base64url') }),
      });
    const forbidden = await sign(key.id ?? '');
    expect(forbidden.status).toBe(403);
    expect(((await forbidden.json()) as { error: { code: string } }).error.code).toBe('Forbidden');
    const disabled = await client.createRsaKey(uniqueName('disabled'), { enabled: false, keyOps: ['sign'] });
    expect((await sign(disabled.id ?? '')).status).toBe(403);
    const off = new CryptographyClient(disabled.id ?? '', credential, options);
    await expect(off.sign('RS256', sha256('x'))).rejects.toThrow();
  });

  it('adds versions and lists them; each version signs with its own key', async () => {
    const name = uniqueName('rotated');
    const first = await client.createRsaKey(name, { keyOps: ['sign', 'verify'] });
    const second = await client.createRsaKey(name, { keyOps: ['sign', 'verify'] });
    expect(second.properties.version).not.toBe(first.properties.version);
    expect((await client.getKey(name)).id).toBe(second.id);
    const versions: string[] = [];
    for await (const p of client.listPropertiesOfKeyVersions(name)) versions.push(p.version ?? '');
    expect(versions.sort()).toEqual([first.properties.version, second.properties.version].sort());
    const names: string[] = [];
    for await (const p of client.listPropertiesOfKeys()) names.push(p.name);
    expect(names).toContain(name);

    const digest = sha256('x');
    const sig = await new CryptographyClient(first.id ?? '', credential, options).sign('RS256', digest);
    expect(verifySignature('sha256', Buffer.from('x'), publicKeyOf(first), Buffer.from(sig.result))).toBe(
      true,
    );
    expect(verifySignature('sha256', Buffer.from('x'), publicKeyOf(second), Buffer.from(sig.result))).toBe(
      false,
    );
  });

  it('soft-deletes, answers 409 on the deleted name, recovers, and purges', async () => {
    const name = uniqueName('gone');
    const key = await client.createRsaKey(name, { keyOps: ['sign', 'verify'] });
    const poller = await client.beginDeleteKey(name, fast);
    const deletedKey = await poller.pollUntilDone();
    expect(deletedKey.properties.recoveryId).toBe(`${kv.url}/deletedkeys/${name}`);
    expect(deletedKey.properties.deletedOn).toBeInstanceOf(Date);
    expect((await rejection(client.getKey(name))).statusCode).toBe(404);
    const gotDeleted = await client.getDeletedKey(name);
    expect(gotDeleted.id).toBe(key.id);

    const conflict = await rejection(client.createRsaKey(name));
    expect(conflict.statusCode).toBe(409);
    expect(conflict.code).toBe('Conflict');

    await (await client.beginRecoverDeletedKey(name, fast)).pollUntilDone();
    expect((await client.getKey(name)).id).toBe(key.id);

    await (await client.beginDeleteKey(name, fast)).pollUntilDone();
    await client.purgeDeletedKey(name);
    expect((await rejection(client.getDeletedKey(name))).statusCode).toBe(404);
    const again = await client.createRsaKey(name);
    expect(again.properties.version).not.toBe(key.properties.version);
  });

  it('refuses purge under purge protection', async () => {
    const protectedKv = await startKeyVaultStandIn({ purgeProtection: true });
    try {
      const c = new KeyClient(protectedKv.url, credential, options);
      const name = uniqueName('kept');
      await c.createRsaKey(name);
      await (await c.beginDeleteKey(name, fast)).pollUntilDone();
      expect((await rejection(c.purgeDeletedKey(name))).statusCode).toBe(403);
    } finally {
      await protectedKv.close();
    }
  });

  it('keeps keys in the state file across restarts (and still reads a secrets-only file)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'kv-keys-'));
    const stateFile = path.join(dir, 'state.json');
    try {
      const first = await startKeyVaultStandIn({ stateFile });
      const firstClient = new KeyClient(first.url, credential, options);
      const name = uniqueName('kept');
      const key = await firstClient.createRsaKey(name, { keyOps: ['sign', 'verify'] });
      const port = first.port;
      await first.close();
      expect(JSON.parse(readFileSync(stateFile, 'utf8'))).toHaveProperty('keys');
      const second = await startKeyVaultStandIn({ stateFile, port });
      try {
        const again = await new KeyClient(second.url, credential, options).getKey(name);
        expect(again.id).toBe(key.id);
        expect(Buffer.from(again.key?.n ?? []).equals(Buffer.from(key.key?.n ?? []))).toBe(true);
      } finally {
        await second.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
