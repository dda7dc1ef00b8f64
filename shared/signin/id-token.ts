/**
 * ID token validation by the broker itself (OIDC Core §3.1.3.7; docs/security.md CB3–CB7): MSAL Node does
 * not check the signature, iss, aud, exp, alg or tid, so every token MSAL hands back is checked here
 * with jose before anyone is signed in.
 */
import {
  createRemoteJWKSet,
  type JWTPayload,
  type JWTVerifyGetKey,
  errors as joseErrors,
  jwtVerify,
} from 'jose';
import type { Clock } from '../core/clock.ts';
import type { Config } from '../core/config.ts';
import { dependencyTimeoutMs } from '../core/dependency.ts';
import { type EntraCloud, issuerFor, jwksUri } from '../entra/authority.ts';

export const MAX_CLOCK_SKEW_SECONDS = 300;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Microsoft personal accounts: never a work/school tenant. */
export const CONSUMER_TENANT_ID = '9188040d-6c67-4c5b-b112-36a304b66dad';

export interface EntraIdentity {
  tenantId: string;
  objectId: string;
  preferredUsername: string | null;
  email: string | null;
  upn: string | null;
  name: string | null;
  /** Entra's `xms_edov`: the email's domain is verified as owned by the tenant (only `true` counts). */
  emailDomainVerified: boolean;
}

export type IdTokenFailure =
  | 'malformed'
  | 'bad_signature'
  | 'bad_algorithm'
  | 'wrong_issuer'
  | 'wrong_audience'
  | 'wrong_tenant'
  | 'expired'
  | 'not_yet_valid'
  | 'issued_in_future'
  | 'nonce_mismatch'
  | 'missing_claims';

export class IdTokenError extends Error {
  constructor(readonly reason: IdTokenFailure) {
    super(`ID token rejected: ${reason}`);
    this.name = 'IdTokenError';
  }
}

export interface IdTokenExpectations {
  cloud: EntraCloud;
  applicationId: string;
  /** Tenants whose tokens are accepted (a GUID each). */
  allowedTenantIds: readonly string[];
  nonce: string;
}

/** Where signing keys come from: production fetches each tenant's jwks_uri (cached by jose). */
export type SigningKeySource = (cloud: EntraCloud, tenantId: string) => JWTVerifyGetKey;

/**
 * Signing-key rollover: a token whose `kid` is not in the cached key set makes jose refetch that
 * tenant's keys at once, unless the set was fetched less than this long ago (one fetch per tenant
 * per few seconds at most, whatever an attacker sends).
 */
export const KEY_REFETCH_COOLDOWN_MS = 5000;

export function remoteSigningKeys(
  config: Pick<
    Config,
    'BROKER_ENTRA_PUBLIC_AUTHORITY_HOST' | 'BROKER_DEPENDENCY_TIMEOUT_MS' | 'BROKER_DEV_CREDENTIALS'
  >,
  opts: { cooldownMs?: number } = {},
): SigningKeySource {
  const cache = new Map<string, JWTVerifyGetKey>();
  return (cloud, tenantId) => {
    const url = jwksUri(cloud, tenantId, config);
    let jwks = cache.get(url);
    if (!jwks) {
      // jose caches the key set (one per tenant) and refetches on an unknown kid after the cooldown.
      jwks = createRemoteJWKSet(new URL(url), {
        cooldownDuration: opts.cooldownMs ?? KEY_REFETCH_COOLDOWN_MS,
        cacheMaxAge: 24 * 3600_000,
        // Within the broker's 3 s budget for a dependency (a hung key endpoint → "try again").
        timeoutDuration: dependencyTimeoutMs(config),
      });
      cache.set(url, jwks);
    }
    return jwks;
  };
}

