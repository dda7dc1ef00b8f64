/**
 * Client assertions (RFC 7523 JWTs sent as `client_assertion`) that authenticate an app registration
 * to Entra without a client secret:
 * - federated: the broker is an OpenID issuer Entra trusts through a federated identity credential;
 *   `iss`, `sub` and `aud` must equal the credential's issuer, subject and audience exactly;
 * - certificate: `iss` = `sub` = the client id, `aud` = the tenant's token endpoint, the header's
 *   `x5t#S256` and `x5t` name the certificate uploaded to the app registration.
 * Every assertion has its own `jti` and lives at most ASSERTION_LIFETIME_S.
 */
import {
  createHash,
  createPrivateKey,
  type JsonWebKey,
  type KeyObject,
  randomUUID,
  sign as rsaSign,
} from 'node:crypto';
import type { JWK } from 'jose';

/** The audience Entra expects in a federated credential's assertion (and that the console shows). */
export const TOKEN_EXCHANGE_AUDIENCE = 'api://AzureADTokenExchange';
/** Lifetime of an assertion (Entra takes up to 10 minutes for a federated one; we stay well under). */
export const ASSERTION_LIFETIME_S = 300;

const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

interface TimeClaims {
  iat: number;
  nbf: number;
  exp: number;
  jti: string;
}

function timeClaims(nowMs: number, lifetimeS: number): TimeClaims {
  const iat = Math.floor(nowMs / 1000);
  return { iat, nbf: iat, exp: iat + Math.min(lifetimeS, 600), jti: randomUUID() };
}

/** A JWT whose RS256 signature over the signing input comes from `sign`. */
async function rs256Jwt(
  header: Record<string, string>,
  payload: Record<string, unknown>,
  sign: (input: Buffer) => Promise<Buffer>,
): Promise<string> {
  const input = `${b64({ alg: 'RS256', typ: 'JWT', ...header })}.${b64(payload)}`;
  const signature = await sign(Buffer.from(input, 'ascii'));
  return `${input}.${signature.toString('base64url')}`;
}

export interface FederatedClaims {
  issuer: string;
  subject: string;
  audience: string;
}

/** An RS256 private JWK with its `kid`, as the OP publishes the public half in its JWKS. */
export interface AssertionSigningKey {
  kid: string;
  jwk: JWK;
}

const keyObjects = new Map<string, KeyObject>();

function keyObject(key: AssertionSigningKey): KeyObject {
  let k = keyObjects.get(key.kid);
  if (!k) {
    if (keyObjects.size > 16) keyObjects.clear();
    k = createPrivateKey({ key: key.jwk as JsonWebKey, format: 'jwk' });
    keyObjects.set(key.kid, k);
  }
  return k;
}

/** A federated credential's assertion, signed locally with the OP's current RS256 key. */
export function federatedAssertion(
  claims: FederatedClaims,
  key: AssertionSigningKey,
  nowMs: number,
  lifetimeS = ASSERTION_LIFETIME_S,
): Promise<string> {
  const payload = {
    iss: claims.issuer,
    sub: claims.subject,
    aud: claims.audience,
    ...timeClaims(nowMs, lifetimeS),
  };
  return rs256Jwt({ kid: key.kid }, payload, async (input) => rsaSign('sha256', input, keyObject(key)));
}

export interface CertificateAssertionInput {
  clientId: string;
  tokenEndpoint: string;
  x5t: string;
  x5tS256: string;
  /** RS256 over a SHA-256 digest: Key Vault's sign operation. */
  signDigest(digest: Buffer): Promise<Buffer>;
}

export function certificateAssertion(
  input: CertificateAssertionInput,
  nowMs: number,
  lifetimeS = ASSERTION_LIFETIME_S,
): Promise<string> {
  return rs256Jwt(
    { x5t: input.x5t, 'x5t#S256': input.x5tS256 },
    { iss: input.clientId, sub: input.clientId, aud: input.tokenEndpoint, ...timeClaims(nowMs, lifetimeS) },
    (signingInput) => input.signDigest(createHash('sha256').update(signingInput).digest()),
  );
}

/** Seconds until an assertion's `exp` (negative when expired); undefined for a token that is not a JWT. */
export function secondsLeft(assertion: string, nowMs: number): number | undefined {
  try {
    const payload = JSON.parse(Buffer.from(assertion.split('.')[1] ?? '', 'base64url').toString()) as {
      exp?: unknown;
    };
    return typeof payload.exp === 'number' ? payload.exp - nowMs / 1000 : undefined;
  } catch {
    return undefined;
  }
}
