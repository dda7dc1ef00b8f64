/**
 * APIs in Table Storage: rows in the Applications table, partition `api`, keyed by a hash of the
 * resource URI (one row per API, so a lookup by resource is a point read). Every change is
 * conditional on the etag read (412 otherwise).
 */
import { createHash } from 'node:crypto';
import type { TableClient } from '@azure/data-tables';
import { ConflictError } from '../core/errors.ts';
import {
  deleteIfMatch,
  getEntityOrUndefined,
  isConflict,
  odataString,
  replaceIfMatch,
} from '../storage/tables.ts';

const PARTITION = 'api';
const DEFAULT_LIFETIME_SECONDS = 600;

export const apiIdOf = (resource: string) =>
  createHash('sha256').update(resource).digest('base64url').slice(0, 32);

/** What apiIdOf makes: anything else names no API (and is never sent to storage as a key). */
export const API_ID_PATTERN = /^[A-Za-z0-9_-]{32}$/;

export interface ApiRecord {
  id: string;
  resource: string;
  name: string;
  scopes: string[];
  allowedApplications: string[];
  accessTokenLifetimeSeconds: number;
  createdAt: string;
  updatedAt: string;
}

export type StoredApi = ApiRecord & { etag: string };

interface ApiEntity {
  resource: string;
  name: string;
  scopes: string;
  allowedApplications: string;
  accessTokenLifetimeSeconds: number;
  createdAt: string;
  /** Absent on rows written before APIs could be changed: their createdAt. */
  updatedAt?: string;
}

const list = (text: string): string[] => {
  try {
    const v = JSON.parse(text) as unknown;
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
};

function toEntity(r: ApiRecord): ApiEntity & { partitionKey: string; rowKey: string } {
  return {
    partitionKey: PARTITION,
    rowKey: r.id,
    resource: r.resource,
    name: r.name,
    scopes: JSON.stringify(r.scopes),
    allowedApplications: JSON.stringify(r.allowedApplications),
    accessTokenLifetimeSeconds: r.accessTokenLifetimeSeconds,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  };
}

function fromEntity(id: string, e: ApiEntity, etag: string): StoredApi {
  return {
    id,
    resource: e.resource,
    name: e.name,
    scopes: list(e.scopes),
    allowedApplications: list(e.allowedApplications),
    accessTokenLifetimeSeconds: Number(e.accessTokenLifetimeSeconds) || DEFAULT_LIFETIME_SECONDS,
    createdAt: e.createdAt,
    updatedAt: e.updatedAt || e.createdAt,
    etag,
  };
}

export class ApiStore {
  constructor(private readonly table: TableClient) {}

  /** One point read. */
  async get(id: string): Promise<StoredApi | undefined> {
    const e = await getEntityOrUndefined<ApiEntity>(this.table, PARTITION, id);
    return e ? fromEntity(id, e, e.etag) : undefined;
  }

  async list(): Promise<StoredApi[]> {
    const out: StoredApi[] = [];
    const rows = this.table.listEntities<ApiEntity>({
      queryOptions: { filter: `PartitionKey eq ${odataString(PARTITION)}` },
    });
    for await (const e of rows) out.push(fromEntity(e.rowKey as string, e, e.etag));
    return out;
  }

  /** A new row; an API with the same resource URI is a 409. */
  async insert(record: ApiRecord): Promise<StoredApi> {
    try {
      const res = await this.table.createEntity(toEntity(record));
      return { ...record, etag: res.etag ?? '' };
    } catch (err) {
      if (isConflict(err)) throw new ConflictError('An API with this resource URI exists.', 'api_exists');
      throw err;
    }
  }

  /** Replaces the row only if it still has `etag` (412 otherwise). */
  async replace(record: ApiRecord, etag: string): Promise<StoredApi> {
    return { ...record, etag: await replaceIfMatch(this.table, toEntity(record), etag) };
  }

  /** Deletes the row only if it still has `etag` (412 otherwise). */
  remove(id: string, etag: string): Promise<void> {
    return deleteIfMatch(this.table, PARTITION, id, etag);
  }
}
