import type { TokenCredential } from '@azure/identity';
import type { KeyClient } from '@azure/keyvault-keys';
import type { SecretClient } from '@azure/keyvault-secrets';
import { AdminAuthenticator, type AdminSessionAuthenticator } from '../admin/auth.ts';
import { ownerKey } from '../admin/caller.ts';
import { AdminTokenService } from '../admin/tokens.ts';
import { ApiService } from '../apis/service.ts';
import { ApplicationService } from '../applications/service.ts';
import { AuditLog } from '../audit/log.ts';
import { AuditNoise } from '../audit/noise.ts';
import { AuditQueryService } from '../audit/query.ts';
import { type Clock, systemClock } from '../core/clock.ts';
import type { Config } from '../core/config.ts';
import { createLogger, type Logger } from '../core/log.ts';
import type { Tracing } from '../core/tracing.ts';
import { type ManagedIdentityExchange, managedIdentityExchange } from '../entra/managed-identity.ts';
import { defaultEntraClientFactory, type EntraClientFactory } from '../entra/msal.ts';
import { IntegrationAssertions } from '../integrations/credentials/assertions.ts';
import { IntegrationService } from '../integrations/service.ts';
import { SlotLimiter } from '../limits/slots.ts';
import { Throttle } from '../limits/throttle.ts';
import { LogoutQueue } from '../oidc/logout-queue.ts';
import { OidcService } from '../oidc/service.ts';
import { HealthService } from '../ops/health.ts';
import { dummyVerify, hashPassword, needsRehash, verifyPassword } from '../passwords/index.ts';
import { ProvisioningService } from '../provisioning/service.ts';
import { createAzureCredential, createSecretClient } from '../secrets/client.ts';
import { createKeyClient, VaultKeys } from '../secrets/keys.ts';
import { SessionKeyService } from '../sessions/keys.ts';
import { SessionService } from '../sessions/service.ts';
import { SessionStore } from '../sessions/store.ts';
import { SettingsService } from '../settings/service.ts';
import { EntraClientCache } from '../signin/entra-clients.ts';
import { IdTokenValidator, remoteSigningKeys, type SigningKeySource } from '../signin/id-token.ts';
import type { PasswordVerifier } from '../signin/ports.ts';
import { SealKeyService } from '../signin/seal-key.ts';
import { SignInService } from '../signin/service.ts';
import { LoginTransactionStore } from '../signin/transactions.ts';
import { createTables, type Tables } from '../storage/tables.ts';
import { settingsChangeGuard } from '../users/lockout.ts';
import { UserService } from '../users/service.ts';
import { UserStore } from '../users/store.ts';
import { CookieAdminAuthenticator } from './admin-session.ts';
import { oidcPages } from './pages/oidc.ts';
import { instanceTracing } from './telemetry.ts';

/**
 * The composition root: every service with its dependencies passed in. Production builds it once
 * per instance from the validated config; tests build it with local stores, a manual clock, a
 * failing Key Vault, and so on.
 */
export interface Services {
  config: Config;
  clock: Clock;
  log: Logger;
  tables: Tables;
  secrets: SecretClient;
  audit: AuditLog;
  /** Anonymous failures and refusals: counted per address and window, one summary event each. */
  auditNoise: AuditNoise;
  adminTokens: AdminTokenService;
  adminAuth: AdminAuthenticator;
  health: HealthService;
  sessions: SessionStore;
  /** Ended broker sessions whose back-channel logouts are owed. */
  logoutQueue: LogoutQueue;
  /** APIs (resource servers) applications get JWT access tokens for. */
  apis: ApiService;
  integrations: IntegrationService;
  /** Apps signing in through the broker as OpenID Provider; `clientForProvider` feeds the OP. */
  applications: ApplicationService;
  settings: SettingsService;
  users: UserService;
  auditQuery: AuditQueryService;
  sessionKeys: SessionKeyService;
  sessionService: SessionService;
  signIn: SignInService;
  entraClients: EntraClientCache;
  /** Shared-store counters: brute-force protection and rate limits (all instances). */
  throttle: Throttle;
  /** Per-address limits by slot rows (sign-in callbacks): exact under bursts, one write per attempt. */
  slots: SlotLimiter;
  /** The key that seals login transactions into their cookie (Key Vault). */
  sealKeys: SealKeyService;
  /** The broker as OpenID Provider (provider built lazily on the first /api/oidc request). */
  oidc: OidcService;
  /** Stops in-process timers and writes what is only counted in memory (see `shutdownServices`). */
  shutdown(): Promise<void>;
  /** Provisioning from Entra: settings per integration and the SCIM service. */
  provisioning: ProvisioningService;
  /** Client assertions of integrations without a client secret (what they signed is counted). */
  assertions: IntegrationAssertions;
  /** Key Vault keys of certificate credentials. */
  vaultKeys: VaultKeys;
  /** Spans of the sign-in legs (no-op unless telemetry is on: shared/web/telemetry.ts). */
  tracing: Tracing;
}

