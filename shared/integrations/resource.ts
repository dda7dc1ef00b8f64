import { VersionedResource } from '../admin/versioned-resource.ts';
import type { AuditLog } from '../audit/log.ts';
import type { Clock } from '../core/clock.ts';
import type { Config } from '../core/config.ts';
import { NotFoundError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import type { EntraClientFactory } from '../entra/msal.ts';
import type { IntegrationSecrets } from '../secrets/owned.ts';
import type { SecretCache } from './cache.ts';
import type { CredentialManager } from './credentials/manager.ts';
import type { AssignmentCounter } from './ports.ts';
import type { Integration } from './schemas.ts';
import type { SignInRows } from './signin-rows.ts';
import type { IntegrationStore, StoredIntegration } from './store.ts';
import { viewIntegration } from './views.ts';

/** Integrations as a versioned admin resource: `admin.integration.<event>` audit events. */
export type IntegrationResource = VersionedResource<StoredIntegration, Integration>;

/** What the operations on integrations work with, built once by the service from its dependencies. */
export interface IntegrationParts {
  store: IntegrationStore;
  vault: IntegrationSecrets;
  /** Client secret values for the sign-in path, per instance. */
  cache: SecretCache;
  creds: CredentialManager;
  /** Rows read for sign-ins, per instance; the store drops a row on every local write. */
  signInRows: SignInRows;
  clock: Clock;
  audit: AuditLog;
  log: Logger;
  config: Pick<Config, 'BROKER_PUBLIC_BASE_URL'>;
  /** Builds the MSAL client for the connection test. */
  entraClientFactory: EntraClientFactory;
  assignmentCounter: AssignmentCounter | undefined;
}

/** The parts with the versioned-resource skeleton over them: what the admin operations take. */
export interface IntegrationOperationDeps extends IntegrationParts {
  resource: IntegrationResource;
}

const ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The row of an id in any case; undefined for an unknown id or one that is no id at all. */
export async function findRow(store: IntegrationStore, id: string): Promise<StoredIntegration | undefined> {
  const normalized = typeof id === 'string' ? id.toLowerCase() : '';
  return ID_PATTERN.test(normalized) ? await store.get(normalized) : undefined;
}

export async function loadIntegration(store: IntegrationStore, id: string): Promise<StoredIntegration> {
  const row = await findRow(store, id);
  if (!row) throw new NotFoundError('No integration with this id.', 'integration_not_found');
  return row;
}

/** The skeleton over the integration rows: 404 `integration_not_found`, writes conditional on the etag read. */
export function integrationResource(parts: IntegrationParts): IntegrationResource {
  const { store, audit, clock } = parts;
  return new VersionedResource({
    kind: 'integration',
    load: (id) => loadIntegration(store, id),
    key: (row) => row.id,
    replace: (next, etag) => store.replace(next, etag),
    view: (row) => viewIntegration(parts, row),
    audit,
    clock,
  });
}

/** A clean-up step: its failure is logged, and the answer of the change it follows stands. */
export async function bestEffort(log: Logger, what: string, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    log.warn(`integration.${what}_failed`, { error: err });
  }
}
