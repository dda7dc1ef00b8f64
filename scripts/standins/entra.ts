/**
 * A local Microsoft Entra ID stand-in (dev and test tooling only; production code never imports it).
 *
 * One `oidc-provider` instance per tenant, mounted under `/{tenantId}` and laid out like Entra:
 *   issuer     https://localhost:PORT/{tenantId}/v2.0
 *   discovery  /{tenant}/v2.0/.well-known/openid-configuration
 *   authorize  /{tenant}/oauth2/v2.0/authorize      token  /{tenant}/oauth2/v2.0/token
 *   jwks       /{tenant}/discovery/v2.0/keys         logout /{tenant}/oauth2/v2.0/logout
 * `{tenant}` is the tenant id or its domain (`organizations` / `common` mean the first tenant).
 * Errors at the token endpoint are shaped like Entra's (AADSTS codes, trace and correlation ids).
 * Sign-in: any account name with any non-empty password; no consent step. ID tokens carry
 * `xms_edov: true` except for accounts named `unverified-…`. `rotateKeys()` rolls the signing key over.
 *
 * Credentials without a secret: the token endpoint also takes `client_assertion` (federated identity
 * credentials and certificates, see entra-assertions.ts), registered through Microsoft Graph shapes
 * on the same host (`/v1.0/applications…`, entra-graph.ts), and the host serves an App Service-style
 * managed identity endpoint (`/msi/token`, entra-msi.ts).
 */
