/**
 * The broker's session signing keys (docs/security.md SC5, SE4): ES256, private key kept in Key Vault as
 * a secret (JWK JSON), generated on first use, cached per instance. Each Key Vault version is one key
 * and its version is the `kid`. `/api/auth/jwks` publishes the current and the previous public key,
 * so tokens signed before a rotation stay verifiable until they expire.
 */
import type { KeyObject } from 'node:crypto';
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import type { SecretClient } from '@azure/keyvault-secrets';
import type { JWK } from 'jose';
import type { Clock } from '../core/clock.ts';
import { DependencyError } from '../core/errors.ts';
import { Lazy } from '../core/lazy.ts';
import type { Logger } from '../core/log.ts';
import { KeyIdLookup } from '../secrets/key-id-lookup.ts';
import { latestOrCreate } from '../secrets/versioned.ts';

export const SESSION_KEY_SECRET = 'broker-session-signing-key';

export interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  publicJwk: JWK;
}

function toSigningKey(kid: string, privateJwkJson: string): SigningKey {
  const jwk = JSON.parse(privateJwkJson) as JWK;
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || typeof jwk.d !== 'string') {
    throw new Error('session signing key is not an EC P-256 private JWK');
  }
  const privateKey = createPrivateKey({ key: jwk as import('node:crypto').JsonWebKey, format: 'jwk' });
  const publicKey = createPublicKey(privateKey);
  const pub = publicKey.export({ format: 'jwk' }) as JWK;
  return {
    kid,
    privateKey,
    publicKey,
    publicJwk: { kty: pub.kty, crv: pub.crv, x: pub.x, y: pub.y, kid, alg: 'ES256', use: 'sig' },
  };
}

function newPrivateJwk(): string {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return JSON.stringify(privateKey.export({ format: 'jwk' }));
}

export class SessionKeyService {
  private readonly current = new Lazy(() => this.loadCurrent());
  private readonly byKid = new Map<string, SigningKey>();
  private previousKid?: string | null;
  private readonly lookup: KeyIdLookup<KeyObject>;

  constructor(
    private readonly secrets: SecretClient,
    clock: Clock,
    private readonly log: Logger,
    private readonly secretName = SESSION_KEY_SECRET,
  ) {
    // An unknown kid may be a key another instance rotated to: Key Vault is read again (cool-down).
    this.lookup = new KeyIdLookup(clock, {
      known: (kid) => this.acceptedKey(kid),
      refresh: () => this.reload(),
      load: (kid) => this.acceptedKey(kid),
    });
  }

  /** The key new sessions are signed with (one Key Vault read per instance, then memory). */
  signingKey(): Promise<SigningKey> {
    return this.current.get();
  }

  /** The public key for `kid`, when it is the current or the previous key. */
  verificationKey(kid: string): Promise<KeyObject | undefined> {
    return this.lookup.find(kid);
  }

  /** The public key of `kid` when this instance holds it as the current or the previous key. */
  private async acceptedKey(kid: string): Promise<KeyObject | undefined> {
    const current = await this.signingKey();
    if (kid === current.kid) return current.publicKey;
    return kid === this.previousKid ? this.byKid.get(kid)?.publicKey : undefined;
  }

  /** JWKS with the current and the previous public key. */
  async jwks(): Promise<{ keys: JWK[] }> {
    const current = await this.signingKey();
    if (this.previousKid === undefined) await this.loadPrevious(current.kid);
    const previous = this.previousKid ? this.byKid.get(this.previousKid) : undefined;
    return { keys: [current.publicJwk, ...(previous ? [previous.publicJwk] : [])] };
  }

  /** Writes a new key version; the old one becomes "previous". */
  async rotate(): Promise<string> {
    const res = await this.secrets.setSecret(this.secretName, newPrivateJwk(), {
      contentType: 'application/jwk+json',
      tags: { purpose: 'broker-session-signing', alg: 'ES256' },
    });
    await this.reload();
    return res.properties.version ?? '';
  }

  private async reload(): Promise<void> {
    this.current.reset();
    this.previousKid = undefined;
    const current = await this.signingKey();
    await this.loadPrevious(current.kid);
  }

  private async loadCurrent(): Promise<SigningKey> {
    try {
      const latest = await latestOrCreate(this.secrets, this.secretName, newPrivateJwk, {
        contentType: 'application/jwk+json',
        tags: { purpose: 'broker-session-signing', alg: 'ES256' },
        onCreate: () => this.log.info('session_keys.generated'),
      });
      const key = toSigningKey(latest.version, latest.value);
      this.byKid.set(key.kid, key);
      return key;
    } catch (err) {
      this.log.error('session_keys.load_failed', { error: err });
      throw new DependencyError('secrets', err);
    }
  }

  private async loadPrevious(currentKid: string): Promise<void> {
    try {
      const versions: { version: string; createdOn: number }[] = [];
      for await (const p of this.secrets.listPropertiesOfSecretVersions(this.secretName)) {
        if (p.enabled !== false && p.version && p.version !== currentKid) {
          versions.push({ version: p.version, createdOn: p.createdOn?.getTime() ?? 0 });
        }
      }
      versions.sort((a, b) => b.createdOn - a.createdOn);
      const prev = versions[0];
      if (!prev) {
        this.previousKid = null;
        return;
      }
      if (!this.byKid.has(prev.version)) {
        const s = await this.secrets.getSecret(this.secretName, { version: prev.version });
        if (s.value) this.byKid.set(prev.version, toSigningKey(prev.version, s.value));
      }
      this.previousKid = prev.version;
    } catch (err) {
      this.log.warn('session_keys.previous_unavailable', { error: err });
      this.previousKid = null;
    }
  }
}
