/**
 * The symmetric key that seals login transactions into their browser cookie (AES-256-GCM): 32 random
 * bytes kept in Key Vault as a secret, generated on first use, cached per instance. Each Key Vault
 * version is one key and its version is the key id written into every sealed value, so values sealed
 * before a rotation (or by an instance that raced another to create the key) stay readable.
 */
import { randomBytes } from 'node:crypto';
import type { SecretClient } from '@azure/keyvault-secrets';
import type { Clock } from '../core/clock.ts';
import { DependencyError, sdkStatus } from '../core/errors.ts';
import { Lazy } from '../core/lazy.ts';
import type { Logger } from '../core/log.ts';
import { KeyIdLookup } from '../secrets/key-id-lookup.ts';
import { latestOrCreate } from '../secrets/versioned.ts';

export const LOGIN_SEAL_KEY_SECRET = 'broker-login-seal-key';

const SEAL_KEY_CONTENT_TYPE = 'application/octet-stream';
const SEAL_KEY_TAGS = { purpose: 'broker-login-transaction-seal', alg: 'A256GCM' };
const newSealKey = () => randomBytes(32).toString('base64url');

export interface SealKey {
  kid: string;
  key: Buffer;
}

const toKey = (kid: string, value: string | undefined): SealKey => {
  const key = Buffer.from(value ?? '', 'base64url');
  if (key.length !== 32) throw new Error('login seal key is not 32 bytes');
  return { kid, key };
};

export class SealKeyService {
  private readonly current = new Lazy(() => this.loadCurrent());
  private readonly known = new Map<string, SealKey>();
  /** Versions of the secret seen in its last version list. */
  private readonly versions = new Set<string>();
  private readonly lookup: KeyIdLookup<SealKey>;

  constructor(
    private readonly secrets: SecretClient,
    clock: Clock,
    private readonly log: Logger,
    private readonly secretName = LOGIN_SEAL_KEY_SECRET,
  ) {
    this.lookup = new KeyIdLookup(clock, {
      known: async (kid) => {
        const current = await this.sealingKey();
        return kid === current.kid ? current : this.known.get(kid);
      },
      seen: (kid) => this.versions.has(kid),
      refresh: () => this.listVersions(),
      load: (kid) => this.loadVersion(kid),
    });
  }

  /** The key new values are sealed with (one Key Vault read per instance, then memory). */
  sealingKey(): Promise<SealKey> {
    return this.current.get();
  }

  /**
   * The key with id `kid`, if Key Vault has that version. Unknown ids are checked against the secret's
   * version list, read at most every 30 s per instance (KeyIdLookup).
   */
  openingKey(kid: string): Promise<SealKey | undefined> {
    return this.lookup.find(kid);
  }

  private async listVersions(): Promise<void> {
    try {
      for await (const p of this.secrets.listPropertiesOfSecretVersions(this.secretName)) {
        if (p.version && p.enabled !== false) this.versions.add(p.version);
      }
    } catch (err) {
      throw new DependencyError('secrets', err);
    }
  }

  private async loadVersion(kid: string): Promise<SealKey | undefined> {
    if (!this.versions.has(kid)) return undefined;
    try {
      const s = await this.secrets.getSecret(this.secretName, { version: kid });
      const key = toKey(kid, s.value);
      this.known.set(kid, key);
      return key;
    } catch (err) {
      if (sdkStatus(err) === 404) return undefined;
      throw new DependencyError('secrets', err);
    }
  }

  /** Writes a new key version; values sealed with the old one stay readable. */
  async rotate(): Promise<string> {
    const res = await this.secrets.setSecret(this.secretName, newSealKey(), {
      contentType: SEAL_KEY_CONTENT_TYPE,
      tags: SEAL_KEY_TAGS,
    });
    this.current.reset();
    return res.properties.version ?? '';
  }

  private async loadCurrent(): Promise<SealKey> {
    try {
      const latest = await latestOrCreate(this.secrets, this.secretName, newSealKey, {
        contentType: SEAL_KEY_CONTENT_TYPE,
        tags: SEAL_KEY_TAGS,
        onCreate: () => this.log.info('login_seal_key.generated'),
      });
      const key = toKey(latest.version, latest.value);
      this.known.set(key.kid, key);
      return key;
    } catch (err) {
      this.log.error('login_seal_key.load_failed', { error: err });
      throw err instanceof DependencyError ? err : new DependencyError('secrets', err);
    }
  }
}
