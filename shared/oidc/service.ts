/**
 * The broker as OpenID Provider, per instance: builds the provider lazily on the first /api/oidc
 * request (keys from Key Vault, Table Storage adapter), rebuilds it when the keys rotate, and serves
 * every /api/oidc request: the login step (`interaction/{uid}`, login-step.ts) itself, every other
 * route through the provider, with its early reads (prefetch.ts) and its hooks (hooks.ts).
 */
import type { TableClient } from '@azure/data-tables';
import type { SecretClient } from '@azure/keyvault-secrets';
import type { JWK } from 'jose';
import type { AuditEventInput, AuditLog } from '../audit/log.ts';
import type { AuditNoise } from '../audit/noise.ts';
import type { Clock } from '../core/clock.ts';
import type { Config } from '../core/config.ts';
import { isDependencyFailure } from '../core/dependency.ts';
import {
  DEPENDENCY_RETRY_AFTER_SECONDS,
  DependencyError,
  PayloadTooLargeError,
  TooManyRequestsError,
} from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import type { AssertionSigningKey } from '../entra/client-assertion.ts';
import type { Slot, SlotLimiter } from '../limits/slots.ts';
import type { SessionService } from '../sessions/service.ts';
import { Accounts } from './accounts.ts';
import { brokerSession, brokerSessionToken, endBrokerSession } from './broker-session.ts';
import { carryHints, HintSeal } from './carried-hints.ts';
import { checkParameters, isBrowserRoute, RESPONSE_MODES, routeOf, takeSlot, tokenClient } from './gate.ts';
import { providerHooks } from './hooks.ts';
import { KEY_REFRESH_MS, type OidcKeyMaterial, OidcKeys } from './keys.ts';
import { LoginStep } from './login-step.ts';
import { LogoutDelivery } from './logout-delivery.ts';
import type { LogoutQueue } from './logout-queue.ts';
import { exchange, type NodeTarget } from './node-exchange.ts';
import type { OidcPages } from './pages.ts';
import type { ApiSource, AuditRecorder, ProviderClientSource, UserSource } from './ports.ts';
import { postedAuthorizationAsGet } from './post-authorization.ts';
import { postedLogout } from './post-logout.ts';
import {
  prefetchResume,
  prefetchSessionGrant,
  prefetchSessionUser,
  prefetchTokenGrant,
  prefetchUserinfo,
} from './prefetch.ts';
import {
  createProvider,
  HINT_LIFETIMES,
  INTERACTION_PATH,
  OIDC_MOUNT,
  type ProviderModule,
} from './provider.ts';
import { attachState, type OidcAnswer, type OidcRequest, type RequestState } from './request.ts';
import { accessTokenClaims, resourceServer } from './resources.ts';
import { interactionPolicy } from './sso.ts';
import { OidcTableStore, withRequestMemo } from './store.ts';
import { unrouted } from './unrouted.ts';

export interface OidcServiceDeps {
  config: Config;
  clock: Clock;
  log: Logger;
  audit: AuditLog;
  table: TableClient;
  secrets: SecretClient;
  users: UserSource;
  applications: ProviderClientSource;
  sessionService: SessionService;
  /** The APIs applications get JWT access tokens for. */
  apis: ApiSource;
  /** Ended broker sessions whose back-channel logouts are owed (the session store fills it). */
  logoutQueue: LogoutQueue;
  /** The OP's pages, rendered by the web layer. */
  pages: OidcPages;
  /** Shared-store limits of the authorization, PAR and token routes. */
  slots: Pick<SlotLimiter, 'take'>;
  /** Anonymous failures and refusals, counted instead of one audit row each. */
  noise: Pick<AuditNoise, 'count'>;
}

/** An OAuth error answer in JSON (the token, PAR, userinfo and revocation routes). */
function oauthError(
  status: number,
  error: string,
  description: string,
  headers: Record<string, string> = {},
): OidcAnswer {
  return {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
    body: JSON.stringify({ error, error_description: description }),
  };
}

/** The discovery documents: OpenID Connect Discovery's and RFC 8414's (the library serves both). */
const DISCOVERY = new Set(['.well-known/openid-configuration', '.well-known/oauth-authorization-server']);

/** Discovery names only the response modes the broker documents and tests. */
function trimDiscovery(answer: OidcAnswer): OidcAnswer {
  if (answer.status !== 200 || answer.body === undefined) return answer;
  try {
    const doc = JSON.parse(answer.body.toString()) as Record<string, unknown>;
    doc.response_modes_supported = [...RESPONSE_MODES];
    const { etag: _etag, ...headers } = answer.headers;
    return { ...answer, headers, body: JSON.stringify(doc) };
  } catch {
    return answer;
  }
}