function decodeSegment(segment: string | undefined): Record<string, unknown> | undefined {
  if (!segment) return undefined;
  try {
    const v = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return v && typeof v === 'object' && !Array.isArray(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

const str = (v: unknown) => (typeof v === 'string' && v.length > 0 && v.length <= 512 ? v : null);

export class IdTokenValidator {
  constructor(
    private readonly keys: SigningKeySource,
    private readonly clock: Clock,
    private readonly config: Pick<Config, 'BROKER_ENTRA_PUBLIC_AUTHORITY_HOST'>,
  ) {}

  async validate(idToken: string, expect: IdTokenExpectations): Promise<EntraIdentity> {
    const parts = idToken.split('.');
    if (parts.length !== 3) throw new IdTokenError('malformed');
    const header = decodeSegment(parts[0]);
    const unverified = decodeSegment(parts[1]);
    if (!header || !unverified) throw new IdTokenError('malformed');
    if (header.alg !== 'RS256') throw new IdTokenError('bad_algorithm');
    // The tenant decides which issuer and keys apply; it is checked against the allow-list BEFORE
    // any key is fetched, so a foreign tenant cannot make us fetch its keys.
    const tid = typeof unverified.tid === 'string' ? unverified.tid.toLowerCase() : '';
    if (!GUID.test(tid)) throw new IdTokenError('wrong_tenant');
    if (tid === CONSUMER_TENANT_ID || !expect.allowedTenantIds.map((t) => t.toLowerCase()).includes(tid)) {
      throw new IdTokenError('wrong_tenant');
    }
    const issuer = issuerFor(expect.cloud, tid, this.config);
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(idToken, this.keys(expect.cloud, tid), {
        algorithms: ['RS256'],
        issuer,
        audience: expect.applicationId,
        clockTolerance: MAX_CLOCK_SKEW_SECONDS,
        currentDate: new Date(this.clock.now()),
        requiredClaims: ['iss', 'aud', 'exp', 'iat', 'tid', 'oid', 'nonce'],
      }));
    } catch (err) {
      throw new IdTokenError(classifyJoseError(err));
    }
    // Exactly our audience: an extra (untrusted) audience is refused (OIDC §3.1.3.7 step 3).
    if (Array.isArray(payload.aud) && (payload.aud.length !== 1 || payload.aud[0] !== expect.applicationId)) {
      throw new IdTokenError('wrong_audience');
    }
    if (payload.azp !== undefined && payload.azp !== expect.applicationId)
      throw new IdTokenError('wrong_audience');
    if (String(payload.tid).toLowerCase() !== tid) throw new IdTokenError('wrong_tenant');
    const nowSeconds = Math.floor(this.clock.now() / 1000);
    if (typeof payload.iat !== 'number' || payload.iat > nowSeconds + MAX_CLOCK_SKEW_SECONDS) {
      throw new IdTokenError('issued_in_future');
    }
    if (typeof payload.nonce !== 'string' || payload.nonce !== expect.nonce)
      throw new IdTokenError('nonce_mismatch');
    const oid = typeof payload.oid === 'string' ? payload.oid.toLowerCase() : '';
    if (!GUID.test(oid)) throw new IdTokenError('missing_claims');
    return {
      tenantId: tid,
      objectId: oid,
      preferredUsername: str(payload.preferred_username),
      email: str(payload.email),
      upn: str(payload.upn),
      name: str(payload.name),
      emailDomainVerified: payload.xms_edov === true,
    };
  }
}

function classifyJoseError(err: unknown): IdTokenFailure {
  if (err instanceof joseErrors.JWTExpired) return 'expired';
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.claim === 'iss') return 'wrong_issuer';
    if (err.claim === 'aud') return 'wrong_audience';
    if (err.claim === 'nbf') return 'not_yet_valid';
    if (err.claim === 'iat') return 'issued_in_future';
    if (err.claim === 'nonce' || err.claim === 'tid' || err.claim === 'oid') return 'missing_claims';
    return 'missing_claims';
  }
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return 'bad_algorithm';
  if (
    err instanceof joseErrors.JWSSignatureVerificationFailed ||
    err instanceof joseErrors.JWKSNoMatchingKey ||
    err instanceof joseErrors.JWKSMultipleMatchingKeys
  ) {
    return 'bad_signature';
  }
  return 'malformed';
}
