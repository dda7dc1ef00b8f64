import { AzureNamedKeyCredential, TableClient } from '@azure/data-tables';
import type { TokenCredential } from '@azure/identity';
import type { Config } from '../core/config.ts';
import {
  DEPENDENCY_RETRY_OPTIONS,
  dependencyPolicy,
  dependencyTimeoutMs,
  describeTableRequest,
} from '../core/dependency.ts';
import { DependencyError, PreconditionFailedError, sdkStatus } from '../core/errors.ts';

/** Every table the broker uses. */
export const TABLE_NAMES = {
  integrations: 'Integrations',
  users: 'Users',
  userBindings: 'UserBindings',
  settings: 'Settings',
  loginTransactions: 'LoginTransactions',
  sessions: 'Sessions',
  throttle: 'Throttle',
  auditEvents: 'AuditEvents',
  adminTokens: 'AdminTokens',
  applications: 'Applications',
  oidcStore: 'OidcStore',
  provisioning: 'Provisioning',
} as const;

export type TableKey = keyof typeof TABLE_NAMES;
export type Tables = Record<TableKey, TableClient>;

/** Azurite's published development account (not a secret: it is in Microsoft's docs). */
const AZURITE_ACCOUNT = 'devstoreaccount1';
const AZURITE_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export function createTables(
  config: Pick<Config, 'BROKER_TABLE_ENDPOINT' | 'BROKER_DEV_CREDENTIALS' | 'BROKER_DEPENDENCY_TIMEOUT_MS'>,
  credential: TokenCredential,
  opts: { prefix?: string } = {},
): Tables {
  // Storage trouble answers 503 within ~2 s instead of 500 after 2–5 s of retries.
  const options = {
    retryOptions: DEPENDENCY_RETRY_OPTIONS,
    additionalPolicies: [
      {
        policy: dependencyPolicy('tables', describeTableRequest, dependencyTimeoutMs(config)),
        position: 'perCall' as const,
      },
    ],
  };
  const make = (name: string) =>
    config.BROKER_DEV_CREDENTIALS
      ? new TableClient(
          config.BROKER_TABLE_ENDPOINT,
          name,
          new AzureNamedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY),
          { allowInsecureConnection: true, ...options },
        )
      : new TableClient(config.BROKER_TABLE_ENDPOINT, name, credential, options);
  const prefix = opts.prefix ?? '';
  return Object.fromEntries(
    Object.entries(TABLE_NAMES).map(([key, name]) => [key, make(prefix + name)]),
  ) as Tables;
}

/** Creates every missing table (idempotent). Run by `npm start`, the tests and bootstrap-admin. */
export async function ensureTables(tables: Tables): Promise<void> {
  // At start-up Azurite may still be warming up: a few tries before giving up.
  for (let attempt = 1; ; attempt++) {
    try {
      await Promise.all(Object.values(tables).map((t) => t.createTable()));
      return;
    } catch (err) {
      if (!(err instanceof DependencyError) || attempt >= 5) throw err;
      await new Promise((r) => setTimeout(r, 500 * attempt));
    }
  }
}

export function isNotFound(err: unknown): boolean {
  return sdkStatus(err) === 404;
}

export function isConflict(err: unknown): boolean {
  return sdkStatus(err) === 409;
}

export function isPreconditionFailed(err: unknown): boolean {
  return sdkStatus(err) === 412;
}

/**
 * Whether Table Storage can hold `key` as a PartitionKey or RowKey: at most 1 KiB (512 UTF-16 code units), none of `/ \ # ?`
 * and no control characters. A key from a request that fails this names no row: reading it must be
 * "not found", not a storage error (which would answer 503).
 */
export function isStorableKey(key: string): boolean {
  return key.length <= 512 && !UNSTORABLE_KEY.test(key);
}
/** A character Table keys refuse (Cc: U+0000–U+001F, U+007F–U+009F), or half of a surrogate pair (Cs). */
const UNSTORABLE_KEY = /[/\\#?\p{Cc}\p{Cs}]/u;

/** Point read that answers undefined for a missing entity (and for a key no entity can have). */
export async function getEntityOrUndefined<T extends object>(
  table: TableClient,
  partitionKey: string,
  rowKey: string,
): Promise<(T & { partitionKey: string; rowKey: string; etag: string; timestamp?: string }) | undefined> {
  if (!isStorableKey(partitionKey) || !isStorableKey(rowKey)) return undefined;
  try {
    return (await table.getEntity<T>(partitionKey, rowKey)) as T & {
      partitionKey: string;
      rowKey: string;
      etag: string;
      timestamp?: string;
    };
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** Deletes an entity whatever its etag; one that is gone already is fine. */
export async function deleteEntityIfExists(
  table: TableClient,
  partitionKey: string,
  rowKey: string,
): Promise<void> {
  try {
    await table.deleteEntity(partitionKey, rowKey);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}

/**
 * Deletes an index row only while it still belongs to its owner (`owns` says so), conditional on the
 * etag it read: a row another writer claimed meanwhile is left alone.
 */
export async function deleteIfOwned<T extends object>(
  table: TableClient,
  partitionKey: string,
  rowKey: string,
  owns: (row: T) => boolean,
): Promise<void> {
  const row = await getEntityOrUndefined<T>(table, partitionKey, rowKey);
  if (!row || !owns(row)) return;
  try {
    await table.deleteEntity(partitionKey, rowKey, { etag: row.etag });
  } catch (err) {
    if (!isNotFound(err) && !isPreconditionFailed(err)) throw err;
  }
}

/**
 * Replaces an entity only while it still has `etag` (an admin's If-Match); a row changed or deleted
 * meanwhile is a 412 (PreconditionFailedError). Answers the new etag.
 */
export async function replaceIfMatch<T extends object>(
  table: TableClient,
  entity: T & { partitionKey: string; rowKey: string },
  etag: string,
): Promise<string> {
  try {
    return (await table.updateEntity(entity, 'Replace', { etag })).etag ?? '';
  } catch (err) {
    if (isPreconditionFailed(err) || isNotFound(err)) throw new PreconditionFailedError();
    throw err;
  }
}

/** Deletes an entity only while it still has `etag`; a row changed or gone meanwhile is a 412. */
export async function deleteIfMatch(
  table: TableClient,
  partitionKey: string,
  rowKey: string,
  etag: string,
): Promise<void> {
  try {
    await table.deleteEntity(partitionKey, rowKey, { etag });
  } catch (err) {
    if (isPreconditionFailed(err) || isNotFound(err)) throw new PreconditionFailedError();
    throw err;
  }
}

/** Escapes a value for an OData filter string literal. */
export function odataString(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}
