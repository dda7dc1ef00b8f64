/**
 * Client assertions at the Entra stand-in's token endpoint (RFC 7523 `client_assertion`), checked the
 * way Entra checks them:
 * - certificate credential: `iss` = `sub` = the client id, `aud` = the tenant's token endpoint, the
 *   header's `x5t#S256` (or `x5t`) names a certificate registered on the app, signed by its key;
 * - federated credential: `iss`, `sub` and `aud` exactly (case-sensitive) match one federated identity
 *   credential of the app; the issuer's discovery document and JWKS are fetched over HTTPS and the
 *   signature checked against them.
 * Both: a validity window with 5 minutes of clock skew, RS256 / PS256 / ES256 only.
 *
 * Beyond Entra (a stand-in choice, see `docs/security.md` CR1): a `jti` seen before within its
 * lifetime is refused, except on tokens the stand-in itself issued (managed identity tokens are
 * meant to be reused for their whole lifetime, as Entra's are). Entra itself takes an assertion
 * again until it expires (MSAL reuses its certificate assertions); `refuseReplayedJti: false`
 * behaves like that.
 */
import type { KeyObject } from 'node:crypto';
import {
  compactVerify,
  createLocalJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  errors,
  type JSONWebKeySet,
  type JWTPayload,
  type ProtectedHeaderParameters,
} from 'jose';
import { type AppRegistration, issuerAllowed } from './entra-apps.ts';

export const JWT_BEARER_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** An Entra token-endpoint failure: HTTP status, OAuth error, AADSTS code and its text. */
export interface AssertionFailure {
  status: number;
  error: string;
  code: number;
  text: string;
}

export type AssertionResult =
  | { ok: true; kind: 'federated' | 'certificate'; credentialId: string }
  | { ok: false; failure: AssertionFailure };

export interface AssertionVerifierOptions {
  now: () => number;
  /** The JWKS of an issuer the stand-in is itself (its tenants), read locally instead of over HTTPS. */
  localIssuerKeys: (issuer: string) => JSONWebKeySet | undefined;
  /** How long an issuer's discovery document and JWKS are reused (ms); default 60 s. */
  issuerCacheMs?: number;
  /** Timeout of each discovery / JWKS request (ms); default 5 s. */
  fetchTimeoutMs?: number;
  fetchImpl?: typeof fetch;
  log?: (message: string) => void;
  /** Refuse an assertion whose `jti` was already used (default true). */
  refuseReplayedJti?: boolean;
}

export interface AssertionRequest {
  tenantId: string;
  /** Every audience Entra takes for this tenant's certificate assertions (its token endpoints). */
  tokenEndpoints: string[];
  app: AppRegistration;
  assertion: string;
}

const ALGORITHMS = ['RS256', 'PS256', 'ES256'];
const SKEW_SECONDS = 5 * 60;
/**
 * Longest validity window accepted. Entra documents no cap for certificate assertions; managed
 * identity tokens (the longest-lived assertions Entra itself mints) last 24 hours.
 */
const MAX_LIFETIME_SECONDS = 24 * 3600;
const WIF_DOCS =
  'https://docs.microsoft.com/en-us/azure/active-directory/develop/workload-identity-federation';
const CERT_DOCS =
  'https://docs.microsoft.com/azure/active-directory/develop/active-directory-certificate-credentials';

function entraTime(seconds: number): string {
  return new Date(seconds * 1000)
    .toISOString()
    .replace(/\.(\d+)Z$/, (_m, ms: string) => `.${ms.padEnd(7, '0')}Z`);
}

const fail = (status: number, error: string, code: number, text: string): AssertionResult => ({
  ok: false,
  failure: { status, error, code, text },
});

const malformed = (reason: string) =>
  fail(400, 'invalid_request', 50027, `JWT token is invalid or malformed. [Reason - ${reason}]`);

interface IssuerKeys {
  fetchedAt: number;
  jwks: JSONWebKeySet;
}

export interface AssertionVerifier {
  verify(request: AssertionRequest): Promise<AssertionResult>;
}

