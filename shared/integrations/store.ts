/**
 * Integrations in Table Storage. One row per integration (PartitionKey `integration`, RowKey = id)
 * and one title index row per integration (PartitionKey `title`, RowKey = hash of the lowercased
 * title) in the same table: the index row is inserted with createEntity, so two admins creating
 * "CRM" and "crm" at once cannot both succeed. Rows never hold the client secret, only its
 * Key Vault version and dates.
 */
import { createHash } from 'node:crypto';
import type { TableClient } from '@azure/data-tables';
import { ConflictError } from '../core/errors.ts';
import { nameKey } from '../core/names.ts';
import {
  deleteIfMatch,
  deleteIfOwned,
  getEntityOrUndefined,
  isConflict,
  isNotFound,
  isPreconditionFailed,
  odataString,
  replaceIfMatch,
} from '../storage/tables.ts';
import type { StoredCredential } from './credentials/kinds.ts';
import type { IntegrationCloud, IntegrationStatus, IntegrationTestResult, MatchClaim } from './schemas.ts';

export const INTEGRATION_PARTITION = 'integration';
export const TITLE_PARTITION = 'title';
/** An index row whose integration is missing is only taken over after this long (a create in flight). */
const STALE_INDEX_MS = 60_000;

/** What the service works with: the row's fields, decoded. */
export interface IntegrationRecord {
  id: string;
  kind: 'azure-ad';
  title: string;
  titleKey: string;
  applicationId: string;
  tenant: string;
  allowedTenants: string[];
  cloud: IntegrationCloud;
  matchClaim: MatchClaim;
  status: IntegrationStatus;
  secretName: string;
  secretVersion: string;
  secretExpiresOn: string | null;
  secretUpdatedOn: string;
  lastTest: IntegrationTestResult | null;
  createdAt: string;
  updatedAt: string;
  /** Set (epoch ms) while a delete is checking that no user is assigned; see IntegrationService.delete. */
  deletingSince?: number;
  /**
   * The current credential when it is not a client secret (a client secret lives in the `secret*`
   * fields, as it always has, so rows written before credential kinds read unchanged).
   */
  credential?: StoredCredential;
  /** A second credential being set up; made current by a passing test (no sign-in lost meanwhile). */
  pendingCredential?: StoredCredential;
  /** Key Vault keys of certificates no longer in use, removed with the integration. */
  retiredKeys?: string[];
}

export type StoredIntegration = IntegrationRecord & { etag: string };

interface IntegrationEntity {
  kind: string;
  title: string;
  titleKey: string;
  applicationId: string;
  tenant: string;
  allowedTenants: string;
  cloud: string;
  matchClaim: string;
  status: string;
  secretName: string;
  secretVersion: string;
  secretExpiresOn: string;
  secretUpdatedOn: string;
  lastTest: string;
  createdAt: string;
  updatedAt: string;
  deletingSince?: number;
  credential?: string;
  pendingCredential?: string;
  retiredKeys?: string;
}

interface TitleIndexEntity {
  integrationId: string;
  title: string;
  createdAt: string;
}

/**
 * Key of a title, safe as a RowKey (no `/ \ # ?` or control characters): a hash of its comparison
 * form (`nameKey`: NFKC + case fold), so look-alike titles get the same key.
 */
export function titleKey(title: string): string {
  return createHash('sha256').update(nameKey(title), 'utf8').digest('hex');
}

function toEntity(r: IntegrationRecord): IntegrationEntity & { partitionKey: string; rowKey: string } {
  return {
    partitionKey: INTEGRATION_PARTITION,
    rowKey: r.id,
    kind: r.kind,
    title: r.title,
    titleKey: r.titleKey,
    applicationId: r.applicationId,
    tenant: r.tenant,
    allowedTenants: JSON.stringify(r.allowedTenants),
    cloud: r.cloud,
    matchClaim: r.matchClaim,
    status: r.status,
    secretName: r.secretName,
    secretVersion: r.secretVersion,
    secretExpiresOn: r.secretExpiresOn ?? '',
    secretUpdatedOn: r.secretUpdatedOn,
    lastTest: r.lastTest ? JSON.stringify(r.lastTest) : '',
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    deletingSince: r.deletingSince ?? 0,
    credential: r.credential ? JSON.stringify(r.credential) : '',
    pendingCredential: r.pendingCredential ? JSON.stringify(r.pendingCredential) : '',
    retiredKeys: r.retiredKeys?.length ? JSON.stringify(r.retiredKeys) : '',
  };
}