type BuiltProvider = ProviderModule & {
  handler: ReturnType<ProviderModule['provider']['callback']>;
  /** The private signing keys the provider was built with (current first). */
  signingKeys: JWK[];
  /** Seals and opens the hints its codes and refresh tokens carry (from its cookie keys). */
  hintSeal: HintSeal;
};

export class OidcService {
  readonly issuer: string;
  readonly keys: OidcKeys;
  readonly store: OidcTableStore;
  private readonly target: NodeTarget;
  private readonly accounts: Accounts;
  private readonly loginStep: LoginStep;
  /** Back-channel logout deliveries (logout-delivery.ts). */
  readonly logouts: LogoutDelivery;
  private state?: {
    material: Promise<OidcKeyMaterial>;
    built?: Promise<BuiltProvider>;
    versions?: string;
    checkedAt: number;
  };
  /** Writes an audit event of the OP; a failure is logged, the request goes on. */
  private readonly record: AuditRecorder = (event: AuditEventInput) =>
    this.d.audit.record(event).catch((err: unknown) => {
      this.d.log.error('oidc.audit_failed', { error: err, type: event.type });
    });

  constructor(private readonly d: OidcServiceDeps) {
    const base = new URL(d.config.BROKER_PUBLIC_BASE_URL);
    this.issuer = `${base.origin}${OIDC_MOUNT}`;
    this.target = { publicBaseUrl: base, mountPath: OIDC_MOUNT };
    this.keys = new OidcKeys(d.secrets);
    this.store = new OidcTableStore(d.table, d.clock);
    this.accounts = new Accounts(d.users, this.store, d.sessionService, d.applications);
    this.loginStep = new LoginStep({
      clock: d.clock,
      store: this.store,
      users: d.users,
      applications: d.applications,
      sessionService: d.sessionService,
      pages: d.pages,
      record: this.record,
      provider: () => this.provider(),
      target: this.target,
    });
    this.logouts = new LogoutDelivery({
      queue: d.logoutQueue,
      store: this.store,
      applications: d.applications,
      record: this.record,
      clock: d.clock,
      log: d.log,
      issuer: this.issuer,
      signingKey: async (alg) => (await this.provider()).signingKeys.find((k) => k.alg === alg),
    });
  }

  /**
   * This instance's key material: read on first use, read again when another instance rotated the
   * keys (checked every KEY_REFRESH_MS). The provider and the integrations' client assertions use
   * the same material, so an assertion is always signed with a key the JWKS publishes.
   */
  private async current(): Promise<NonNullable<OidcService['state']>> {
    const now = this.d.clock.now();
    const s = this.state;
    if (s && now - s.checkedAt > KEY_REFRESH_MS) {
      s.checkedAt = now;
      const latest = await this.keys.currentVersions().catch(() => undefined);
      if (latest && s.versions && latest !== s.versions) this.state = undefined;
    }
    if (!this.state) {
      const material = this.keys.load();
      const state: NonNullable<OidcService['state']> = { checkedAt: now, material };
      material.then(
        (m) => {
          state.versions = m.versions;
        },
        () => {
          if (this.state === state) this.state = undefined;
        },
      );
      this.state = state;
    }
    return this.state;
  }

  /** The provider of this instance (built on first use; rebuilt when another instance rotated the keys). */
  async provider(): Promise<BuiltProvider> {
    const state = await this.current();
    if (!state.built) {
      state.built = (async () => {
        const material = await state.material;
        const hooks = providerHooks({
          applications: this.d.applications,
          accounts: this.accounts,
          pages: this.d.pages,
          record: this.record,
          noise: this.d.noise,
          log: this.d.log,
        });
        hooks.resourceServer = (resource, clientId) =>
          resourceServer(this.d.apis, resource, clientId) as Promise<Record<string, unknown> | undefined>;
        hooks.extraTokenClaims = (token) => accessTokenClaims(this.accounts, token);
        hooks.policy = (lib) =>
          interactionPolicy(lib, {
            clock: this.d.clock,
            store: this.store,
            accounts: this.accounts,
            applications: this.d.applications,
            sessionService: this.d.sessionService,
            record: this.record,
          });
        const mod = await createProvider(this.issuer, material, this.store, hooks);
        this.store.consumedError = () => new mod.errors.InvalidGrant('authorization code already consumed');
        const hintSeal = new HintSeal(material.cookieKeys, HINT_LIFETIMES, () => this.d.clock.now());
        carryHints(mod.provider, hintSeal, (artifact, opSessionId) =>
          this.store.hintAtIssue(artifact, opSessionId),
        );
        return { ...mod, handler: mod.provider.callback(), signingKeys: material.jwks.keys, hintSeal };
      })();
      state.built.catch(() => {
        if (this.state === state) this.state = undefined;
      });
    }
    return state.built;
  }