export function createAssertionVerifier(opts: AssertionVerifierOptions): AssertionVerifier {
  const cacheMs = opts.issuerCacheMs ?? 60_000;
  const timeoutMs = opts.fetchTimeoutMs ?? 5_000;
  const fetchImpl = opts.fetchImpl ?? fetch;
  const log = opts.log ?? (() => {});
  const issuerCache = new Map<string, IssuerKeys>();
  /** `iss` + NUL + `jti` → expiry (unix seconds, skew included). */
  const seenJti = new Map<string, number>();

  async function getJson(url: string): Promise<unknown> {
    const res = await fetchImpl(url, {
      signal: AbortSignal.timeout(timeoutMs),
      headers: { accept: 'application/json' },
      redirect: 'error',
    });
    if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
    return res.json();
  }

  /** The issuer's JWKS, from its discovery document; `fresh` bypasses the cache (unknown kid). */
  async function issuerKeys(issuer: string, fresh: boolean): Promise<JSONWebKeySet> {
    const local = opts.localIssuerKeys(issuer);
    if (local) return local;
    const cached = issuerCache.get(issuer);
    const now = opts.now();
    if (cached && !fresh && now - cached.fetchedAt < cacheMs) return cached.jwks;
    const discovery = (await getJson(
      `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`,
    )) as Record<string, unknown>;
    if (discovery.issuer !== issuer) {
      throw new Error(`discovery names issuer ${String(discovery.issuer)}, not ${issuer}`);
    }
    const jwksUri = typeof discovery.jwks_uri === 'string' ? URL.parse(discovery.jwks_uri) : null;
    if (!jwksUri || !issuerAllowed(jwksUri.origin)) throw new Error('discovery has no usable jwks_uri');
    const jwks = (await getJson(jwksUri.href)) as JSONWebKeySet;
    if (!Array.isArray(jwks?.keys)) throw new Error('jwks_uri answered no keys');
    issuerCache.set(issuer, { fetchedAt: now, jwks });
    return jwks;
  }

  function checkTimes(payload: JWTPayload): AssertionResult | undefined {
    const now = Math.floor(opts.now() / 1000);
    const exp = payload.exp;
    if (typeof exp !== 'number') return malformed("the assertion has no 'exp' claim");
    const start = typeof payload.nbf === 'number' ? payload.nbf : payload.iat;
    const issued = typeof payload.iat === 'number' ? payload.iat : start;
    const outside =
      exp + SKEW_SECONDS <= now ||
      (start !== undefined && start - SKEW_SECONDS > now) ||
      (typeof payload.iat === 'number' && payload.iat - SKEW_SECONDS > now) ||
      (issued !== undefined && exp - issued > MAX_LIFETIME_SECONDS + SKEW_SECONDS);
    if (!outside) return undefined;
    return fail(
      401,
      'invalid_client',
      700024,
      `Client assertion is not within its valid time range. Current time: ${entraTime(now)}, assertion valid ` +
        `from ${start !== undefined ? entraTime(start) : 'unspecified'}, expiry time of assertion ${entraTime(exp)}. ` +
        `Review the documentation at ${CERT_DOCS} .`,
    );
  }

  function checkReplay(payload: JWTPayload, exempt: boolean): AssertionResult | undefined {
    if (exempt || opts.refuseReplayedJti === false || typeof payload.jti !== 'string') return undefined;
    const now = Math.floor(opts.now() / 1000);
    for (const [key, until] of seenJti) if (until < now) seenJti.delete(key);
    const key = `${payload.iss}\u0000${payload.jti}`;
    if (seenJti.has(key)) {
      return fail(
        400,
        'invalid_request',
        50013,
        `Assertion failed signature validation. [Reason - The assertion with jti '${payload.jti}' was already ` +
          'used; each client assertion is accepted once.]',
      );
    }
    seenJti.set(key, (payload.exp ?? now) + SKEW_SECONDS);
    return undefined;
  }

  async function signatureValid(
    assertion: string,
    key: KeyObject | ReturnType<typeof createLocalJWKSet>,
  ): Promise<'ok' | 'bad' | 'no-key'> {
    try {
      await compactVerify(assertion, key as KeyObject, { algorithms: ALGORITHMS });
      return 'ok';
    } catch (err) {
      if (err instanceof errors.JWKSNoMatchingKey) return 'no-key';
      return 'bad';
    }
  }

  async function verifyCertificate(
    req: AssertionRequest,
    header: ProtectedHeaderParameters,
    payload: JWTPayload,
  ): Promise<AssertionResult> {
    const { app } = req;
    const aud = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
    if (!aud.some((a) => typeof a === 'string' && req.tokenEndpoints.includes(a))) {
      return fail(
        401,
        'invalid_client',
        700027,
        `Client assertion failed signature validation. [Reason - The audience '${aud.join(', ')}' of the ` +
          `client assertion is not the token endpoint of tenant '${req.tenantId}'.]`,
      );
    }
    const s256 = typeof header['x5t#S256'] === 'string' ? header['x5t#S256'] : undefined;
    const s1 = typeof header.x5t === 'string' ? header.x5t : undefined;
    const hex = (b64url: string) => Buffer.from(b64url, 'base64url').toString('hex').toUpperCase();
    const cert = app.certificates.find(
      (c) => (s256 !== undefined && c.sha256 === hex(s256)) || (s1 !== undefined && c.sha1 === hex(s1)),
    );
    const presented = s256 !== undefined ? hex(s256) : s1 !== undefined ? hex(s1) : '(none)';
    const notRegistered = (reason: string) =>
      fail(
        401,
        'invalid_client',
        700027,
        `The certificate with identifier used to sign the client assertion is not registered on application. ` +
          `[Reason - ${reason}, Thumbprint of key used by client: '${presented}', Please visit the Azure Portal, ` +
          `Graph Explorer or directly use MS Graph to see configured keys for app Id '${app.appId}'. Review the ` +
          'documentation at https://docs.microsoft.com/en-us/graph/deployments if you are not using the Global endpoint.]',
      );
    if (!cert) return notRegistered('The key was not found.');
    const now = opts.now();
    if (Date.parse(cert.endDateTime) <= now || Date.parse(cert.startDateTime) > now) {
      return notRegistered('The key used is expired.');
    }
    const times = checkTimes(payload);
    if (times) return times;
    if ((await signatureValid(req.assertion, cert.certificate.publicKey)) !== 'ok') {
      return fail(
        401,
        'invalid_client',
        700027,
        'Client assertion failed signature validation. [Reason - The provided signature value did not match ' +
          `the expected signature value., Thumbprint of key used by client: '${presented}']`,
      );
    }
    const replay = checkReplay(payload, false);
    if (replay) return replay;
    return { ok: true, kind: 'certificate', credentialId: cert.keyId };
  }

  async function verifyFederated(req: AssertionRequest, payload: JWTPayload): Promise<AssertionResult> {
    const { app } = req;
    const iss = String(payload.iss ?? '');
    const sub = String(payload.sub ?? '');
    const aud = Array.isArray(payload.aud) ? payload.aud : payload.aud === undefined ? [] : [payload.aud];
    const byIssuer = app.federated.filter((f) => f.issuer === iss);
    if (byIssuer.length === 0) {
      return fail(
        400,
        'invalid_request',
        700211,
        `No matching federated identity record found for presented assertion issuer '${iss}'. Please check ` +
          `your federated identity credential Subject, Audience and Issuer against the presented assertion. ${WIF_DOCS}`,
      );
    }
    const bySubject = byIssuer.filter((f) => f.subject === sub);
    if (bySubject.length === 0) {
      return fail(
        400,
        'invalid_request',
        700213,
        `No matching federated identity record found for presented assertion subject '${sub}'. Please note ` +
          'that the matching is done using a case-sensitive comparison. Please check your federated identity ' +
          `credential Subject, Audience and Issuer against the presented assertion. ${WIF_DOCS}`,
      );
    }
    const match = bySubject.find((f) => f.audiences.some((a) => aud.includes(a)));
    if (!match) {
      return fail(
        400,
        'invalid_request',
        70021,
        `No matching federated identity record found for presented assertion. Assertion Issuer: '${iss}'. ` +
          `Assertion Subject: '${sub}'. Assertion Audience: '${aud.join(', ')}'. ${WIF_DOCS}`,
      );
    }
    const local = opts.localIssuerKeys(iss) !== undefined;
    let jwks: JSONWebKeySet;
    try {
      jwks = await issuerKeys(iss, false);
    } catch (err) {
      log(`entra stand-in: issuer ${iss}: ${err instanceof Error ? err.message : String(err)}`);
      return fail(400, 'invalid_request', 50166, 'Request to External OIDC endpoint failed.');
    }
    let verdict = await signatureValid(req.assertion, createLocalJWKSet(jwks));
    if (verdict === 'no-key' && !local) {
      // A kid not seen yet: the issuer may have rolled its keys; read its JWKS again once.
      try {
        verdict = await signatureValid(req.assertion, createLocalJWKSet(await issuerKeys(iss, true)));
      } catch {
        return fail(400, 'invalid_request', 50166, 'Request to External OIDC endpoint failed.');
      }
    }
    if (verdict === 'no-key') {
      let kid = '';
      try {
        kid = String(decodeProtectedHeader(req.assertion).kid ?? '');
      } catch {}
      return fail(
        401,
        'invalid_client',
        7000272,
        `The certificate with identifier ${kid} used to sign the federated credential could not be found in ` +
          `the metadata of identity provider ${iss}. Please validate that your Identity Provider's metadata ` +
          'exposes the key used to sign the incoming token.',
      );
    }
    if (verdict !== 'ok') {
      return fail(
        401,
        'invalid_client',
        700027,
        'Client assertion failed signature validation. [Reason - The provided signature value did not match ' +
          'the expected signature value.]',
      );
    }
    const times = checkTimes(payload);
    if (times) return times;
    const replay = checkReplay(payload, local);
    if (replay) return replay;
    return { ok: true, kind: 'federated', credentialId: match.id };
  }

  return {
    async verify(req) {
      let header: ProtectedHeaderParameters;
      let payload: JWTPayload;
      try {
        header = decodeProtectedHeader(req.assertion);
        payload = decodeJwt(req.assertion);
      } catch {
        return malformed('the client assertion is not a signed JWT');
      }
      if (!ALGORITHMS.includes(String(header.alg))) {
        return malformed(`the signing algorithm '${String(header.alg)}' is not supported`);
      }
      // Entra tells the two kinds apart by the issuer: an app's own assertion names itself.
      if (payload.iss === req.app.appId) {
        if (payload.sub !== req.app.appId) {
          return malformed("the 'sub' claim of a certificate assertion must be the client id");
        }
        return verifyCertificate(req, header, payload);
      }
      return verifyFederated(req, payload);
    },
  };
}