function parseJson<T>(text: string | undefined, fallback: T): T {
  if (!text) return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

function fromEntity(e: IntegrationEntity & { rowKey: string; etag: string }): StoredIntegration {
  return {
    id: e.rowKey,
    kind: 'azure-ad',
    title: e.title,
    titleKey: e.titleKey,
    applicationId: e.applicationId,
    tenant: e.tenant,
    allowedTenants: parseJson<string[]>(e.allowedTenants, []),
    cloud: e.cloud as IntegrationCloud,
    matchClaim: e.matchClaim as MatchClaim,
    status: e.status === 'active' ? 'active' : 'inactive',
    secretName: e.secretName,
    secretVersion: e.secretVersion,
    secretExpiresOn: e.secretExpiresOn || null,
    secretUpdatedOn: e.secretUpdatedOn,
    lastTest: parseJson<IntegrationTestResult | null>(e.lastTest, null),
    createdAt: e.createdAt,
    updatedAt: e.updatedAt,
    ...(e.deletingSince ? { deletingSince: e.deletingSince } : {}),
    ...(e.credential ? { credential: parseJson<StoredCredential>(e.credential, undefined as never) } : {}),
    ...(e.pendingCredential
      ? { pendingCredential: parseJson<StoredCredential>(e.pendingCredential, undefined as never) }
      : {}),
    ...(e.retiredKeys ? { retiredKeys: parseJson<string[]>(e.retiredKeys, []) } : {}),
    etag: e.etag,
  };
}

export function duplicateTitle(): ConflictError {
  return new ConflictError(
    'Another integration already has this title (titles ignore case).',
    'duplicate_title',
    {
      errors: [{ field: 'title', message: 'is already used by another integration' }],
    },
  );
}

export class IntegrationStore {
  constructor(
    readonly table: TableClient,
    private readonly now: () => number,
    /** Told of every write to an integration row (per-instance caches drop their copy). */
    private readonly changed: (id: string) => void = () => {},
  ) {}

  /** One point read. */
  async get(id: string): Promise<StoredIntegration | undefined> {
    const e = await getEntityOrUndefined<IntegrationEntity>(this.table, INTEGRATION_PARTITION, id);
    return e ? fromEntity(e) : undefined;
  }

  async list(): Promise<StoredIntegration[]> {
    return this.query(`PartitionKey eq '${INTEGRATION_PARTITION}'`);
  }

  /** Integrations using an application id (admin path only: a filtered partition query). */
  async withApplicationId(applicationId: string): Promise<StoredIntegration[]> {
    return this.query(
      `PartitionKey eq '${INTEGRATION_PARTITION}' and applicationId eq ${odataString(applicationId)}`,
    );
  }

  private async query(filter: string): Promise<StoredIntegration[]> {
    const out: StoredIntegration[] = [];
    const rows = this.table.listEntities<IntegrationEntity>({ queryOptions: { filter } });
    for await (const e of rows)
      out.push(fromEntity(e as IntegrationEntity & { rowKey: string; etag: string }));
    return out;
  }

  /** The integration id a title (any case) belongs to, if the index row is current. */
  async idForTitle(title: string): Promise<string | undefined> {
    const key = titleKey(title);
    const index = await getEntityOrUndefined<TitleIndexEntity>(this.table, TITLE_PARTITION, key);
    if (!index) return undefined;
    const owner = await this.get(index.integrationId);
    return owner && owner.titleKey === key ? owner.id : undefined;
  }

  /**
   * Claims a title for an integration. 409 `duplicate_title` when another integration holds it. An
   * index row left behind by a failed rename or delete (its integration no longer has that title)
   * is taken over.
   */
  async claimTitle(key: string, title: string, integrationId: string): Promise<void> {
    const row = {
      partitionKey: TITLE_PARTITION,
      rowKey: key,
      integrationId,
      title,
      createdAt: new Date(this.now()).toISOString(),
    };
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await this.table.createEntity(row);
        return;
      } catch (err) {
        if (!isConflict(err)) throw err;
      }
      const existing = await getEntityOrUndefined<TitleIndexEntity>(this.table, TITLE_PARTITION, key);
      if (!existing) continue;
      if (existing.integrationId === integrationId) return;
      const owner = await this.get(existing.integrationId);
      const inFlight = !owner && this.now() - Date.parse(existing.createdAt) < STALE_INDEX_MS;
      if ((owner && owner.titleKey === key) || inFlight) throw duplicateTitle();
      try {
        await this.table.updateEntity(row, 'Replace', { etag: existing.etag });
        return;
      } catch (err) {
        if (!isPreconditionFailed(err) && !isNotFound(err)) throw err;
      }
    }
    throw duplicateTitle();
  }

  /** Removes a title index row if it still belongs to the integration (best effort callers catch). */
  async releaseTitle(key: string, integrationId: string): Promise<void> {
    await deleteIfOwned<TitleIndexEntity>(
      this.table,
      TITLE_PARTITION,
      key,
      (r) => r.integrationId === integrationId,
    );
  }

  /** Inserts the row; returns its etag. */
  async insert(record: IntegrationRecord): Promise<StoredIntegration> {
    const res = await this.table.createEntity(toEntity(record));
    this.changed(record.id);
    return { ...record, etag: res.etag ?? '' };
  }

  /** Replaces the row only if it still has `etag` (412 otherwise); returns the new etag. */
  async replace(record: IntegrationRecord, etag: string): Promise<StoredIntegration> {
    // Dropped before and after the write: a read racing with it cannot keep the old row.
    this.changed(record.id);
    try {
      return { ...record, etag: await replaceIfMatch(this.table, toEntity(record), etag) };
    } finally {
      this.changed(record.id);
    }
  }

  /** Deletes the row only if it still has `etag`. */
  async remove(id: string, etag: string): Promise<void> {
    this.changed(id);
    try {
      await deleteIfMatch(this.table, INTEGRATION_PARTITION, id, etag);
    } finally {
      this.changed(id);
    }
  }
}
