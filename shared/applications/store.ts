/**
 * Applications in Table Storage: one row per application (PartitionKey `application`, RowKey = client
 * id). Rows never hold the client secret, only its Key Vault name, version and date. Every write is
 * conditional on the etag read (412 otherwise).
 */
import type { TableClient } from '@azure/data-tables';
import { deleteIfMatch, getEntityOrUndefined, replaceIfMatch } from '../storage/tables.ts';
import type { ApplicationType, IdTokenAlg, TokenEndpointAuthMethod } from './schemas.ts';

export const APPLICATION_PARTITION = 'application';

export interface ApplicationRecord {
  clientId: string;
  name: string;
  type: ApplicationType;
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  allowedRoles: string[];
  idTokenSignedResponseAlg: IdTokenAlg;
  tokenEndpointAuthMethod: TokenEndpointAuthMethod;
  /** Where logout tokens go (OIDC Back-Channel Logout 1.0), or null. */
  backchannelLogoutUri: string | null;
  backchannelLogoutSessionRequired: boolean;
  /** Where the application's own sign-in starts (OIDC `initiate_login_uri`), or null. */
  initiateLoginUri: string | null;
  /** Key Vault secret name and version (confidential only; empty for public clients). */
  secretName: string;
  secretVersion: string;
  secretUpdatedOn: string | null;
  createdAt: string;
  updatedAt: string;
}

export type StoredApplication = ApplicationRecord & { etag: string };

/** An application the signed-in page may list: it registered where its sign-in starts. */
export interface PortalCandidate {
  name: string;
  initiateLoginUri: string;
  allowedRoles: string[];
}
type PortalColumn = 'name' | 'allowedRoles' | 'initiateLoginUri';

interface ApplicationEntity {
  name: string;
  type: string;
  redirectUris: string;
  postLogoutRedirectUris: string;
  allowedRoles: string;
  idTokenSignedResponseAlg: string;
  tokenEndpointAuthMethod: string;
  backchannelLogoutUri?: string;
  backchannelLogoutSessionRequired?: boolean;
  /** Absent on rows written before the column existed: read as null. */
  initiateLoginUri?: string;
  secretName: string;
  secretVersion: string;
  secretUpdatedOn: string;
  createdAt: string;
  updatedAt: string;
}

function toEntity(r: ApplicationRecord): ApplicationEntity & { partitionKey: string; rowKey: string } {
  return {
    partitionKey: APPLICATION_PARTITION,
    rowKey: r.clientId,
    name: r.name,
    type: r.type,
    redirectUris: JSON.stringify(r.redirectUris),
    postLogoutRedirectUris: JSON.stringify(r.postLogoutRedirectUris),
    allowedRoles: JSON.stringify(r.allowedRoles),
    idTokenSignedResponseAlg: r.idTokenSignedResponseAlg,
    tokenEndpointAuthMethod: r.tokenEndpointAuthMethod,
    backchannelLogoutUri: r.backchannelLogoutUri ?? '',
    backchannelLogoutSessionRequired: r.backchannelLogoutSessionRequired,
    initiateLoginUri: r.initiateLoginUri ?? '',
    secretName: r.secretName,
    secretVersion: r.secretVersion,
    secretUpdatedOn: r.secretUpdatedOn ?? '',
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  };
}

function stringList(text: string | undefined): string[] {
  if (!text) return [];
  try {
    const v = JSON.parse(text) as unknown;
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

function fromEntity(e: ApplicationEntity & { rowKey: string; etag: string }): StoredApplication {
  const type: ApplicationType = e.type === 'public' ? 'public' : 'confidential';
  return {
    clientId: e.rowKey,
    name: e.name,
    type,
    redirectUris: stringList(e.redirectUris),
    postLogoutRedirectUris: stringList(e.postLogoutRedirectUris),
    allowedRoles: stringList(e.allowedRoles),
    idTokenSignedResponseAlg: e.idTokenSignedResponseAlg === 'ES256' ? 'ES256' : 'RS256',
    tokenEndpointAuthMethod:
      type === 'public'
        ? 'none'
        : e.tokenEndpointAuthMethod === 'client_secret_post'
          ? 'client_secret_post'
          : 'client_secret_basic',
    backchannelLogoutUri: e.backchannelLogoutUri || null,
    backchannelLogoutSessionRequired: e.backchannelLogoutSessionRequired === true,
    initiateLoginUri: e.initiateLoginUri || null,
    secretName: e.secretName ?? '',
    secretVersion: e.secretVersion ?? '',
    secretUpdatedOn: e.secretUpdatedOn || null,
    createdAt: e.createdAt,
    updatedAt: e.updatedAt,
    etag: e.etag,
  };
}

export class ApplicationStore {
  constructor(readonly table: TableClient) {}

  /** One point read. */
  async get(clientId: string): Promise<StoredApplication | undefined> {
    const e = await getEntityOrUndefined<ApplicationEntity>(this.table, APPLICATION_PARTITION, clientId);
    return e ? fromEntity(e) : undefined;
  }

  async list(): Promise<StoredApplication[]> {
    const out: StoredApplication[] = [];
    const rows = this.table.listEntities<ApplicationEntity>({
      queryOptions: { filter: `PartitionKey eq '${APPLICATION_PARTITION}'` },
    });
    for await (const e of rows)
      out.push(fromEntity(e as ApplicationEntity & { rowKey: string; etag: string }));
    return out;
  }

  /**
   * The columns the broker's signed-in page needs, of every application (one partition query; the
   * caller caches it: ApplicationService.portalCandidates).
   */
  async listPortal(): Promise<PortalCandidate[]> {
    const out: PortalCandidate[] = [];
    const rows = this.table.listEntities<Pick<ApplicationEntity, PortalColumn>>({
      queryOptions: {
        filter: `PartitionKey eq '${APPLICATION_PARTITION}'`,
        select: ['name', 'allowedRoles', 'initiateLoginUri'],
      },
    });
    for await (const e of rows) {
      if (!e.initiateLoginUri) continue;
      out.push({
        name: e.name,
        initiateLoginUri: e.initiateLoginUri,
        allowedRoles: stringList(e.allowedRoles),
      });
    }
    return out;
  }

  async insert(record: ApplicationRecord): Promise<StoredApplication> {
    const res = await this.table.createEntity(toEntity(record));
    return { ...record, etag: res.etag ?? '' };
  }

  /** Replaces the row only if it still has `etag` (412 otherwise). */
  async replace(record: ApplicationRecord, etag: string): Promise<StoredApplication> {
    return { ...record, etag: await replaceIfMatch(this.table, toEntity(record), etag) };
  }

  /** Deletes the row only if it still has `etag` (412 otherwise). */
  remove(clientId: string, etag: string): Promise<void> {
    return deleteIfMatch(this.table, APPLICATION_PARTITION, clientId, etag);
  }
}
