import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * The provisioning secret token Entra sends as `Authorization: Bearer`: `scim.<integration id>.<secret>`
 * with 256 random bits of secret (docs/security.md SP1). The integration id in the token names the one
 * row to read, so a wrong token costs one point read and no write; only the secret's SHA-256 is stored
 * (the secret is random, so a fast hash is enough), and it is compared in constant time.
 */
const TOKEN_FORMAT =
  /^scim\.([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.([A-Za-z0-9_-]{43})$/;

export interface NewToken {
  token: string;
  hash: string;
}

export function newToken(integrationId: string): NewToken {
  const secret = randomBytes(32).toString('base64url');
  return { token: `scim.${integrationId}.${secret}`, hash: hashSecret(secret) };
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** The integration a presented token claims to belong to, and its secret; undefined if malformed. */
export function parseToken(presented: string): { integrationId: string; secret: string } | undefined {
  const m = TOKEN_FORMAT.exec(presented);
  if (!m?.[1] || !m[2]) return undefined;
  return { integrationId: m[1], secret: m[2] };
}

export function secretMatches(secret: string, storedHash: string): boolean {
  const expected = Buffer.from(storedHash, 'hex');
  const actual = Buffer.from(hashSecret(secret), 'hex');
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
