/**
 * Signing keys in Key Vault (the Keys API): a non-exportable RSA key per certificate credential, whose
 * private half never leaves the vault; the broker asks the vault to sign a digest. Names come from
 * ids that are never reused (like the secrets'), so a soft-deleted key never collides with a new one.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import type { PipelineRequest } from '@azure/core-rest-pipeline';
import type { TokenCredential } from '@azure/identity';
import type { CryptographyClient, KeyClient } from '@azure/keyvault-keys';
import type { Config } from '../core/config.ts';
import { DEPENDENCY_RETRY_OPTIONS, dependencyPolicy, dependencyTimeoutMs } from '../core/dependency.ts';
import { ConflictError, sdkStatus } from '../core/errors.ts';
import { Lazy } from '../core/lazy.ts';
import type { Logger } from '../core/log.ts';
import { createAzureCredential } from './client.ts';

/**
 * @azure/keyvault-keys, loaded when a certificate credential is first created or signs: the deployed
 * bundle keeps it in a file of its own (scripts/build.ts LAZY_VENDOR_FILES), so an instance that
 * serves only client secrets or federated credentials never reads or compiles it.
 */
const keysSdk = new Lazy(() => import('@azure/keyvault-keys'));

/** `/keys/{name}/{version}/sign` → sign; the resource is the vault host, never the key's name. */
function describeKeyRequest(request: PipelineRequest): { operation: string; vault: string } {
  const url = new URL(request.url);
  const parts = url.pathname.split('/').filter(Boolean);
  const m = request.method;
  const last = parts.at(-1) ?? '';
  let operation: string = m;
  if (parts[0] === 'keys') {
    if (last === 'sign' || last === 'verify' || last === 'create') operation = `${last}Key`;
    else if (m === 'DELETE') operation = 'deleteKey';
    else if (last === 'versions') operation = 'listKeyVersions';
    else operation = 'getKey';
  } else if (parts[0] === 'deletedkeys') operation = m === 'DELETE' ? 'purgeKey' : 'getDeletedKey';
  return { operation, vault: url.host };
}

/** A KeyClient for the broker's vault, failing fast like the SecretClient (503 within the budget). */
export async function createKeyClient(
  config: Pick<
    Config,
    'BROKER_KEY_VAULT_URI' | 'BROKER_DEV_CREDENTIALS' | 'AZURE_CLIENT_ID' | 'BROKER_DEPENDENCY_TIMEOUT_MS'
  >,
  credential: TokenCredential = createAzureCredential(config),
): Promise<KeyClient> {
  const { KeyClient } = await keysSdk.get();
  return new KeyClient(config.BROKER_KEY_VAULT_URI, credential, {
    disableChallengeResourceVerification: config.BROKER_DEV_CREDENTIALS === true,
    retryOptions: DEPENDENCY_RETRY_OPTIONS,
    additionalPolicies: [
      {
        policy: dependencyPolicy('secrets', describeKeyRequest, dependencyTimeoutMs(config)),
        position: 'perCall',
      },
    ],
  });
}

export interface VaultSigningKey {
  /** The versioned key id (`https://vault/keys/{name}/{version}`): what the row keeps. */
  keyId: string;
  publicKey: KeyObject;
}

const MAX_CRYPTO_CLIENTS = 200;

/** Creates, uses and removes the vault's signing keys. */
export class VaultKeys {
  /** One CryptographyClient per key version: its first sign reads the key once, later ones only sign. */
  private readonly crypto = new Map<string, CryptographyClient>();
  private readonly sdk: Lazy<KeyClient>;

  /** `client` is made on first use (see keysSdk). */
  constructor(
    client: () => Promise<KeyClient>,
    private readonly log: Logger,
  ) {
    this.sdk = new Lazy(client);
  }

  /** A new RSA 2048 key that can only sign and verify and can never be exported. */
  async create(name: string, tags: Record<string, string>): Promise<VaultSigningKey> {
    const key = await (await this.sdk.get())
      .createRsaKey(name, { keySize: 2048, keyOps: ['sign', 'verify'], exportable: false, tags })
      .catch((err: unknown) => {
        if (sdkStatus(err) !== 403) throw err;
        throw new ConflictError(
          "The broker's identity may not create keys in Key Vault: give it the Key Vault Crypto Officer role on the vault.",
          'key_vault_forbidden',
        );
      });
    const n = key.key?.n;
    const e = key.key?.e;
    if (!key.id || !n || !e) throw new Error('Key Vault returned no public key');
    const publicKey = createPublicKey({
      key: { kty: 'RSA', n: Buffer.from(n).toString('base64url'), e: Buffer.from(e).toString('base64url') },
      format: 'jwk',
    });
    return { keyId: key.id, publicKey };
  }

  /** RS256 (RSASSA-PKCS1-v1_5 SHA-256) over a SHA-256 digest, by the vault. */
  async signDigest(keyId: string, digest: Buffer): Promise<Buffer> {
    const result = await (await this.cryptoClient(keyId)).sign('RS256', digest);
    return Buffer.from(result.result);
  }

  /** Soft-deletes the key (all versions) and purges it where the vault allows; never throws. */
  async remove(name: string): Promise<void> {
    try {
      const client = await this.sdk.get();
      const poller = await client.beginDeleteKey(name);
      await poller.pollUntilDone();
      await client.purgeDeletedKey(name).catch(() => undefined);
    } catch (err) {
      if (sdkStatus(err) === 404) return;
      this.log.warn('integration.key_delete_failed', { error: err });
    }
  }

  private async cryptoClient(keyId: string): Promise<CryptographyClient> {
    let c = this.crypto.get(keyId);
    if (!c) {
      const client = await this.sdk.get();
      const parts = new URL(keyId).pathname.split('/').filter(Boolean);
      if (parts[0] !== 'keys' || !parts[1]) throw new Error('not a Key Vault key id');
      if (this.crypto.size >= MAX_CRYPTO_CLIENTS) this.crypto.clear();
      c = client.getCryptographyClient(parts[1], parts[2] ? { keyVersion: parts[2] } : {});
      this.crypto.set(keyId, c);
    }
    return c;
  }
}
