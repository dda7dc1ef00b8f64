import type { TableClient } from '@azure/data-tables';
import type { SecretClient } from '@azure/keyvault-secrets';
import type { AuditLog } from '../audit/log.ts';
import type { Clock } from '../core/clock.ts';
import type { Config } from '../core/config.ts';
import type { Logger } from '../core/log.ts';
import type { EntraClientFactory } from '../entra/msal.ts';
import type { CredentialSources } from './credentials/integration.ts';

/** Counts the users whose verify type is an integration (the users store plugs in here). */
export interface AssignmentCounter {
  countUsersAssignedTo(integrationId: string): Promise<number>;
}

export interface IntegrationServiceDeps {
  table: TableClient;
  secrets: SecretClient;
  clock: Clock;
  audit: AuditLog;
  config: Pick<Config, 'BROKER_PUBLIC_BASE_URL'>;
  /** Builds the MSAL client for the connection test (tests may swap it). */
  entraClientFactory: EntraClientFactory;
  log: Logger;
  assignmentCounter?: AssignmentCounter;
  /** Where assertions, certificate keys and the managed identity come from (default: client secrets only). */
  credentials?: CredentialSources;
}