import { createHash, generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { calculateJwkThumbprint, importJWK, type JSONWebKeySet, type JWK, SignJWT } from 'jose';
import { serverCertificate } from './ca.ts';
import { createAppRegistry, type FederatedCredentialInput } from './entra-apps.ts';
import { createAssertionVerifier, JWT_BEARER_ASSERTION_TYPE } from './entra-assertions.ts';
import { createGraph, GRAPH_APPLICATION_ROLE, GRAPH_RESOURCE } from './entra-graph.ts';
import { createMsiEndpoint, type ManagedIdentitySpec, MSI_PATH } from './entra-msi.ts';

export interface TenantApp {
  clientId: string;
  /** The app's client secret; none for an app that only has certificates or federated credentials. */
  clientSecret?: string;
  displayName?: string;
  /** Holds Graph's `Application.ReadWrite.All` application role (an admin's tooling). */
  graphAdmin?: boolean;
  /** Federated identity credentials the app starts with (more are added through Graph). */
  federatedCredentials?: FederatedCredentialInput[];
  /** The app's only secret has expired: token requests get AADSTS7000222. */
  secretExpired?: boolean;
  /** Exact redirect URIs, or `'*'` for any http://localhost:* / http://127.0.0.1:* URI. */
  redirectUris: string[];
}

export interface TenantSpec {
  tenantId: string;
  /** Verified domain: accounts are `name@domain`, and the tenant may be addressed by it. */
  domain: string;
  apps: TenantApp[];
  /** Managed identities of this tenant, served by the managed identity endpoint. */
  managedIdentities?: ManagedIdentitySpec[];
}

export interface EntraStandInOptions {
  port?: number;
  tenants?: TenantSpec[];
  /** Clock (ms) for the stand-in's own stamps (client-credential tokens, error timestamps, nbf). */
  now?: () => number;
  /**
   * The origin clients use to reach the stand-in, when that is not the stand-in itself (a fault
   * proxy in front of it): issuers, discovery and the login form name this host.
   */
  publicHost?: string;
  /** Receives internal errors (500s); default: silent. */
  log?: (message: string) => void;
  /**
   * Extra round-trip time (ms) added to every back-channel request (discovery, keys, token), the
   * calls a server makes to Entra; browser pages (authorize, login form) are not delayed. The bench's
   * `--idp-rtt`.
   */
  backChannelDelayMs?: number;
  /** The secret callers of the managed identity endpoint send as X-IDENTITY-HEADER; random by default. */
  identityHeader?: string;
  /** Fetches issuers' discovery documents and JWKS for federated credentials (default: global fetch). */
  fetchImpl?: typeof fetch;
  /**
   * Refuse a client assertion whose `jti` was seen before (default true). Entra does not: it takes
   * an assertion until it expires; false reproduces that.
   */
  refuseReplayedAssertions?: boolean;
}

export interface EntraStandIn {
  /** `https://localhost:PORT` */
  host: string;
  port: number;
  authority(tenantId: string): string;
  issuer(tenantId: string): string;
  close(): Promise<void>;
  /**
   * Signing-key rollover: a new key replaces the old one (the old kid is no longer published).
   * Returns the new kid.
   */
  rotateKeys(): Promise<string>;
  /** The kid tokens are signed with now. */
  keyId(): string;
  /** Every request served: path without query (no codes or secrets), status. */
  requests: { method: string; path: string; status: number }[];
  /** `https://localhost:PORT/{tenantId}/oauth2/v2.0/token`: the audience of certificate assertions. */
  tokenEndpoint(tenantId: string): string;
  /** Base of the Microsoft Graph routes: `https://localhost:PORT/v1.0`. */
  graphBaseUrl: string;
  /** What App Service puts in IDENTITY_ENDPOINT and IDENTITY_HEADER for the app. */
  managedIdentityEndpoint: string;
  identityHeader: string;
}

export const DEMO_ENTRA = {
  tenantId: '6f1d2c3b-4a59-4e8f-9b7a-0c1d2e3f4a5b',
  domain: 'demo.example',
  clientId: '3b7e6a2c-1d4f-4c8e-9a0b-5e6f7a8b9c0d',
  clientSecret: 'demo~Secret.Value_0123456789abcdef',
  expiredClientId: '8c9d0e1f-2a3b-4c5d-8e6f-7a8b9c0d1e2f',
  expiredClientSecret: 'expired~Secret.Value_fedcba9876543210',
} as const;

/** The demo tenant's admin tooling: an app holding Graph's Application.ReadWrite.All role. */
export const DEMO_GRAPH_ADMIN = {
  clientId: '4e5f6a7b-8c9d-4e0f-a1b2-c3d4e5f6a7b8',
  clientSecret: 'graph-admin~Secret.Value_13579bdf02468ace',
} as const;

/** The demo tenant's user-assigned managed identity (the Function App's). */
export const DEMO_MANAGED_IDENTITY = {
  clientId: '7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d',
  objectId: '9f8e7d6c-5b4a-4938-a716-2514f3e2d1c0',
  resourceId:
    '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/broker/providers/Microsoft.ManagedIdentity/userAssignedIdentities/broker-identity',
} as const;

/** The demo tenant: one app registration and one whose secret has expired (values default to DEMO_ENTRA). */
export function demoTenant(v: { [K in keyof typeof DEMO_ENTRA]: string } = DEMO_ENTRA): TenantSpec {
  return {
    tenantId: v.tenantId,
    domain: v.domain,
    apps: [
      { clientId: v.clientId, clientSecret: v.clientSecret, redirectUris: ['*'] },
      {
        clientId: v.expiredClientId,
        clientSecret: v.expiredClientSecret,
        secretExpired: true,
        redirectUris: ['*'],
      },
      {
        clientId: DEMO_GRAPH_ADMIN.clientId,
        clientSecret: DEMO_GRAPH_ADMIN.clientSecret,
        displayName: 'Graph admin tooling',
        graphAdmin: true,
        redirectUris: [],
      },
    ],
    managedIdentities: [{ ...DEMO_MANAGED_IDENTITY }],
  };
}

/** The object id Entra would give account `name` in `tenantId`: stable, UUID-shaped. */
export function accountObjectId(tenantId: string, name: string): string {
  const h = createHash('sha256').update(`${tenantId.toLowerCase()}:${name.toLowerCase()}`).digest('hex');
  const variant = ((Number.parseInt(h[16] ?? '0', 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

// ---------------------------------------------------------------------------------------------
// Minimal typings for the parts of oidc-provider used here (the package ships no types).

interface OidcClient {
  clientId: string;
}
interface OidcGrant {
  jti?: string;
  accountId: string;
  clientId: string;
  addOIDCScope(scope: string): void;
  addOIDCClaims(claims: string[]): void;
  save(): Promise<string>;
}
interface OidcCtx {
  status: number;
  body: unknown;
  type: string;
  state: Record<string, unknown>;
  oidc: {
    route?: string;
    client?: OidcClient;
    params?: Record<string, unknown>;
    session?: { accountId?: string; grantIdFor(clientId: string): string | undefined };
    result?: { consent?: { grantId?: string } };
    requestParamScopes: Set<string>;
    requestParamClaims: Set<string>;
  };
  get(header: string): string;
}
interface InteractionDetails {
  uid: string;
  prompt: { name: string; details: Record<string, unknown> };
  params: Record<string, unknown>;
  session?: { accountId?: string };
}
interface OidcProvider {
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
  use(fn: (ctx: OidcCtx, next: () => Promise<void>) => Promise<void>): void;
  on(event: string, fn: (ctx: OidcCtx, err: unknown) => void): void;
  registerGrantType(name: string, handler: (ctx: OidcCtx) => Promise<void>, params?: string[]): void;
  interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<InteractionDetails>;
  interactionFinished(
    req: IncomingMessage,
    res: ServerResponse,
    result: Record<string, unknown>,
    opts?: { mergeWithLastSubmission?: boolean },
  ): Promise<void>;
  Grant: {
    new (init: { accountId: string; clientId: string }): OidcGrant;
    find(id: string): Promise<OidcGrant | undefined>;
  };
  Client: { prototype: { redirectUriAllowed(value: string): boolean } };
}
type ProviderCtor = new (issuer: string, configuration: Record<string, unknown>) => OidcProvider;

const OIDC_PROVIDER_MODULE: string = 'oidc-provider';

// ---------------------------------------------------------------------------------------------
// Storage: a per-stand-in in-memory adapter (oidc-provider's own memory adapter is process-global).

interface Stored {
  payload: Record<string, unknown>;
  expiresAt?: number;
}

function createAdapterClass() {
  const store = new Map<string, Stored>();
  const byGrant = new Map<string, Set<string>>();
  const sessionByUid = new Map<string, string>();
  const byUserCode = new Map<string, string>();
  const live = (key: string | undefined) => {
    if (!key) return undefined;
    const entry = store.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt !== undefined && entry.expiresAt <= Date.now()) {
      store.delete(key);
      return undefined;
    }
    return structuredClone(entry.payload);
  };
  return class StandInAdapter {
    constructor(private readonly model: string) {}
    private key(id: string) {
      return `${this.model}:${id}`;
    }
    async upsert(id: string, payload: Record<string, unknown>, expiresIn?: number) {
      const key = this.key(id);
      store.set(key, {
        payload: structuredClone(payload),
        ...(expiresIn ? { expiresAt: Date.now() + expiresIn * 1000 } : {}),
      });
      if (typeof payload.grantId === 'string') {
        const set = byGrant.get(payload.grantId) ?? new Set<string>();
        set.add(key);
        byGrant.set(payload.grantId, set);
      }
      if (this.model === 'Session' && typeof payload.uid === 'string') sessionByUid.set(payload.uid, key);
      if (typeof payload.userCode === 'string') byUserCode.set(payload.userCode, key);
    }
    async find(id: string) {
      return live(this.key(id));
    }
    async findByUid(uid: string) {
      return live(sessionByUid.get(uid));
    }
    async findByUserCode(userCode: string) {
      return live(byUserCode.get(userCode));
    }
    async consume(id: string) {
      const entry = store.get(this.key(id));
      if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
    }
    async destroy(id: string) {
      store.delete(this.key(id));
    }
    async revokeByGrantId(grantId: string) {
      for (const key of byGrant.get(grantId) ?? []) store.delete(key);
      byGrant.delete(grantId);
    }
  };
}

// ---------------------------------------------------------------------------------------------
// Entra-shaped errors.

interface EntraFailure {
  status: number;
  error: string;
  code: number;
  text: string;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function entraTimestamp(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');
}

function entraErrorBody(failure: EntraFailure, nowMs: number, clientRequestId?: string) {
  const traceId = randomUUID();
  const correlationId = clientRequestId && GUID.test(clientRequestId) ? clientRequestId : randomUUID();
  const timestamp = entraTimestamp(nowMs);
  return {
    error: failure.error,
    error_description:
      `AADSTS${failure.code}: ${failure.text}\r\nTrace ID: ${traceId}\r\n` +
      `Correlation ID: ${correlationId}\r\nTimestamp: ${timestamp}`,
    error_codes: [failure.code],
    timestamp,
    trace_id: traceId,
    correlation_id: correlationId,
    error_uri: `https://login.microsoftonline.com/error?code=${failure.code}`,
  };
}

function unknownTenant(segment: string): EntraFailure {
  return {
    status: 400,
    error: 'invalid_request',
    code: 90002,
    text:
      `Tenant '${segment}' not found. Check to make sure you have the correct tenant ID and are signing into ` +
      'the correct cloud. Check with your subscription administrator, this may happen if there are no ' +
      'active subscriptions for the tenant.',
  };
}

function appNotFound(clientId: string, tenant: TenantSpec): EntraFailure {
  return {
    status: 400,
    error: 'unauthorized_client',
    code: 700016,
    text:
      `Application with identifier '${clientId}' was not found in the directory '${tenant.domain}'. ` +
      'This can happen if the application has not been installed by the administrator of the tenant ' +
      'or consented to by any user in the tenant. You may have sent your authentication request to ' +
      'the wrong tenant.',
  };
}

/** Maps an oidc-provider token endpoint error to what Entra answers in the same situation. */
function mapTokenError(
  body: { error?: string; error_description?: string },
  err: unknown,
  clientId: string,
  tenant: TenantSpec,
): EntraFailure {
  const detail = String((err as { error_detail?: unknown } | undefined)?.error_detail ?? '');
  const description = String(body.error_description ?? '');
  switch (body.error) {
    case 'invalid_client':
      if (detail === 'client not found') return appNotFound(clientId, tenant);
      if (/expired/.test(description) || /expired/.test(detail)) {
        return {
          status: 401,
          error: 'invalid_client',
          code: 7000222,
          text:
            `The provided client secret keys for app '${clientId}' are expired. Visit the Azure portal to ` +
            'create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate ' +
            'credentials for added security: https://aka.ms/certCreds.',
        };
      }
      if (detail === 'invalid secret provided') {
        return {
          status: 401,
          error: 'invalid_client',
          code: 7000215,
          text:
            'Invalid client secret provided. Ensure the secret being sent in the request is the client ' +
            `secret value, not the client secret ID, for a secret added to app '${clientId}'.`,
        };
      }
      return {
        status: 401,
        error: 'invalid_client',
        code: 7000218,
        text: "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
      };
    case 'invalid_grant':
      if (/already consumed/.test(detail)) {
        return {
          status: 400,
          error: 'invalid_grant',
          code: 54005,
          text: 'OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.',
        };
      }
      if (/code_verifier|code_challenge/.test(detail)) {
        return {
          status: 400,
          error: 'invalid_grant',
          code: 501481,
          text: 'The Code_Verifier does not match the code_challenge supplied in the authorization request.',
        };
      }
      if (/expired/.test(detail)) {
        return {
          status: 400,
          error: 'invalid_grant',
          code: 70008,
          text:
            'The provided authorization code or refresh token has expired due to inactivity. Send a new ' +
            'interactive authorization request for this user and resource.',
        };
      }
      if (/redirect_uri/.test(detail)) {
        return {
          status: 400,
          error: 'invalid_grant',
          code: 70000,
          text:
            "The provided value for the 'redirect_uri' is not valid. The value must exactly match the " +
            'redirect URI used to obtain the authorization code.',
        };
      }
      return {
        status: 400,
        error: 'invalid_grant',
        code: 70000,
        text: 'Provided grant is invalid or malformed.',
      };
    case 'unsupported_grant_type':
      return {
        status: 400,
        error: 'unsupported_grant_type',
        code: 70003,
        text: 'The app requested an unsupported grant type.',
      };
    case 'invalid_scope':
      return {
        status: 400,
        error: 'invalid_scope',
        code: 70011,
        text: "The provided value for the input parameter 'scope' is not valid.",
      };
    case 'server_error':
      return { status: 500, error: 'server_error', code: 50000, text: 'There was an error issuing a token.' };
    default:
      if (description === 'no client authentication mechanism provided') {
        return {
          status: 401,
          error: 'invalid_client',
          code: 7000218,
          text: "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        };
      }
      return {
        status: 400,
        error: body.error ?? 'invalid_request',
        code: 900144,
        text: `The request is not valid: ${description || 'malformed request'}.`,
      };
  }
}

// ---------------------------------------------------------------------------------------------
// Small HTTP helpers.

function escapeHtml(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );
}

async function readBody(req: IncomingMessage, limit = 64 * 1024): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new Error('request body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function sendJson(res: ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

function sendHtml(res: ServerResponse, status: number, html: string) {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(html),
  });
  res.end(html);
}

function page(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body>${body}</body></html>`;
}

function loginPage(tenant: TenantSpec, uid: string, login: string, error?: string): string {
  const action = `/${tenant.tenantId}/interaction/${encodeURIComponent(uid)}/login`;
  return page(
    'Sign in to your account',
    `<h1>Sign in</h1>
<p>Entra ID stand-in for <strong>${escapeHtml(tenant.domain)}</strong>: any account name, any non-empty password.</p>
${error ? `<p role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="${escapeHtml(action)}" autocomplete="off">
<p><label>Account <input type="text" name="login" value="${escapeHtml(login)}" required autofocus></label></p>
<p><label>Password <input type="password" name="password" required></label></p>
<p><button type="submit">Sign in</button></p>
</form>`,
  );
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);
const PLACEHOLDER_REDIRECT = 'https://redirect-uris.invalid/checked-by-the-stand-in';
const MULTI_TENANT_SEGMENTS = new Set(['organizations', 'common']);

function redirectAllowed(registered: string[], value: string): boolean {
  if (registered.includes(value)) return true;
  if (!registered.includes('*')) return false;
  const url = URL.parse(value);
  return !!url && url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname) && !url.hash;
}

/** `alice`, `Alice@demo.example` → `alice`; undefined when not a plausible account name. */
function accountName(login: string): string | undefined {
  const name = (login.split('@')[0] ?? '').trim().toLowerCase();
  return /^[a-z0-9][a-z0-9._-]{0,63}$/.test(name) ? name : undefined;
}

function displayName(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}

// ---------------------------------------------------------------------------------------------

/** Accounts whose name starts with this get `xms_edov: false` (email domain owner not verified). */
export const UNVERIFIED_EMAIL_PREFIX = 'unverified-';

function isUnverifiedEmailAccount(accountId: string): boolean {
  return accountId.startsWith(UNVERIFIED_EMAIL_PREFIX);
}

async function newSigningKey(): Promise<{
  kid: string;
  signingJwk: JWK;
  signingKey: CryptoKey | Uint8Array;
}> {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const privateJwk = privateKey.export({ format: 'jwk' }) as JWK;
  const kid = await calculateJwkThumbprint(privateJwk);
  const signingJwk: JWK = { ...privateJwk, kid, alg: 'RS256', use: 'sig' };
  return { kid, signingJwk, signingKey: await importJWK(signingJwk, 'RS256') };
}

/**
 * A copy of `req` whose body is `body`: the token endpoint reads the form itself (client assertions)
 * before oidc-provider, which then parses the copy as if it came off the wire.
 */
function withBody(req: IncomingMessage, body: string): IncomingMessage {
  const copy = Readable.from([Buffer.from(body, 'utf8')], { objectMode: false });
  return Object.assign(copy, {
    method: req.method,
    url: req.url,
    httpVersion: req.httpVersion,
    httpVersionMajor: req.httpVersionMajor,
    httpVersionMinor: req.httpVersionMinor,
    headers: { ...req.headers, 'content-length': String(Buffer.byteLength(body)) },
    rawHeaders: req.rawHeaders,
    socket: req.socket,
    connection: req.socket,
  }) as unknown as IncomingMessage;
}

function publicJwk(jwk: JWK): JWK {
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...pub } = jwk;
  return pub;
}

/** Paths a server calls (not a browser): discovery documents, signing keys, the token endpoint. */
function isBackChannel(path: string): boolean {
  return /\/(openid-configuration|keys|token|instance)$/.test(path) || path.includes('/discovery/');
}

export async function startEntraStandIn(opts: EntraStandInOptions = {}): Promise<EntraStandIn> {
  const { default: Provider } = (await import(OIDC_PROVIDER_MODULE)) as { default: ProviderCtor };
  const tenants = opts.tenants ?? [demoTenant()];
  const now = opts.now ?? Date.now;
  const log = opts.log ?? (() => {});
  const requests: EntraStandIn['requests'] = [];

  let { kid, signingJwk, signingKey } = await newSigningKey();

  const providers = new Map<string, { tenant: TenantSpec; handle: ReturnType<OidcProvider['callback']> }>();
  const providerByTenant = new Map<string, OidcProvider>();
  const bySegment = new Map<string, TenantSpec>();
  for (const t of tenants) {
    bySegment.set(t.tenantId.toLowerCase(), t);
    bySegment.set(t.domain.toLowerCase(), t);
  }
  const firstTenant = tenants[0];
  const tenantById = new Map(tenants.map((t) => [t.tenantId.toLowerCase(), t]));
  // Apps without a secret still authenticate to oidc-provider after their assertion passed: with one
  // nobody else knows.
  const providerSecret = new Map(
    tenants.flatMap((t) =>
      t.apps.map((a) => [a.clientId, a.clientSecret ?? randomBytes(32).toString('base64url')] as const),
    ),
  );
  const registry = createAppRegistry(
    tenants.flatMap((t) =>
      t.apps.map((a) => ({
        tenantId: t.tenantId,
        clientId: a.clientId,
        ...(a.displayName ? { displayName: a.displayName } : {}),
        ...(a.federatedCredentials ? { federatedCredentials: a.federatedCredentials } : {}),
      })),
    ),
  );
  const identityHeader = opts.identityHeader ?? randomBytes(24).toString('base64url');

  const { cert, key } = serverCertificate();
  const server: Server = createServer({ cert, key }, (req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    // Recorded before the response leaves (a client may see it before the server's 'finish' event).
    const entry = { method: req.method ?? 'GET', path, status: 0 };
    requests.push(entry);
    const writeHead = res.writeHead.bind(res) as (...args: unknown[]) => ServerResponse;
    res.writeHead = ((...args: unknown[]) => {
      entry.status = typeof args[0] === 'number' ? args[0] : res.statusCode;
      return writeHead(...args);
    }) as ServerResponse['writeHead'];
    const serve = () =>
      route(req, res).catch((err: unknown) => {
        log(`entra stand-in: ${req.method} ${path}: ${err instanceof Error ? err.stack : String(err)}`);
        if (!res.headersSent) sendJson(res, 500, { error: 'server_error' });
        else res.destroy();
      });
    const delay = opts.backChannelDelayMs ?? 0;
    if (delay > 0 && isBackChannel(path)) setTimeout(serve, delay);
    else serve();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = opts.publicHost ?? `https://localhost:${port}`;
  const issuerOf = (tenantId: string) => `${host}/${tenantId}/v2.0`;
  const tokenEndpointOf = (segment: string) => `${host}/${segment}/oauth2/v2.0/token`;
  const publicJwks = (): JSONWebKeySet => ({ keys: [publicJwk(signingJwk)] });
  const localIssuerKeys = (issuer: string) =>
    tenants.some((t) => issuerOf(t.tenantId) === issuer) ? publicJwks() : undefined;
  const verifier = createAssertionVerifier({
    now,
    localIssuerKeys,
    log,
    refuseReplayedJti: opts.refuseReplayedAssertions ?? true,
    ...(opts.fetchImpl ? { fetchImpl: opts.fetchImpl } : {}),
  });
  const graph = createGraph({
    registry,
    tenantKeys: localIssuerKeys,
    tenantIssuer: (tid) =>
      tenantById.has(tid.toLowerCase()) ? issuerOf(tenantById.get(tid.toLowerCase())!.tenantId) : undefined,
    now,
    readBody: (req) => readBody(req),
  });
  const msi = createMsiEndpoint({
    identityHeader,
    identities: tenants.flatMap((t) =>
      (t.managedIdentities ?? []).map((identity) => ({ tenantId: t.tenantId, identity })),
    ),
    now,
    sign: (tenantId, claims, o) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' })
        .setIssuer(issuerOf(tenantId))
        .setAudience(o.audience)
        .setSubject(o.subject)
        .setIssuedAt(o.iat)
        .setNotBefore(o.iat - 5 * 60)
        .setExpirationTime(o.exp)
        .setJti(randomUUID())
        .sign(signingKey),
  });

  /**
   * Checks a token request's client assertion. On success the form is rewritten to the app's
   * provider-side secret (oidc-provider then runs the grant); on failure, Entra's answer.
   */
  async function authenticateAssertion(
    form: URLSearchParams,
    tenant: TenantSpec,
  ): Promise<EntraFailure | undefined> {
    const assertion = form.get('client_assertion') ?? '';
    if (form.get('client_assertion_type') !== JWT_BEARER_ASSERTION_TYPE || !assertion) {
      return {
        status: 400,
        error: 'invalid_request',
        code: 50027,
        text:
          "JWT token is invalid or malformed. [Reason - 'client_assertion_type' must be " +
          `'${JWT_BEARER_ASSERTION_TYPE}' with a 'client_assertion'.]`,
      };
    }
    let clientId = form.get('client_id') ?? '';
    if (!clientId) {
      try {
        const claims = JSON.parse(Buffer.from(assertion.split('.')[1] ?? '', 'base64url').toString('utf8'));
        if (typeof claims.iss === 'string' && claims.iss === claims.sub) clientId = claims.iss;
      } catch {}
    }
    const spec = tenant.apps.find((a) => a.clientId === clientId);
    const app = registry.find(clientId);
    if (!spec || !app || app.tenantId !== tenant.tenantId) return appNotFound(clientId, tenant);
    const result = await verifier.verify({
      tenantId: tenant.tenantId,
      tokenEndpoints: [
        tokenEndpointOf(tenant.tenantId),
        tokenEndpointOf(tenant.domain),
        `${host}/${tenant.tenantId}/oauth2/token`,
      ],
      app,
      assertion,
    });
    if (!result.ok) return result.failure;
    form.delete('client_assertion');
    form.delete('client_assertion_type');
    form.set('client_id', spec.clientId);
    form.set('client_secret', providerSecret.get(spec.clientId) ?? '');
    return undefined;
  }

  const mountProviders = () =>
    tenants.forEach((tenant, index) => {
      const provider = createTenantProvider(Provider, tenant, index);
      providerByTenant.set(tenant.tenantId, provider);
      providers.set(tenant.tenantId, { tenant, handle: provider.callback() });
    });
  mountProviders();

  function createTenantProvider(
    ProviderClass: ProviderCtor,
    tenant: TenantSpec,
    index: number,
  ): OidcProvider {
    const appRedirects = new Map(tenant.apps.map((a) => [a.clientId, a.redirectUris]));
    const expiredAt = Math.floor(Date.now() / 1000) - 24 * 3600;
    const provider = new ProviderClass(issuerOf(tenant.tenantId), {
      adapter: createAdapterClass(),
      clients: tenant.apps.map((app) => ({
        client_id: app.clientId,
        client_secret: providerSecret.get(app.clientId),
        ...(app.secretExpired ? { client_secret_expires_at: expiredAt } : {}),
        // Redirect URIs are checked by redirectUriAllowed below (wildcards); one placeholder keeps
        // oidc-provider's metadata validation (and pairwise subjects) happy.
        redirect_uris: [PLACEHOLDER_REDIRECT],
        grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_post',
      })),
      jwks: { keys: [signingJwk] },
      cookies: {
        keys: [randomBytes(32).toString('base64url')],
        names: {
          session: `_entra_session_${index}`,
          interaction: `_entra_i_${index}`,
          resume: `_entra_r_${index}`,
        },
      },
      routes: {
        authorization: '/oauth2/v2.0/authorize',
        token: '/oauth2/v2.0/token',
        jwks: '/discovery/v2.0/keys',
        end_session: '/oauth2/v2.0/logout',
        userinfo: '/oidc/userinfo',
        device_authorization: '/oauth2/v2.0/devicecode',
        code_verification: '/oauth2/v2.0/deviceauth',
        revocation: '/oauth2/v2.0/revoke',
        introspection: '/oauth2/v2.0/introspect',
        pushed_authorization_request: '/oauth2/v2.0/par',
        registration: '/oauth2/v2.0/register',
      },
      responseTypes: ['code'],
      pkce: { required: () => true },
      subjectTypes: ['pairwise'],
      pairwiseIdentifier: async (_ctx: unknown, accountId: string, client: OidcClient) =>
        createHash('sha256')
          .update(`${tenant.tenantId}:${client.clientId}:${accountId}`)
          .digest('base64url')
          .slice(0, 43),
      claims: {
        openid: ['sub', 'tid', 'oid', 'ver', 'nbf', 'xms_edov'],
        profile: ['name', 'preferred_username'],
        email: ['email'],
      },
      conformIdTokenClaims: false,
      allowOmittingSingleRegisteredRedirectUri: false,
      findAccount: async (_ctx: unknown, id: string) => ({
        accountId: id,
        claims: async () => {
          const username = `${id}@${tenant.domain}`;
          return {
            sub: id,
            tid: tenant.tenantId,
            oid: accountObjectId(tenant.tenantId, id),
            ver: '2.0',
            nbf: Math.floor(now() / 1000) - 5 * 60,
            name: displayName(id),
            preferred_username: username,
            email: username,
            // Email domain owner verified: true unless the account name says otherwise.
            xms_edov: !isUnverifiedEmailAccount(id),
          };
        },
      }),
      loadExistingGrant: async (ctx: OidcCtx) => {
        const { client, session, result } = ctx.oidc;
        if (!client || !session?.accountId) return undefined;
        const grantId = result?.consent?.grantId ?? session.grantIdFor(client.clientId);
        const existing = grantId ? await provider.Grant.find(grantId) : undefined;
        // No consent step: whatever was requested is granted.
        const grant =
          existing ?? new provider.Grant({ accountId: session.accountId, clientId: client.clientId });
        grant.addOIDCScope([...ctx.oidc.requestParamScopes].join(' '));
        if (ctx.oidc.requestParamClaims.size) grant.addOIDCClaims([...ctx.oidc.requestParamClaims]);
        await grant.save();
        return grant;
      },
      interactions: {
        url: async (_ctx: unknown, interaction: { uid: string }) =>
          `/${tenant.tenantId}/interaction/${interaction.uid}`,
      },
      features: {
        devInteractions: { enabled: false },
        userinfo: { enabled: true },
        rpInitiatedLogout: {
          enabled: true,
          logoutSource: async (ctx: OidcCtx, form: string) => {
            ctx.type = 'html';
            ctx.body = page(
              'Sign out',
              `${form}<p>Sign out of ${escapeHtml(tenant.domain)}?</p>
<button autofocus type="submit" form="op.logoutForm" value="yes" name="logout">Sign out</button>`,
            );
          },
          postLogoutSuccessSource: async (ctx: OidcCtx) => {
            ctx.type = 'html';
            ctx.body = page('Signed out', '<p>You have signed out of your account.</p>');
          },
        },
      },
      clientBasedCORS: () => false,
      renderError: async (ctx: OidcCtx, out: { error?: string; error_description?: string }) => {
        ctx.type = 'html';
        ctx.body = page(
          'Sign in error',
          `<h1>Sorry, but we're having trouble signing you in.</h1><p>${escapeHtml(out.error ?? 'error')}: ${escapeHtml(out.error_description ?? '')}</p>`,
        );
      },
      ttl: {
        AccessToken: 3600,
        AuthorizationCode: 600,
        ClientCredentials: 3600,
        IdToken: 3600,
        RefreshToken: 24 * 3600,
        Interaction: 3600,
        Session: 24 * 3600,
        Grant: 24 * 3600,
        DeviceCode: 600,
        BackchannelAuthenticationRequest: 600,
        PreAuthorizedCode: 600,
      },
    });

    provider.Client.prototype.redirectUriAllowed = function redirectUriAllowed(
      this: OidcClient,
      value: string,
    ) {
      return redirectAllowed(appRedirects.get(this.clientId) ?? [], value);
    };

    provider.on('grant.error', (ctx, err) => {
      ctx.state.tokenError = err;
    });
    provider.on('server_error', (ctx, err) => {
      ctx.state.tokenError = err;
      log(`entra stand-in (${tenant.domain}): ${err instanceof Error ? err.stack : String(err)}`);
    });

    // Entra-shaped token responses: errors mapped to AADSTS bodies, client_info added on success.
    provider.use(async (ctx, next) => {
      await next();
      if (ctx.oidc?.route !== 'token') return;
      const body = ctx.body as Record<string, unknown> | undefined;
      if (!body || typeof body !== 'object') return;
      if (ctx.status >= 400 && typeof body.error === 'string' && !ctx.state.entraShaped) {
        const clientId = String(ctx.oidc.params?.client_id ?? ctx.oidc.client?.clientId ?? '');
        const failure = mapTokenError(body, ctx.state.tokenError, clientId, tenant);
        ctx.status = failure.status;
        ctx.body = entraErrorBody(failure, now(), ctx.get('client-request-id'));
        return;
      }
      if (typeof body.id_token === 'string') {
        const claims = JSON.parse(
          Buffer.from(body.id_token.split('.')[1] ?? '', 'base64url').toString('utf8'),
        );
        const clientInfo = Buffer.from(JSON.stringify({ uid: claims.oid, utid: claims.tid })).toString(
          'base64url',
        );
        ctx.body = { ...body, ext_expires_in: body.expires_in, client_info: clientInfo };
      }
    });

    // Client credentials with Entra's `{resource}/.default` scopes; a JWT access token for the resource.
    provider.registerGrantType(
      'client_credentials',
      async (ctx) => {
        const client = ctx.oidc.client as OidcClient;
        const scopes = String(ctx.oidc.params?.scope ?? '')
          .split(' ')
          .filter(Boolean);
        const defaults = scopes.filter((s) => s.endsWith('/.default'));
        if (defaults.length !== 1 || scopes.length !== 1) {
          ctx.status = 400;
          ctx.state.entraShaped = true;
          ctx.body = entraErrorBody(
            {
              status: 400,
              error: 'invalid_scope',
              code: 1002012,
              text:
                `The provided value for scope ${scopes.join(' ') || '(none)'} is not valid. Client credential ` +
                'flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).',
            },
            now(),
            ctx.get('client-request-id'),
          );
          return;
        }
        const resource = (defaults[0] ?? '').slice(0, -'/.default'.length);
        const iat = Math.floor(now() / 1000);
        const appObjectId = accountObjectId(tenant.tenantId, `app:${client.clientId}`);
        const graphAdmin =
          resource === GRAPH_RESOURCE &&
          tenant.apps.some((a) => a.clientId === client.clientId && a.graphAdmin);
        const accessToken = await new SignJWT({
          tid: tenant.tenantId,
          oid: appObjectId,
          azp: client.clientId,
          appid: client.clientId,
          idtyp: 'app',
          roles: graphAdmin ? [GRAPH_APPLICATION_ROLE] : [],
          ver: '2.0',
        })
          .setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' })
          .setIssuer(issuerOf(tenant.tenantId))
          .setAudience(resource)
          .setSubject(appObjectId)
          .setIssuedAt(iat)
          .setNotBefore(iat - 5 * 60)
          .setExpirationTime(iat + 3599)
          .setJti(randomUUID())
          .sign(signingKey);
        ctx.status = 200;
        ctx.body = {
          token_type: 'Bearer',
          expires_in: 3599,
          ext_expires_in: 3599,
          access_token: accessToken,
        };
      },
      ['scope'],
    );
    return provider;
  }

  async function route(original: IncomingMessage, res: ServerResponse) {
    let req = original;
    const url = new URL(req.url ?? '/', host);
    if (url.pathname.startsWith('/v1.0/')) {
      await graph.handle(req, res, url);
      return;
    }
    if (url.pathname === MSI_PATH) {
      await msi.handle(req, res, url);
      return;
    }
    const [, segment = '', ...restParts] = url.pathname.split('/');
    const rest = `/${restParts.join('/')}`;
    const tenant =
      bySegment.get(decodeURIComponent(segment).toLowerCase()) ??
      (MULTI_TENANT_SEGMENTS.has(segment.toLowerCase()) ? firstTenant : undefined);
    if (!tenant) {
      const failure = unknownTenant(decodeURIComponent(segment));
      const tokenRequest = rest === '/oauth2/v2.0/token';
      sendJson(
        res,
        failure.status,
        entraErrorBody(
          { ...failure, error: tokenRequest ? 'invalid_request' : 'invalid_tenant' },
          now(),
          String(req.headers['client-request-id'] ?? ''),
        ),
      );
      return;
    }
    const provider = providerByTenant.get(tenant.tenantId) as OidcProvider;

    if (rest === '/oauth2/v2.0/token' && req.method === 'POST') {
      const form = new URLSearchParams(await readBody(req));
      if (form.has('client_assertion') || form.has('client_assertion_type')) {
        const failure = await authenticateAssertion(form, tenant);
        if (failure) {
          sendJson(
            res,
            failure.status,
            entraErrorBody(failure, now(), String(req.headers['client-request-id'] ?? '')),
          );
          return;
        }
      }
      req = withBody(req, form.toString());
    }

    const interaction = /^\/interaction\/([A-Za-z0-9_-]+)(\/login)?$/.exec(rest);
    if (interaction) {
      await handleInteraction(req, res, tenant, provider, interaction[1] ?? '', interaction[2] === '/login');
      return;
    }

    let inner =
      rest === '/v2.0/.well-known/openid-configuration' ? '/.well-known/openid-configuration' : rest;
    if (rest === '/oauth2/v2.0/authorize' && url.searchParams.has('prompt')) {
      // Entra's account picker / sign-up prompts: the stand-in has no picker, it asks to sign in again.
      const prompts = (url.searchParams.get('prompt') ?? '').split(' ').filter(Boolean);
      const mapped = new Set(prompts.map((p) => (p === 'select_account' || p === 'create' ? 'login' : p)));
      url.searchParams.set('prompt', [...mapped].join(' '));
    }
    inner += url.search;
    // Mounted like express does it: oidc-provider derives the mount path from originalUrl vs url.
    (req as IncomingMessage & { originalUrl?: string }).originalUrl = `/${tenant.tenantId}${inner}`;
    req.url = inner;
    providers.get(tenant.tenantId)?.handle(req, res);
  }

  async function handleInteraction(
    req: IncomingMessage,
    res: ServerResponse,
    tenant: TenantSpec,
    provider: OidcProvider,
    uid: string,
    isLoginPost: boolean,
  ) {
    let details: InteractionDetails;
    try {
      details = await provider.interactionDetails(req, res);
    } catch {
      sendHtml(res, 400, page('Sign in error', '<p>Your sign-in session has expired. Start again.</p>'));
      return;
    }
    if (details.uid !== uid) {
      sendHtml(res, 400, page('Sign in error', '<p>This sign-in request is not the current one.</p>'));
      return;
    }
    if (details.prompt.name !== 'login') {
      // Consent is never asked: everything requested is granted (see loadExistingGrant).
      await provider.interactionFinished(req, res, {}, { mergeWithLastSubmission: true });
      return;
    }
    if (req.method === 'GET' && !isLoginPost) {
      const hint = typeof details.params.login_hint === 'string' ? details.params.login_hint : '';
      sendHtml(res, 200, loginPage(tenant, uid, hint));
      return;
    }
    if (req.method !== 'POST' || !isLoginPost) {
      sendHtml(res, 405, page('Not allowed', '<p>Method not allowed.</p>'));
      return;
    }
    const form = new URLSearchParams(await readBody(req));
    const login = form.get('login') ?? '';
    const password = form.get('password') ?? '';
    const name = accountName(login);
    if (!name || !password) {
      const error = !name ? 'Enter a valid account name.' : 'Enter your password.';
      sendHtml(res, 200, loginPage(tenant, uid, login, error));
      return;
    }
    await provider.interactionFinished(
      req,
      res,
      { login: { accountId: name } },
      { mergeWithLastSubmission: false },
    );
  }

  return {
    host,
    port,
    rotateKeys: async () => {
      ({ kid, signingJwk, signingKey } = await newSigningKey());
      // oidc-provider reads its keys once: new providers (pending interactions are dropped).
      mountProviders();
      return kid;
    },
    keyId: () => kid,
    authority: (tenantId) => `${host}/${tenantId}`,
    issuer: issuerOf,
    tokenEndpoint: tokenEndpointOf,
    graphBaseUrl: `${host}/v1.0`,
    managedIdentityEndpoint: `${host}${MSI_PATH}`,
    identityHeader,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
