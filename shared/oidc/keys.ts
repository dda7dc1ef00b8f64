/**
 * The OP's keys (docs/security.md OP9, SE4), kept in Key Vault, generated on first use, cached per
 * instance (inside the provider, which is built once per instance from them):
 * - `oidc-signing-keys`: one RS256 (RSA 2048) and one ES256 (P-256) private JWK per version; the ID
 *   token signing keys. The previous version's keys stay in the provider's JWKS (verification of old
 *   tokens and id_token_hints) but new tokens are signed with the current ones (listed first).
 * - `oidc-cookie-keys`: the HMAC keys that sign the provider's cookies (current first, previous
 *   still accepted).
 * Rotation writes a new version of both; instances pick it up when they rebuild their provider
 * (KEY_REFRESH_MS).
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import type { SecretClient } from '@azure/keyvault-secrets';
import type { JWK } from 'jose';
import { loadCurrentAndPrevious, rotateSecret, type SecretVersion } from '../secrets/versioned.ts';

export const OIDC_SIGNING_SECRET = 'oidc-signing-keys';
export const OIDC_COOKIE_SECRET = 'oidc-cookie-keys';
/** An instance re-reads the key versions (and rebuilds its provider when they changed) this often. */
export const KEY_REFRESH_MS = 10 * 60_000;

const SIGNING_TAGS = { purpose: 'oidc-signing', alg: 'RS256,ES256' };
const COOKIE_TAGS = { purpose: 'oidc-cookies' };

export interface OidcKeyMaterial {
  /** Private JWKs: current RS256, current ES256, then the previous version's. */
  jwks: { keys: JWK[] };
  cookieKeys: string[];
  versions: string;
}

function newSigningKeys(): string {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
  return JSON.stringify({ rs256: rsa, es256: ec });
}

const newCookieKey = () => JSON.stringify({ key: randomBytes(32).toString('base64url') });

function signingJwks(v: SecretVersion): JWK[] {
  const parsed = JSON.parse(v.value) as { rs256: JWK; es256: JWK };
  const id = v.version.slice(0, 16);
  return [
    { ...parsed.rs256, kid: `rs-${id}`, alg: 'RS256', use: 'sig' },
    { ...parsed.es256, kid: `es-${id}`, alg: 'ES256', use: 'sig' },
  ];
}

const cookieKey = (v: SecretVersion) => (JSON.parse(v.value) as { key: string }).key;

export class OidcKeys {
  constructor(private readonly secrets: SecretClient) {}

  async load(): Promise<OidcKeyMaterial> {
    const [signing, cookies] = await Promise.all([
      loadCurrentAndPrevious(this.secrets, OIDC_SIGNING_SECRET, newSigningKeys, SIGNING_TAGS),
      loadCurrentAndPrevious(this.secrets, OIDC_COOKIE_SECRET, newCookieKey, COOKIE_TAGS),
    ]);
    return {
      jwks: {
        keys: [...signingJwks(signing.current), ...(signing.previous ? signingJwks(signing.previous) : [])],
      },
      cookieKeys: [cookieKey(cookies.current), ...(cookies.previous ? [cookieKey(cookies.previous)] : [])],
      versions: `${signing.current.version}/${cookies.current.version}`,
    };
  }

  /** The versions only (cheap check whether another instance rotated). */
  async currentVersions(): Promise<string> {
    const [s, c] = await Promise.all([
      this.secrets.getSecret(OIDC_SIGNING_SECRET),
      this.secrets.getSecret(OIDC_COOKIE_SECRET),
    ]);
    return `${s.properties.version}/${c.properties.version}`;
  }

  async rotate(): Promise<void> {
    await rotateSecret(this.secrets, OIDC_SIGNING_SECRET, newSigningKeys, SIGNING_TAGS);
    await rotateSecret(this.secrets, OIDC_COOKIE_SECRET, newCookieKey, COOKIE_TAGS);
  }
}
