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
import type { Clock } from '../core/clock.ts';
import type { Config } from '../core/config.ts';
import type { Logger } from '../core/log.ts';
import type { SessionService } from '../sessions/service.ts';
import { Accounts } from './accounts.ts';
import { brokerSession, brokerSessionToken, endBrokerSession } from './broker-session.ts';
import { providerHooks } from './hooks.ts';
import { KEY_REFRESH_MS, OidcKeys } from './keys.ts';
import { LoginStep } from './login-step.ts';
import { LogoutDelivery } from './logout-delivery.ts';
import type { LogoutQueue } from './logout-queue.ts';
import { exchange, type NodeTarget } from './node-exchange.ts';
import type { OidcPages } from './pages.ts';
import type { ApiSource, AuditRecorder, ProviderClientSource, UserSource } from './ports.ts';
import { postedAuthorizationAsGet } from './post-authorization.ts';
import { prefetchResume, prefetchSessionUser, prefetchTokenGrant } from './prefetch.ts';
import { createProvider, INTERACTION_PATH, OIDC_MOUNT, type ProviderModule } from './provider.ts';
import { attachState, type OidcAnswer, type OidcRequest, type RequestState } from './request.ts';
import { accessTokenClaims, resourceServer } from './resources.ts';
import { interactionPolicy } from './sso.ts';
import { OidcTableStore, withRequestMemo } from './store.ts';

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
}

type BuiltProvider = ProviderModule & {
  handler: ReturnType<ProviderModule['provider']['callback']>;
  /** The private signing keys the provider was built with (current first). */
  signingKeys: JWK[];
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
  private state?: { built: Promise<BuiltProvider>; versions?: string; checkedAt: number };
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
    this.accounts = new Accounts(d.users, this.store, d.sessionService);
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

  /** The provider of this instance (built on first use; rebuilt when another instance rotated the keys). */
  async provider(): Promise<BuiltProvider> {
    const now = this.d.clock.now();
    const s = this.state;
    if (s && now - s.checkedAt > KEY_REFRESH_MS) {
      s.checkedAt = now;
      const latest = await this.keys.currentVersions().catch(() => undefined);
      if (latest && s.versions && latest !== s.versions) this.state = undefined;
    }
    if (!this.state) {
      const state: NonNullable<OidcService['state']> = { checkedAt: now, built: Promise.resolve() as never };
      state.built = (async () => {
        const material = await this.keys.load();
        state.versions = material.versions;
        const hooks = providerHooks({
          applications: this.d.applications,
          accounts: this.accounts,
          pages: this.d.pages,
          record: this.record,
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
        return { ...mod, handler: mod.provider.callback(), signingKeys: material.jwks.keys };
      })();
      state.built.catch(() => {
        if (this.state === state) this.state = undefined;
      });
      this.state = state;
    }
    return this.state.built;
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

  private async serve(rc: OidcRequest, path: string): Promise<OidcAnswer> {
    const m = new RegExp(`^${INTERACTION_PATH}/([^/]+)$`).exec(path);
    if (m) return this.loginStep.run(rc, m[1] ?? '');
    const { handler } = await this.provider();
    prefetchResume(this.store, path);
    prefetchSessionUser(this.accounts, rc.headers, path);
    const received = await rc.body();
    const posted = postedAuthorizationAsGet(rc, path, received);
    const request = posted ?? rc;
    const body = posted ? Buffer.alloc(0) : received;
    prefetchTokenGrant(this.store, request, path, body, this.accounts, this.d.sessionService);
    const state: RequestState = { rc: request, pending: [] };
    // An authorization may be answered from the broker session (sso.ts): read it meanwhile.
    if (path === 'auth' && request.method === 'GET' && brokerSessionToken(request.headers)) {
      state.brokerSession = brokerSession(this.d.sessionService, request.headers);
      state.brokerSession.catch(() => {}); // awaited by the policy, when the request gets that far
    }
    const answer = await exchange(handler, request, body, this.target, (req) => attachState(req, state));
    // The audit events the request recorded and its held OidcStore writes, together.
    await Promise.all([Promise.allSettled(state.pending), this.store.applyHeld()]);
    if (state.cookies?.length) answer.cookies = [...(answer.cookies ?? []), ...state.cookies];
    // RP-initiated logout ended the OP session: the broker session ends too.
    if (state.endSession)
      answer.cookies = [...(answer.cookies ?? []), await endBrokerSession(this.d.sessionService, rc.headers)];
    return answer;
  }
}