  /**
   * The RS256 key the OP signs ID tokens with now (the first one its JWKS lists): integrations whose
   * credential is `federated` sign their client assertions with it (docs/security.md CR1).
   */
  async assertionSigningKey(): Promise<AssertionSigningKey> {
    const material = await (await this.current()).material;
    const key = material.jwks.keys.find((k) => k.alg === 'RS256' && k.d);
    if (!key?.kid) throw new Error('The OP has no RS256 signing key');
    return { kid: key.kid, jwk: key };
  }

  /** Rotates the signing and cookie keys; this instance uses them at once, others within KEY_REFRESH_MS. */
  async rotateKeys(): Promise<void> {
    await this.keys.rotate();
    this.state = undefined;
  }

  /** The origins a sign-in page's form may end up at when its returnTo is the login step (CSP form-action). */
  formTargetsFor(returnTo: string | null | undefined): Promise<string[]> {
    return this.loginStep.formTargetsFor(returnTo);
  }

  /** Every /api/oidc/{path} request (OidcStore rows read at most once per request: `withRequestMemo`). */
  handle(rc: OidcRequest, path: string): Promise<OidcAnswer> {
    return withRequestMemo(() => this.serve(rc, path));
  }

  private async serve(rc: OidcRequest, requestPath: string): Promise<OidcAnswer> {
    const m = new RegExp(`^${INTERACTION_PATH}/([^/]+)$`).exec(requestPath);
    if (m) return this.loginStep.run(rc, m[1] ?? '');
    // Every check and limit below sees the route the library will match.
    const path = routeOf(requestPath);
    const { handler, hintSeal } = await this.provider();
    let body: Buffer;
    try {
      body = await rc.body();
    } catch (err) {
      if (!(err instanceof PayloadTooLargeError)) throw err;
      return this.refuse(rc, path, 413, 'the request body is too large');
    }
    const contentType = rc.headers.get('content-type') ?? '';
    const bad = checkParameters(path, rc.url, contentType, body);
    if (bad) return this.refuse(rc, path, 400, bad.description);
    const logout = postedLogout(rc, path, body, `${this.issuer}/session/end`);
    if (logout && 'refused' in logout) return this.refuse(rc, path, 400, logout.refused);
    // A posted logout reads and writes nothing: it is sent on to the GET, which takes the
    // end-session limit's slot (taking one here too would halve that limit).
    if (logout) return { status: 303, headers: { location: logout.location } };
    // The limit's slot is taken while the provider reads; every write of the request waits for it.
    const slot = takeSlot(this.d.slots, rc, path, contentType, body);
    if (slot) {
      const gate = slot.then((s) => {
        if (s.blocked) throw new TooManyRequestsError(s.retryAfterSeconds);
      });
      gate.catch(() => {});
      this.store.setGate(gate);
    }
    prefetchResume(this.store, path);
    prefetchSessionUser(this.accounts, rc.headers, path);
    const posted = postedAuthorizationAsGet(rc, path, body);
    const request = posted ?? rc;
    const providerBody = posted ? Buffer.alloc(0) : body;
    prefetchSessionGrant(this.store, request, path);
    prefetchTokenGrant(this.store, request, path, providerBody, {
      accounts: this.accounts,
      sessions: this.d.sessionService,
      hintSeal,
    });
    prefetchUserinfo(this.store, request.headers, path, {
      accounts: this.accounts,
      sessions: this.d.sessionService,
      hintSeal,
    });
    const state: RequestState = { rc: request, pending: [] };
    // An authorization may be answered from the broker session (sso.ts): read it meanwhile.
    if (path === 'auth' && request.method === 'GET' && brokerSessionToken(request.headers)) {
      state.brokerSession = brokerSession(this.d.sessionService, request.headers);
      state.brokerSession.catch(() => {}); // awaited by the policy, when the request gets that far
    }
    let answer = await exchange(handler, request, providerBody, this.target, (req) =>
      attachState(req, state),
    );
    const limited = slot && (await this.limitedBy(rc, path, slot));
    if (limited) return limited;
    if (state.dependencyFailure) return this.failed(path, state.dependencyFailure);
    // The audit events the request recorded and its held OidcStore writes, together.
    const [, applied] = await Promise.all([
      Promise.allSettled(state.pending),
      this.store.applyHeld().then(
        () => undefined,
        (err: unknown) => err ?? new Error('write failed'),
      ),
    ]);
    if (applied && (applied as { error?: unknown }).error === 'invalid_grant') {
      // The redemption was held with the tokens and a parallel one won: the grant is revoked (with
      // what both issued) and this request answers as the library does for a used code.
      this.store.discardHeld();
      const clientId = tokenClient(request.headers, contentType, providerBody).id;
      await this.record({
        type: 'oidc.token.refused',
        actor: 'anonymous',
        outcome: 'failure',
        reason: 'invalid_grant',
        target: clientId ? `application:${clientId}` : 'oidc',
        correlationId: rc.correlationId,
        clientAddress: rc.clientAddress,
        details: { clientId: clientId || null, revokedGrant: true },
      });
      return oauthError(400, 'invalid_grant', 'grant request is invalid');
    }
    if (applied) return this.failed(path, applied);
    if (state.unrouted) return this.unrouted(rc, path);
    if (DISCOVERY.has(path)) answer = trimDiscovery(answer);
    if (state.cookies?.length) answer.cookies = [...(answer.cookies ?? []), ...state.cookies];
    // RP-initiated logout ended the OP session: the broker session ends too.
    if (state.endSession)
      answer.cookies = [...(answer.cookies ?? []), await endBrokerSession(this.d.sessionService, rc.headers)];
    return answer;
  }