export interface ServiceOverrides {
  clock?: Clock;
  log?: Logger;
  credential?: TokenCredential;
  tables?: Tables;
  secrets?: SecretClient;
  adminSessions?: AdminSessionAuthenticator;
  /** MSAL client factory for integration connection tests (default: the configured authorities). */
  entraClientFactory?: EntraClientFactory;
  /** Where Entra's ID token signing keys come from (default: each tenant's jwks_uri). */
  signingKeys?: SigningKeySource;
  /** The shared-store counters (the benchmark raises the per-address rate limits with its own). */
  throttle?: Throttle;
  /** Password hashing for sign-in (tests count the verifications). */
  passwords?: PasswordVerifier;
  /** The slot limiter of the callback limit (the benchmark raises it with its own). */
  slots?: SlotLimiter;
  /** Key Vault's Keys API (tests count or break its calls). */
  keys?: KeyClient;
  /** The managed identity's token for api://AzureADTokenExchange (default: @azure/identity). */
  managedIdentity?: ManagedIdentityExchange;
  tracing?: Tracing;
}

export function createServices(config: Config, o: ServiceOverrides = {}): Services {
  const clock = o.clock ?? systemClock;
  const tracing = o.tracing ?? instanceTracing();
  const log = o.log ?? createLogger({ app: 'broker' });
  const credential = o.credential ?? createAzureCredential(config);
  const tables = o.tables ?? createTables(config, credential);
  const secrets = o.secrets ?? createSecretClient(config, credential);
  const audit = new AuditLog(tables.auditEvents, clock, log);
  const auditNoise = new AuditNoise(tables.auditEvents, clock, log);
  const adminTokens = new AdminTokenService(tables.adminTokens, clock, audit);
  const health = new HealthService(tables.settings, secrets, clock, log);
  // Every ended session queues the back-channel logouts it owes (drained by the OP after answering).
  const logoutQueue = new LogoutQueue(tables.oidcStore, clock);
  const sessions = new SessionStore(tables.sessions, clock, (username, sessionId) =>
    logoutQueue.sessionEnded(username, sessionId),
  );
  // Below both services: integrations count their assigned users here, settings guard the last admin.
  const userStore = new UserStore(tables.users, tables.userBindings);
  const vaultKeys = new VaultKeys(async () => o.keys ?? createKeyClient(config, credential), log);
  const managedIdentity = o.managedIdentity ?? managedIdentityExchange(config);
  // Federated assertions are signed with the OP's own key (built below; used only at token requests).
  const assertions = new IntegrationAssertions({
    op: {
      issuer: `${new URL(config.BROKER_PUBLIC_BASE_URL).origin}/api/oidc`,
      assertionSigningKey: () => oidc.assertionSigningKey(),
    },
    managedIdentity,
    vault: vaultKeys,
    now: () => clock.now(),
  });
  const integrations = new IntegrationService({
    table: tables.integrations,
    secrets,
    clock,
    audit,
    config,
    entraClientFactory: o.entraClientFactory ?? defaultEntraClientFactory(config),
    log,
    assignmentCounter: userStore,
    credentials: { assertions, keys: vaultKeys, managedIdentity },
  });
  health.addWarningSource(() => integrations.expiryWarnings());
  const applications = new ApplicationService({
    table: tables.applications,
    secrets,
    clock,
    audit,
    config,
    log,
  });
  const settings = new SettingsService(
    tables.settings,
    audit,
    clock,
    settingsChangeGuard({ store: userStore, integrations }),
  );
  const users = new UserService({
    store: userStore,
    integrations,
    settings,
    sessions,
    audit,
    clock,
    adminTokens: {
      revokeOwnedBy: (username, userCreatedAt) =>
        adminTokens.revokeOwnedBy(ownerKey(username, userCreatedAt)),
    },
  });
  const auditQuery = new AuditQueryService(tables.auditEvents, () => clock.now());
  const entraClientFactory = o.entraClientFactory ?? defaultEntraClientFactory(config);
  const sessionKeys = new SessionKeyService(secrets, clock, log);
  const sessionService = new SessionService(sessionKeys, sessions, clock, config.BROKER_PUBLIC_BASE_URL);
  const entraClients = new EntraClientCache(entraClientFactory);
  const throttle = o.throttle ?? new Throttle(tables.throttle, clock);
  const slots = o.slots ?? new SlotLimiter(tables.throttle, clock);
  const sealKeys = new SealKeyService(secrets, clock, log);
  const provisioning = new ProvisioningService({
    table: tables.provisioning,
    users,
    integrations,
    throttle,
    audit,
    clock,
    publicBaseUrl: config.BROKER_PUBLIC_BASE_URL,
  });
  const signIn = new SignInService({
    jit: provisioning.jit,
    config,
    clock,
    log,
    audit,
    noise: auditNoise,
    users,
    // The leg's span names the integration the sign-in uses (the service itself knows no spans).
    integrations: {
      getForSignIn: (id, opts) => {
        tracing.annotate({ 'broker.integration.id': id });
        return integrations.getForSignIn(id, opts);
      },
    },
    settings,
    passwords: o.passwords ?? {
      verify: verifyPassword,
      dummyVerify: async (pw) => {
        await dummyVerify(pw);
      },
      needsRehash,
      hash: hashPassword,
    },
    sessions: sessionService,
    transactions: new LoginTransactionStore(tables.loginTransactions, clock, sealKeys),
    throttle,
    slots,
    idTokens: new IdTokenValidator(o.signingKeys ?? remoteSigningKeys(config), clock, config),
    entraClients,
  });
  const adminAuth = new AdminAuthenticator(
    adminTokens,
    o.adminSessions ?? new CookieAdminAuthenticator(sessionService, users, signIn.brokerOrigin),
    async (owner) => {
      const [username = '', createdAt] = owner.split('|');
      const u = await users.getByUsername(username);
      return !!u && u.createdAt === createdAt && !u.disabled && u.roles.includes('admin');
    },
  );
  const apis = new ApiService({ table: tables.applications, clock, audit });
  const oidc = new OidcService({
    config,
    clock,
    log,
    audit,
    table: tables.oidcStore,
    secrets,
    users,
    applications,
    sessionService,
    logoutQueue,
    apis,
    pages: oidcPages(config.BROKER_PRODUCT_NAME),
    slots,
    noise: auditNoise,
  });
  return {
    shutdown: async () => {
      oidc.logouts.stop();
      await auditNoise.flush();
    },
    provisioning,
    oidc,
    assertions,
    vaultKeys,
    logoutQueue,
    apis,
    tracing,
    config,
    clock,
    log,
    tables,
    secrets,
    audit,
    auditNoise,
    adminTokens,
    adminAuth,
    health,
    sessions,
    integrations,
    applications,
    settings,
    users,
    auditQuery,
    sessionKeys,
    sessionService,
    signIn,
    entraClients,
    throttle,
    slots,
    sealKeys,
  };
}
