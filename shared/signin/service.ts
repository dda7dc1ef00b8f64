/**
 * The browser sign-in flows behind one door for the web layer: the username step (→ Entra, password
 * step or choice), the IdP-first start, the Entra callback, password sign-in, sign-out and the audit
 * of failures. Each flow lives in its own module; this class only builds them from its dependencies.
 */
import type { AuditLog } from '../audit/log.ts';
import type { AuditNoise } from '../audit/noise.ts';
import type { Clock } from '../core/clock.ts';
import type { Config } from '../core/config.ts';
import type { Logger } from '../core/log.ts';
import { PasswordLimits } from '../limits/password-limits.ts';
import type { SlotLimiter } from '../limits/slots.ts';
import type { Throttle } from '../limits/throttle.ts';
import type { CookieToSet, SessionService } from '../sessions/service.ts';
import { AccountMatcher } from './account-matching.ts';
import { type SignedIn, SignInCompletion } from './completion.ts';
import { type CallbackQuery, EntraCallback } from './entra-callback.ts';
import type { EntraClientCache } from './entra-clients.ts';
import { type EntraRedirect, EntraStart } from './entra-start.ts';
import { SignInError } from './errors.ts';
import { FailureAudit } from './failure-audit.ts';
import type { IdTokenValidator } from './id-token.ts';
import type { RequestInfo } from './input.ts';
import { IntegrationAccess } from './integration-access.ts';
import { PasswordSignIn } from './password-signin.ts';
import type {
  IntegrationSource,
  JustInTime,
  PasswordVerifier,
  SettingsReader,
  SignInSettings,
  UserDirectory,
} from './ports.ts';
import { CodeRedemption } from './redemption.ts';
import { DEFAULT_LANDING, safeReturnUrl } from './return-url.ts';
import { SignOut } from './sign-out.ts';
import { TenantIds, type TenantResolver } from './tenant-ids.ts';
import type { LoginTransactionStore } from './transactions.ts';
import { type LoginStepResult, UsernameStep } from './username-step.ts';

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
  /** Anonymous failures and refusals: counted per address and window, not one audit row each (RL1). */
  noise: Pick<AuditNoise, 'count'>;
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
  resolveTenantId?: TenantResolver;
  /** Just-in-time creation of unknown users, for integrations that turn it on. */
  jit?: JustInTime;
}

export class SignInService {
  readonly brokerOrigin: string;
  private readonly usernameSteps: UsernameStep;
  private readonly entraStart: EntraStart;
  private readonly entraCallback: EntraCallback;
  private readonly passwordSignIns: PasswordSignIn;
  private readonly failures: FailureAudit;
  private readonly signOuts: SignOut;

  constructor(private readonly d: SignInDeps) {
    this.brokerOrigin = new URL(d.config.BROKER_PUBLIC_BASE_URL).origin;
    const integrations = new IntegrationAccess(d.integrations, d.log);
    const completion = new SignInCompletion({
      clock: d.clock,
      audit: d.audit,
      users: d.users,
      sessions: d.sessions,
      brokerOrigin: this.brokerOrigin,
    });
    this.entraStart = new EntraStart({
      config: d.config,
      slots: d.slots,
      transactions: d.transactions,
      integrations,
    });
    this.usernameSteps = new UsernameStep({
      users: d.users,
      settings: d.settings,
      integrations,
      entra: this.entraStart,
    });
    this.entraCallback = new EntraCallback({
      users: d.users,
      settings: d.settings,
      slots: d.slots,
      transactions: d.transactions,
      integrations,
      redemption: new CodeRedemption({
        config: d.config,
        log: d.log,
        entraClients: d.entraClients,
        integrations,
      }),
      idTokens: d.idTokens,
      tenantIds: new TenantIds(d.config, d.resolveTenantId),
      accounts: new AccountMatcher(d.users, d.jit),
      completion,
    });
    this.passwordSignIns = new PasswordSignIn({
      log: d.log,
      audit: d.audit,
      noise: d.noise,
      users: d.users,
      settings: d.settings,
      passwords: d.passwords,
      limits: new PasswordLimits(d.throttle, d.slots),
      completion,
    });
    this.failures = new FailureAudit(d.audit, d.noise, d.log);
    this.signOuts = new SignOut(d.sessions, d.audit);
  }

  async settings(): Promise<SignInSettings> {
    return this.d.settings.get();
  }

  /** A return URL that passed the allow-list, or null (docs/security.md RU1/RU2). */
  async returnUrl(raw: string | null | undefined): Promise<string | null> {
    if (!raw) return null;
    const settings = await this.d.settings.get();
    return safeReturnUrl(raw, settings.allowedReturnOrigins, this.brokerOrigin) ?? null;
  }

  /** Where to go after sign-in / sign-out when no acceptable return URL was given. */
  get defaultLanding(): string {
    return DEFAULT_LANDING;
  }

  usernameStep(
    usernameRaw: string,
    returnTo: string | null,
    method: 'entra' | 'password' | undefined,
    info: RequestInfo,
    opts: { reauthenticate?: boolean } = {},
  ): Promise<LoginStepResult> {
    return this.audited('entra', info, () =>
      this.usernameSteps.next(usernameRaw, returnTo, method, info, opts),
    );
  }

  /** IdP-first start: `GET /api/auth/login/{integrationId}`. */
  idpFirstStart(integrationId: string, returnTo: string | null, info: RequestInfo): Promise<EntraRedirect> {
    return this.audited('entra', info, () => this.entraStart.idpFirst(integrationId, returnTo, info));
  }

  /** `query` undefined: the callback's parameters did not parse (refused, and audited, as such). */
  callback(
    query: CallbackQuery | undefined,
    sealedTransaction: (state: string) => string | undefined,
    info: RequestInfo,
  ): Promise<SignedIn> {
    return this.audited('entra', info, async () => {
      if (!query) throw new SignInError('invalid_callback', 400, 'invalid_callback_query');
      return this.entraCallback.handle(query, sealedTransaction, info);
    });
  }

  passwordSignIn(
    usernameRaw: string,
    password: string,
    returnTo: string | null,
    info: RequestInfo,
  ): Promise<SignedIn> {
    return this.audited('password', info, () =>
      this.passwordSignIns.signIn(usernameRaw, password, returnTo, info),
    );
  }

  /** `sessionToken`: the session cookie's value, if the browser sent one. Returns the cookie that ends it. */
  signOut(sessionToken: string | undefined, info: RequestInfo): Promise<CookieToSet> {
    return this.signOuts.signOut(sessionToken, info);
  }

  /**
   * Runs a sign-in step; should it fail, whatever the error, the failure is recorded (docs/security.md
   * AU1) before the error goes on to choose the page.
   */
  private async audited<T>(
    method: 'entra' | 'password',
    info: RequestInfo,
    run: () => Promise<T>,
  ): Promise<T> {
    try {
      return await run();
    } catch (err) {
      await this.failures.record(err, info, method);
      throw err;
    }
  }
}