  /**
   * A request refused before the provider saw it (a parameter, a body over the bridge's cap, a posted
   * logout that is not a form): counted, not audited one row each; the error page at a browser route,
   * `invalid_request` in JSON elsewhere.
   */
  private refuse(rc: OidcRequest, path: string, status: number, description: string): OidcAnswer {
    this.d.noise.count({
      type: 'oidc.request.refused',
      reason: 'invalid_request',
      clientAddress: rc.clientAddress,
      target: 'oidc',
      correlationId: rc.correlationId,
    });
    if (isBrowserRoute(path)) return this.d.pages.invalidRequest({ status, correlationId: rc.correlationId });
    return oauthError(status, 'invalid_request', description);
  }

  /** A path or method the library has no route for (unrouted.ts): a page or JSON, never its bare 404. */
  private unrouted(rc: OidcRequest, path: string): OidcAnswer {
    if (isBrowserRoute(path))
      return this.d.pages.invalidRequest({ status: 404, correlationId: rc.correlationId });
    const answer = unrouted(path, rc.method);
    if (answer.status === 204) return { status: 204, headers: { allow: answer.allow.join(', ') } };
    return answer.status === 405
      ? oauthError(405, 'invalid_request', `${rc.method} is not allowed here`, {
          allow: answer.allow.join(', '),
        })
      : oauthError(404, 'invalid_request', 'there is no endpoint at this path');
  }

  /** The answer when the request's slot refuses it (or could not be taken); undefined when it may go on. */
  private async limitedBy(
    rc: OidcRequest,
    path: string,
    slot: Promise<Slot>,
  ): Promise<OidcAnswer | undefined> {
    let limited: Slot;
    try {
      limited = await slot;
    } catch (err) {
      return this.failed(path, err);
    }
    return limited.blocked ? this.refuseLimited(rc, path, limited) : undefined;
  }

  /** A request a limit refused: nothing it held is written; counted, not audited one row each (RL1). */
  private refuseLimited(rc: OidcRequest, path: string, slot: Slot): OidcAnswer {
    this.store.discardHeld();
    this.d.noise.count({
      type: 'oidc.request.limited',
      reason: 'rate_limited',
      clientAddress: rc.clientAddress,
      target: 'oidc',
      correlationId: rc.correlationId,
    });
    if (isBrowserRoute(path)) throw new TooManyRequestsError(slot.retryAfterSeconds);
    return oauthError(429, 'temporarily_unavailable', 'too many requests', {
      'retry-after': String(slot.retryAfterSeconds),
    });
  }

  /**
   * A request whose storage failed: nothing it held is written. Browser routes get the error page
   * (503 when storage is unavailable); the others OAuth JSON (`temporarily_unavailable`, 503 with
   * Retry-After; `server_error` otherwise), never an HTML page.
   */
  private failed(path: string, err: unknown): never | OidcAnswer {
    this.store.discardHeld();
    const unavailable = isDependencyFailure(err);
    if (isBrowserRoute(path))
      throw unavailable && !(err instanceof DependencyError) ? new DependencyError('tables', err) : err;
    return unavailable
      ? oauthError(503, 'temporarily_unavailable', 'storage is not available; try again', {
          'retry-after': String(DEPENDENCY_RETRY_AFTER_SECONDS),
        })
      : oauthError(500, 'server_error', 'the request could not be completed');
  }
}
