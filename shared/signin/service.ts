/**
 * The sign-in flows of DESIGN.md: login start (username step → Entra, password step or choice),
 * IdP-first start, the Entra callback, password sign-in, sessions. Function files parse the request
 * and render pages; every decision is here, with its dependencies passed in.
 */
import type { Cookie } from '@azure/functions';
import type { AuthenticationResult } from '@azure/msal-node';
import type { AuditLog } from '../audit/log.ts';
import type { Clock } from '../core/clock.ts';
import type { Config } from '../core/config.ts';
import { dependencyTimeoutMs } from '../core/dependency.ts';
import { BrokerError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import { authorityHost, authorizeEndpoint, type EntraCloud } from '../entra/authority.ts';
import { classifyEntraError } from '../entra/errors.ts';
import { withEntraTimeout } from '../entra/msal.ts';
import { PasswordLimits } from '../limits/password-limits.ts';
import type { Slot, SlotLimiter } from '../limits/slots.ts';
import { addressBucket, type Throttle } from '../limits/throttle.ts';
import type { SessionService } from '../sessions/service.ts';
import { effectiveRoles } from '../users/records.ts';
import type { ErrorCase } from '../web/pages/texts.ts';
import type { EntraClientCache } from './entra-clients.ts';
import { type EntraIdentity, IdTokenError, type IdTokenValidator } from './id-token.ts';
import type {
  IntegrationSource,
  PasswordVerifier,
  SettingsReader,
  SignInIntegration,
  SignInSettings,
  SignInUser,
  UserDirectory,
} from './ports.ts';
import { safeReturnUrl } from './return-url.ts';
import { type LoginTransaction, type LoginTransactionStore, TransactionError } from './transactions.ts';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const SIGN_IN_SCOPES = ['openid', 'profile', 'email'];
/** Sign-ins sent to Entra per client address per 10 minutes (RL1; nothing is stored, but each start reads a user). */
export const START_LIMIT = { limit: 30, windowMs: 10 * 60_000 };
/** Callbacks per client address per 10 minutes (RL1). */
export const CALLBACK_LIMIT = { limit: 60, windowMs: 10 * 60_000 };

/** A rejected login transaction as the page the browser gets (400; expiry has its own text). */
function transactionFailure(err: unknown): unknown {
  if (!(err instanceof TransactionError)) return err;
  return new SignInError(err.reason === 'expired' ? 'expired' : 'state_mismatch', 400, `state_${err.reason}`);
}

/** A sign-in that ends on an error page: a fixed text per case, a stable reason for the audit. */
export class SignInError extends BrokerError {
  constructor(
    readonly errorCase: ErrorCase,
    status: number,
    readonly reason: string,
    opts: {
      headers?: Record<string, string>;
      username?: string | null;
      integrationId?: string | null;
      /** An already allow-listed return URL, kept for the error page's "Start again" link (RU2). */
      returnTo?: string | null;
    } = {},
  ) {
    super(status, reason, `sign-in failed: ${reason}`, opts.headers ? { headers: opts.headers } : {});
    this.username = opts.username ?? null;
    this.integrationId = opts.integrationId ?? null;
    this.returnTo = opts.returnTo ?? null;
  }
  readonly username: string | null;
  readonly integrationId: string | null;
  readonly returnTo: string | null;
}

export interface RequestInfo {
  clientAddress: string;
  correlationId: string;
}

export type LoginStepResult =
  | { kind: 'redirect'; location: string; cookie: Cookie }
  | { kind: 'password'; username: string; returnTo: string | null }
  | { kind: 'choice'; username: string; title: string; returnTo: string | null };

export interface SignedIn {
  cookie: Cookie;
  location: string;
  username: string;
}

export interface SignInDeps {
  config: Pick<
    Config,
    | 'BROKER_PUBLIC_BASE_URL'
    | 'BROKER_ENTRA_PUBLIC_AUTHORITY_HOST'
    | 'BROKER_DEPENDENCY_TIMEOUT_MS'
    | 'BROKER_DEV_CREDENTIALS'
  >;
  clock: Clock;
  log: Logger;
  audit: AuditLog;
  users: UserDirectory;
  integrations: IntegrationSource;
  settings: SettingsReader;
  passwords: PasswordVerifier;
  sessions: SessionService;
  transactions: LoginTransactionStore;
  throttle: Throttle;
  /** Per-address limits that hold under bursts with one write on the success path (callbacks). */
  slots: SlotLimiter;
  idTokens: IdTokenValidator;
  entraClients: EntraClientCache;
  /** Resolves a tenant domain name to its GUID (one discovery call per tenant per instance). */
  resolveTenantId?: (cloud: EntraCloud, domain: string) => Promise<string>;
}

export const USERNAME_MAX = 256;
/** How stale a user's lastLoginAt may be (DESIGN: written at most once an hour per user). */
export const LAST_LOGIN_RESOLUTION_MS = 60 * 60_000;

export function normaliseUsername(raw: string | null | undefined): string {
  return (raw ?? '').trim().toLowerCase();
}

export class SignInService {
  private readonly tenantIds = new Map<string, Promise<string>>();
  private readonly passwordLimits: PasswordLimits;

  constructor(private readonly d: SignInDeps) {
    this.passwordLimits = new PasswordLimits(d.throttle, d.slots);
  }

  get redirectUri(): string {
    return `${this.d.config.BROKER_PUBLIC_BASE_URL}/api/auth/callback`;
  }

  get brokerOrigin(): string {
    return new URL(this.d.config.BROKER_PUBLIC_BASE_URL).origin;
  }

  async settings(): Promise<SignInSettings> {
    return this.d.settings.get();
  }

  /** A return URL that passed the allow-list, or null (RU1/RU2). */
  async returnUrl(raw: string | null | undefined): Promise<string | null> {
    if (!raw) return null;
    const settings = await this.d.settings.get();
    return safeReturnUrl(raw, settings.allowedReturnOrigins, this.brokerOrigin) ?? null;
  }

  /** Where to go after sign-in / sign-out when no acceptable return URL was given. */
  get defaultLanding(): string {
    return '/api/auth/login';
  }

  // ---- username step ----------------------------------------------------------------------------

  async usernameStep(
    usernameRaw: string,
    returnTo: string | null,
    method: 'entra' | 'password' | undefined,
    info: RequestInfo,
    opts: { reauthenticate?: boolean } = {},
  ): Promise<LoginStepResult> {
    // This address's start slot is taken while the user is read (one round trip); it is given back
    // when the step does not send the browser to Entra.
    const slot = this.d.slots.take('start', addressBucket(info.clientAddress), START_LIMIT);
    slot.catch(() => {});
    let redirected = false;
    try {
      const step = await this.usernameStepFor(
        usernameRaw,
        returnTo,
        method,
        async () => {
          redirected = true;
          await this.startAllowed(await slot);
        },
        opts.reauthenticate === true,
      );
      return step;
    } finally {
      if (!redirected)
        void slot.then(
          (s) => s.release?.(),
          () => undefined,
        );
    }
  }

  /** 429 + Retry-After when this address has used its sign-in starts. */
  private async startAllowed(slot: Slot): Promise<void> {
    if (!slot.blocked) return;
    throw new SignInError('throttled', 429, 'start_rate_limited', {
      headers: { 'Retry-After': String(slot.retryAfterSeconds) },
    });
  }

  private async usernameStepFor(
    usernameRaw: string,
    returnTo: string | null,
    method: 'entra' | 'password' | undefined,
    beforeRedirect: () => Promise<void>,
    reauthenticate: boolean,
  ): Promise<LoginStepResult> {
    const username = normaliseUsername(usernameRaw);
    // Together: the settings are cached per instance, but a stale cache must not add a round trip.
    const [user, settings] = await Promise.all([this.d.users.getByUsername(username), this.d.settings.get()]);
    if (user && !user.disabled && user.verifyType.kind === 'integration') {
      const hasPasswordChoice = settings.allowOAuthPasswords && user.passwordHash !== null;
      if (method === 'password' && hasPasswordChoice) return { kind: 'password', username, returnTo };
      let integration: SignInIntegration;
      try {
        ({ integration } = await this.activeIntegration(user.verifyType.integrationId, username));
      } catch (err) {
        // The user's integration is gone or inactive: the password when the user may use one, else a
        // page that says sign-in with the organisation is not available (not "link not valid").
        const missing = err instanceof SignInError && err.errorCase === 'integration_not_found';
        const inactive = err instanceof SignInError && err.errorCase === 'integration_unavailable';
        if (!missing && !inactive) throw err;
        if (hasPasswordChoice) return { kind: 'password', username, returnTo };
        throw new SignInError(
          'integration_unavailable',
          403,
          missing ? 'integration_missing' : 'integration_inactive',
          {
            username,
            integrationId: user.verifyType.integrationId,
            returnTo,
          },
        );
      }
      if (hasPasswordChoice && method !== 'entra') {
        return { kind: 'choice', username, title: integration.title, returnTo };
      }
      await beforeRedirect();
      return {
        kind: 'redirect',
        ...(await this.startEntra(integration, username, returnTo, reauthenticate)),
      };
    }
    // Password users, unknown users and disabled users all get the password step (no enumeration).
    return { kind: 'password', username, returnTo };
  }

  /** IdP-first start: `GET /api/auth/login/{integrationId}`. */
  async idpFirstStart(integrationId: string, returnTo: string | null, info: RequestInfo) {
    if (!GUID.test(integrationId))
      throw new SignInError('integration_not_found', 404, 'integration_not_found');
    const slot = this.d.slots.take('start', addressBucket(info.clientAddress), START_LIMIT);
    slot.catch(() => {});
    let integration: SignInIntegration;
    try {
      ({ integration } = await this.activeIntegration(integrationId, null));
    } catch (err) {
      void slot.then(
        (s) => s.release?.(),
        () => undefined,
      );
      throw err;
    }
    await this.startAllowed(await slot);
    return this.startEntra(integration, null, returnTo);
  }

  private async activeIntegration(
    id: string,
    username: string | null,
    opts: { refreshSecret?: boolean } = {},
  ) {
    const ctx = { username, integrationId: id };
    let found: Awaited<ReturnType<IntegrationSource['getForSignIn']>>;
    try {
      found = await this.d.integrations.getForSignIn(id, opts);
    } catch (err) {
      if (err instanceof BrokerError && err.status === 404) {
        throw new SignInError('integration_not_found', 404, 'integration_not_found', ctx);
      }
      if (err instanceof BrokerError && err.code === 'integration_inactive') {
        throw new SignInError('integration_unavailable', 403, 'integration_inactive', ctx);
      }
      // Storage or Key Vault trouble is not "inactive": the visitor gets "try again later" (503).
      this.d.log.error('signin.integration_unavailable', { error: err, integrationId: id });
      throw new SignInError('unavailable', 503, 'integration_read_failed', ctx);
    }
    if (found.integration.status !== 'active') {
      throw new SignInError('integration_unavailable', 403, 'integration_inactive', ctx);
    }
    return found;
  }

  private async startEntra(
    integration: SignInIntegration,
    expectedUsername: string | null,
    returnTo: string | null,
    reauthenticate = false,
  ): Promise<{ location: string; cookie: Cookie }> {
    // Nothing is stored and nothing is sent to Entra here: the transaction travels sealed in its cookie.
    const tx = await this.d.transactions.create({
      integrationId: integration.id,
      expectedUsername,
      returnTo,
    });
    const url = new URL(authorizeEndpoint(integration.cloud, integration.tenant, this.d.config));
    const q = url.searchParams;
    q.set('client_id', integration.applicationId);
    q.set('response_type', 'code');
    q.set('redirect_uri', this.redirectUri);
    q.set('response_mode', 'query');
    q.set('scope', SIGN_IN_SCOPES.join(' '));
    q.set('state', tx.state);
    q.set('nonce', tx.nonce);
    q.set('code_challenge', tx.challenge);
    q.set('code_challenge_method', 'S256');
    if (expectedUsername) q.set('login_hint', expectedUsername);
    // An application's prompt=login / max_age: Entra must ask for credentials, not answer from its SSO.
    if (reauthenticate) q.set('prompt', 'login');
    else if (!expectedUsername) q.set('prompt', 'select_account');
    return { location: url.toString(), cookie: tx.cookie };
  }

  // ---- callback ---------------------------------------------------------------------------------

  async callback(
    query: { code?: string; state?: string; error?: string },
    sealedTransaction: (state: string) => string | undefined,
    info: RequestInfo,
  ): Promise<SignedIn> {
    if (!query.state) throw new SignInError('invalid_callback', 400, 'missing_state');
    const state = query.state;
    let tx: LoginTransaction;
    try {
      tx = await this.d.transactions.open(state, sealedTransaction(state));
    } catch (err) {
      throw transactionFailure(err);
    }
    const ctx = { username: tx.expectedUsername, integrationId: tx.integrationId, returnTo: tx.returnTo };
    if (query.error) {
      throw new SignInError(entraErrorCase(query.error), 400, `idp_${safeErrorCode(query.error)}`, ctx);
    }
    if (!query.code) throw new SignInError('invalid_callback', 400, 'missing_code', ctx);
    // One round before anything reaches Entra, together: this address's callback slot (RL1, holds
    // under bursts), the single use of the state (CB1), and the expected user's row, which is needed
    // whatever Entra answers (so Entra's answer never waits for storage). The integration comes from
    // the per-instance cache (a miss reads it in the same round).
    const integrationP = this.activeIntegration(tx.integrationId, tx.expectedUsername);
    const expected = tx.expectedUsername
      ? this.d.users.getByUsername(tx.expectedUsername)
      : Promise.resolve(undefined);
    // The settings (session lifetime, return origins) are needed at the end: a stale per-instance cache
    // is read again in this round, not after Entra.
    const settingsP = this.d.settings.get();
    // Awaited below, after the slot and the state: a refused callback must not leave them unhandled.
    integrationP.catch(() => {});
    expected.catch(() => {});
    settingsP.catch(() => {});
    const [slot, used] = await Promise.allSettled([
      this.d.slots.take('callback', addressBucket(info.clientAddress), CALLBACK_LIMIT),
      this.d.transactions.markUsed(state),
    ]);
    if (slot.status === 'rejected') throw slot.reason;
    if (slot.value.blocked) {
      throw new SignInError('throttled', 429, 'callback_rate_limited', {
        headers: { 'Retry-After': String(slot.value.retryAfterSeconds) },
      });
    }
    if (used.status === 'rejected') throw transactionFailure(used.reason);
    const { integration, clientSecret } = await integrationP;

    const result = await this.redeem(
      integration,
      clientSecret,
      query.code,
      state,
      tx.verifier,
      tx.nonce,
      ctx,
    );
    // CB10: only the ID token proves who signed in; the access token is never looked at.
    const identity = await this.validateIdToken(result.idToken, integration, tx.nonce, ctx);
    const user = await this.matchUser(
      identity,
      integration,
      tx.expectedUsername,
      tx.returnTo,
      await expected,
    );
    return this.complete(
      user,
      'entra',
      integration.id,
      tx.returnTo,
      info,
      { integrationId: integration.id, tid: identity.tenantId, oid: identity.objectId },
      settingsP,
    );
  }

  /** The end of every successful sign-in: a new session, lastLoginAt, the audit event, the landing URL. */
  private async complete(
    user: SignInUser,
    method: 'entra' | 'password',
    integrationId: string | null,
    returnTo: string | null,
    info: RequestInfo,
    details: Record<string, string>,
    /** Started by the caller in its first round (a stale settings cache costs no round trip of its own). */
    settingsRead: Promise<SignInSettings>,
  ): Promise<SignedIn> {
    const settings = await settingsRead;
    // Independent writes, together: the session row, the audit event and (at most hourly) lastLoginAt.
    // Should the session write fail, the sign-in fails and its failure is audited as well.
    const [issued] = await Promise.all([
      this.d.sessions.issue({
        username: user.username,
        roles: effectiveRoles(user),
        method,
        integrationId,
        clientAddress: info.clientAddress,
        lifetimeMinutes: settings.sessionLifetimeMinutes,
      }),
      this.loginIsStale(user) ? this.d.users.recordLogin(user.username) : undefined,
      this.d.audit.record({
        type: 'signin.succeeded',
        actor: user.username,
        target: `user:${user.username}`,
        correlationId: info.correlationId,
        clientAddress: info.clientAddress,
        details: { method, ...details },
      }),
    ]);
    const location =
      (returnTo && safeReturnUrl(returnTo, settings.allowedReturnOrigins, this.brokerOrigin)) ||
      this.defaultLanding;
    return { cookie: issued.cookie, location, username: user.username };
  }

  /** lastLoginAt is kept to the hour: a user signing in again within an hour costs no write. */
  private loginIsStale(user: SignInUser): boolean {
    const last = user.lastLoginAt ? Date.parse(user.lastLoginAt) : Number.NaN;
    return !(this.d.clock.now() - last < LAST_LOGIN_RESOLUTION_MS);
  }

  private async redeem(
    integration: SignInIntegration,
    clientSecret: string,
    code: string,
    state: string,
    verifier: string,
    nonce: string,
    ctx: { username: string | null; integrationId: string; returnTo?: string | null },
  ): Promise<AuthenticationResult> {
    const attempt = async (secret: string, target: SignInIntegration) => {
      const client = this.d.entraClients.get(target, secret);
      const result = await withEntraTimeout(
        client.acquireTokenByCode(
          {
            code,
            redirectUri: this.redirectUri,
            codeVerifier: verifier,
            scopes: SIGN_IN_SCOPES,
            state,
            nonce,
          },
          { code, state },
        ),
        dependencyTimeoutMs(this.d.config),
      );
      // A long-lived instance must not keep every user's tokens (MSAL caches them per account).
      if (result?.account) await client.getTokenCache().removeAccount(result.account);
      if (!result?.idToken) throw new SignInError('redeem_failed', 502, 'no_id_token', ctx);
      return result;
    };
    try {
      return await attempt(clientSecret, integration);
    } catch (err) {
      if (err instanceof SignInError) throw err;
      const kind = classifyEntraError(err);
      if (kind.kind === 'wrong_secret') {
        // The secret may have been rotated on another instance: read it again once and retry.
        const fresh = await this.activeIntegration(integration.id, ctx.username, { refreshSecret: true });
        try {
          return await attempt(fresh.clientSecret, fresh.integration);
        } catch (retryErr) {
          if (retryErr instanceof SignInError) throw retryErr;
          this.d.log.warn('signin.redeem_failed', {
            aadsts: classifyEntraError(retryErr).aadsts ?? null,
            retried: true,
          });
          throw new SignInError('redeem_failed', 502, 'redeem_wrong_secret', ctx);
        }
      }
      this.d.log.warn('signin.redeem_failed', { kind: kind.kind, aadsts: kind.aadsts ?? null });
      if (kind.kind === 'unreachable') throw new SignInError('unavailable', 503, 'idp_unreachable', ctx);
      throw new SignInError('redeem_failed', 400, `redeem_${kind.kind}`, ctx);
    }
  }

  private async validateIdToken(
    idToken: string,
    integration: SignInIntegration,
    nonce: string,
    ctx: { username: string | null; integrationId: string; returnTo?: string | null },
  ): Promise<EntraIdentity> {
    try {
      return await this.d.idTokens.validate(idToken, {
        cloud: integration.cloud,
        applicationId: integration.applicationId,
        allowedTenantIds: await this.allowedTenantIds(integration),
        nonce,
      });
    } catch (err) {
      if (err instanceof IdTokenError)
        throw new SignInError('token_invalid', 400, `id_token_${err.reason}`, ctx);
      throw err;
    }
  }

  private async allowedTenantIds(integration: SignInIntegration): Promise<string[]> {
    const tenant = integration.tenant.toLowerCase();
    if (tenant === 'organizations') return integration.allowedTenants.map((t) => t.toLowerCase());
    if (GUID.test(tenant)) return [tenant];
    const key = `${integration.cloud}:${tenant}`;
    let p = this.tenantIds.get(key);
    if (!p) {
      p = (this.d.resolveTenantId ?? this.discoverTenantId.bind(this))(integration.cloud, tenant);
      p.catch(() => this.tenantIds.delete(key));
      this.tenantIds.set(key, p);
    }
    return [(await p).toLowerCase()];
  }

  /** A domain-named tenant's GUID, from its OpenID configuration's issuer (cold path only). */
  private async discoverTenantId(cloud: EntraCloud, domain: string): Promise<string> {
    const host = authorityHost(cloud, this.d.config);
    const res = await fetch(`${host}/${encodeURIComponent(domain)}/v2.0/.well-known/openid-configuration`, {
      signal: AbortSignal.timeout(dependencyTimeoutMs(this.d.config)),
    });
    if (!res.ok) throw new SignInError('unavailable', 503, 'tenant_discovery_failed');
    const issuer = String(((await res.json()) as { issuer?: unknown }).issuer ?? '');
    const m = /\/([0-9a-f-]{36})\/v2\.0\/?$/i.exec(issuer);
    if (!m?.[1] || !GUID.test(m[1])) throw new SignInError('unavailable', 503, 'tenant_discovery_failed');
    return m[1];
  }

  /**
   * Account matching (AM1–AM4): a bound user matches on (tid, oid) only; an unbound user matches once,
   * on the integration's claim, and only the expected user (or, IdP-first, a user assigned to this
   * integration) — then the binding is stored. Email alone never links an account that is bound.
   */
  private async matchUser(
    identity: EntraIdentity,
    integration: SignInIntegration,
    expectedUsername: string | null,
    returnTo: string | null,
    expectedUser?: SignInUser,
  ): Promise<SignInUser> {
    const ctx = { username: expectedUsername, integrationId: integration.id, returnTo };
    // A returning user: the expected account is bound to exactly this (tid, oid) (AM1). The binding
    // index says the same (both are written together), so it need not be read.
    const boundHere =
      expectedUser?.entraBinding &&
      expectedUser.entraBinding.tenantId === identity.tenantId &&
      expectedUser.entraBinding.objectId === identity.objectId;
    const bound = boundHere
      ? expectedUser
      : await this.d.users.findByBinding(identity.tenantId, identity.objectId);
    let user: SignInUser | undefined = bound;
    if (bound) {
      if (expectedUsername && bound.username !== expectedUsername) {
        throw new SignInError('account_mismatch', 403, 'bound_to_other_user', ctx);
      }
    } else {
      // nOAuth: across tenants the email claim is unverified. New integrations cannot be set up this
      // way (validation); rows written before that rule never bind on it either.
      if (integration.tenant.toLowerCase() === 'organizations' && integration.matchClaim === 'email') {
        throw new SignInError('no_account', 403, 'email_claim_multi_tenant', ctx);
      }
      // The email claim is whatever a tenant admin typed into `mail`: it is only trusted for a first
      // binding when Entra says the tenant owns the email's domain (xms_edov, an optional claim the
      // app registration must request). Both routes (username first and IdP first) need it.
      if (integration.matchClaim === 'email' && !identity.emailDomainVerified) {
        throw new SignInError('no_account', 403, 'email_domain_not_verified', ctx);
      }
      const claim = claimValue(identity, integration.matchClaim);
      if (!claim) throw new SignInError('no_account', 403, 'claim_missing', ctx);
      if (expectedUsername) {
        const candidate = expectedUser ?? (await this.d.users.getByUsername(expectedUsername));
        if (!candidate || !claimMatches(claim, candidate)) {
          throw new SignInError('account_mismatch', 403, 'claim_mismatch', ctx);
        }
        user = candidate;
      } else {
        const byName = await this.d.users.getByUsername(claim);
        const viaEmail = byName ? undefined : await this.d.users.findByEmail(claim);
        const candidate = byName ?? (viaEmail ? await this.d.users.getByUsername(viaEmail) : undefined);
        if (!candidate || !claimMatches(claim, candidate)) {
          throw new SignInError('no_account', 403, 'no_matching_user', ctx);
        }
        user = candidate;
      }
      // An account already bound to another Entra identity never re-links by a claim (AM1, nOAuth).
      if (user.entraBinding) throw new SignInError('account_mismatch', 403, 'bound_to_other_identity', ctx);
    }
    if (!user) throw new SignInError('no_account', 403, 'no_matching_user', ctx);
    const userCtx = { username: user.username, integrationId: integration.id, returnTo };
    if (user.disabled) throw new SignInError('account_disabled', 403, 'user_disabled', userCtx);
    if (user.verifyType.kind !== 'integration' || user.verifyType.integrationId !== integration.id) {
      throw new SignInError('not_allowed', 403, 'wrong_verify_type', userCtx);
    }
    if (!bound) {
      try {
        await this.d.users.bind(
          user.username,
          { tenantId: identity.tenantId, objectId: identity.objectId },
          user.etag,
        );
      } catch (err) {
        if (err instanceof BrokerError && err.status < 500) {
          throw new SignInError('account_mismatch', 409, 'binding_conflict', userCtx);
        }
        throw err;
      }
    }
    return user;
  }

  // ---- password sign-in -------------------------------------------------------------------------

  async passwordSignIn(
    usernameRaw: string,
    password: string,
    returnToRaw: string | null,
    info: RequestInfo,
  ): Promise<SignedIn> {
    const username = normaliseUsername(usernameRaw);
    // Both the account's and the address's attempt are reserved (counted) before the password is
    // checked, so parallel guesses cannot all pass one read of a counter (PW5, RL2); only failures use
    // the address's budget up (shared/signin/password-limits.ts). The user row is needed whatever the
    // limits say: read it while they are reserved (one round trip for all of them).
    const userRead = username ? this.d.users.getByUsername(username) : Promise.resolve(undefined);
    userRead.catch(() => {}); // awaited below unless throttled
    // Cached per instance; a stale cache is read in the same round, not after the limits.
    const settingsRead = this.d.settings.get();
    settingsRead.catch(() => {});
    const attempt = await this.passwordLimits.reserve(username, addressBucket(info.clientAddress));
    if (attempt.blocked) {
      await this.d.audit.record({
        type: 'signin.throttled',
        actor: username || 'unknown',
        target: username ? `user:${username}` : undefined,
        outcome: 'failure',
        reason: attempt.reason ?? 'address_throttled',
        correlationId: info.correlationId,
        clientAddress: info.clientAddress,
        details: { method: 'password' },
      });
      throw new SignInError('throttled', 429, 'throttled', {
        headers: { 'Retry-After': String(attempt.retryAfterSeconds) },
        username,
      });
    }
    const settings = await settingsRead;
    const user = await userRead;
    const allowed =
      !!user &&
      !user.disabled &&
      user.passwordHash !== null &&
      (user.verifyType.kind === 'password' || settings.allowOAuthPasswords);
    let ok = false;
    if (allowed && user?.passwordHash) ok = await this.d.passwords.verify(user.passwordHash, password);
    else await this.d.passwords.dummyVerify(password);
    if (!ok || !user) {
      const reason = !user
        ? 'unknown_user'
        : !allowed
          ? user.disabled
            ? 'user_disabled'
            : 'method_not_allowed'
          : 'wrong_password';
      await this.d.audit.record({
        type: 'signin.failed',
        actor: username || 'unknown',
        target: username ? `user:${username}` : undefined,
        outcome: 'failure',
        reason,
        correlationId: info.correlationId,
        clientAddress: info.clientAddress,
        details: { method: 'password' },
      });
      throw new SignInError('throttled', 401, reason, { username });
    }
    if (this.d.passwords.needsRehash(user.passwordHash as string)) {
      try {
        await this.d.users.setPasswordHash(user.username, await this.d.passwords.hash(password), user.etag);
      } catch (err) {
        this.d.log.warn('signin.rehash_failed', { error: err });
      }
    }
    // The account's failures are forgotten and the address slot given back alongside the session and
    // audit inserts (one round trip).
    const [, signedIn] = await Promise.all([
      attempt.succeeded(),
      this.complete(user, 'password', null, returnToRaw, info, {}, settingsRead),
    ]);
    return signedIn;
  }

  /** Audit record for a sign-in that ended on an error page (AU1), whatever the error was. */
  async auditFailure(err: unknown, info: RequestInfo, method: 'entra' | 'password'): Promise<void> {
    if (err instanceof SignInError) {
      if (method === 'password' && (err.status === 401 || err.status === 429)) return; // recorded with its reason
    }
    const known = err instanceof SignInError ? err : undefined;
    const status = err instanceof BrokerError ? err.status : 500;
    // The page for the original failure must still be shown if the audit write fails too.
    await this.d.audit
      .record({
        type: 'signin.failed',
        actor: known?.username ?? 'unknown',
        ...(known?.username ? { target: `user:${known.username}` } : {}),
        outcome: 'failure',
        reason: known?.reason ?? (err instanceof BrokerError ? err.code : `error_${status}`),
        correlationId: info.correlationId,
        clientAddress: info.clientAddress,
        details: { method, integrationId: known?.integrationId ?? null, status },
      })
      .catch((auditErr) => this.d.log.error('signin.audit_failed', { error: auditErr }));
  }
}

function claimValue(identity: EntraIdentity, claim: SignInIntegration['matchClaim']): string | null {
  const v = claim === 'email' ? identity.email : claim === 'upn' ? identity.upn : identity.preferredUsername;
  return v ? v.trim().toLowerCase() : null;
}

function claimMatches(claim: string, user: SignInUser): boolean {
  return claim === user.username.toLowerCase() || (!!user.email && claim === user.email.toLowerCase());
}

const ENTRA_ERRORS: Record<string, ErrorCase> = {
  access_denied: 'access_denied',
  consent_required: 'consent_required',
  interaction_required: 'interaction_required',
  login_required: 'login_required',
  temporarily_unavailable: 'temporarily_unavailable',
};

function entraErrorCase(error: string): ErrorCase {
  return ENTRA_ERRORS[error] ?? 'idp_error';
}

/** An Entra `error` value reduced to a short, safe token for the audit record. */
function safeErrorCode(error: string): string {
  return /^[a-z_]{1,40}$/.test(error) ? error : 'other';
}
