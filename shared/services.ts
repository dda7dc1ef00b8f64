import type { TokenCredential } from '@azure/identity';
import type { SecretClient } from '@azure/keyvault-secrets';
import { AdminAuthenticator, type AdminSessionAuthenticator } from './admin/auth.ts';
import { AdminTokenService } from './admin/tokens.ts';
import { AuditLog } from './audit.ts';
import { type Clock, systemClock } from './clock.ts';
import type { Config } from './config.ts';
import { HealthService } from './health.ts';
import { createLogger, type Logger } from './log.ts';
import { createAzureCredential, createSecretClient } from './secrets/client.ts';
import { SessionStore } from './sessions/store.ts';
import { createTables, type Tables } from './storage/tables.ts';

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
  adminTokens: AdminTokenService;
  adminAuth: AdminAuthenticator;
  health: HealthService;
  sessions: SessionStore;
}

export interface ServiceOverrides {
  clock?: Clock;
  log?: Logger;
  credential?: TokenCredential;
  tables?: Tables;
  secrets?: SecretClient;
  adminSessions?: AdminSessionAuthenticator;
}

export function createServices(config: Config, o: ServiceOverrides = {}): Services {
  const clock = o.clock ?? systemClock;
  const log = o.log ?? createLogger({ app: 'broker' });
  const credential = o.credential ?? createAzureCredential(config);
  const tables = o.tables ?? createTables(config, credential);
  const secrets = o.secrets ?? createSecretClient(config, credential);
  const audit = new AuditLog(tables.auditEvents, clock, log);
  const adminTokens = new AdminTokenService(tables.adminTokens, clock);
  const adminAuth = new AdminAuthenticator(adminTokens, o.adminSessions);
  const health = new HealthService(tables.settings, secrets, clock, log);
  const sessions = new SessionStore(tables.sessions, clock);
  return { config, clock, log, tables, secrets, audit, adminTokens, adminAuth, health, sessions };
}
