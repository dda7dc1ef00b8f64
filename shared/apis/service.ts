/**
 * The APIs registered with the broker (schemas.ts): rows in the Applications table, partition `api`,
 * keyed by a hash of the resource URI (one row per API, so a lookup by resource is a point read).
 * Lookups by resource are cached per instance for CACHE_TTL_MS (a change elsewhere: at most that late).
 */
import { createHash } from 'node:crypto';
import type { TableClient } from '@azure/data-tables';
import type { AuditLog, ChangeContext } from '../audit/log.ts';
import type { Clock } from '../core/clock.ts';
import { ConflictError, NotFoundError } from '../core/errors.ts';
import { getEntityOrUndefined, isConflict, isNotFound, odataString } from '../storage/tables.ts';
import type { Api, CreateApiInput } from './schemas.ts';

const PARTITION = 'api';
export const CACHE_TTL_MS = 5_000;

interface ApiEntity {
  resource: string;
  name: string;
  scopes: string;
  allowedApplications: string;
  accessTokenLifetimeSeconds: number;
  createdAt: string;
}

export const apiIdOf = (resource: string) =>
  createHash('sha256').update(resource).digest('base64url').slice(0, 32);

const list = (text: string): string[] => {
  try {
    const v = JSON.parse(text) as unknown;
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
};

const fromEntity = (id: string, e: ApiEntity): Api => ({
  id,
  resource: e.resource,
  name: e.name,
  scopes: list(e.scopes),
  allowedApplications: list(e.allowedApplications),
  accessTokenLifetimeSeconds: Number(e.accessTokenLifetimeSeconds) || 600,
  createdAt: e.createdAt,
});

export class ApiService {
  private readonly cache = new Map<string, { api: Api | undefined; at: number }>();

  constructor(private readonly d: { table: TableClient; clock: Clock; audit: AuditLog }) {}

  async list(): Promise<Api[]> {
    const out: Api[] = [];
    const rows = this.d.table.listEntities<ApiEntity>({
      queryOptions: { filter: `PartitionKey eq ${odataString(PARTITION)}` },
    });
    for await (const e of rows) out.push(fromEntity(e.rowKey as string, e));
    return out.sort((a, b) => a.name.localeCompare(b.name) || a.resource.localeCompare(b.resource));
  }

  async get(id: string): Promise<Api> {
    const e = await getEntityOrUndefined<ApiEntity>(this.d.table, PARTITION, id);
    if (!e) throw new NotFoundError('No API with this id.', 'api_not_found');
    return fromEntity(id, e);
  }

  async create(input: CreateApiInput, actor: string, ctx: ChangeContext = {}): Promise<Api> {
    const id = apiIdOf(input.resource);
    const entity: ApiEntity = {
      resource: input.resource,
      name: input.name,
      scopes: JSON.stringify([...new Set(input.scopes)]),
      allowedApplications: JSON.stringify([...new Set(input.allowedApplications)]),
      accessTokenLifetimeSeconds: input.accessTokenLifetimeSeconds,
      createdAt: new Date(this.d.clock.now()).toISOString(),
    };
    try {
      await this.d.table.createEntity({ partitionKey: PARTITION, rowKey: id, ...entity });
    } catch (err) {
      if (isConflict(err)) throw new ConflictError('An API with this resource URI exists.', 'api_exists');
      throw err;
    }
    const api = fromEntity(id, entity);
    this.cache.set(api.resource, { api, at: this.d.clock.now() });
    await this.d.audit.record({
      type: 'admin.api.created',
      actor,
      target: `api:${id}`,
      changedFields: ['resource', 'name', 'scopes', 'allowedApplications', 'accessTokenLifetimeSeconds'],
      securityRelevant: true,
      ...ctx,
      details: { resource: api.resource },
    });
    return api;
  }

  async remove(id: string, actor: string, ctx: ChangeContext = {}): Promise<void> {
    const api = await this.get(id);
    try {
      await this.d.table.deleteEntity(PARTITION, id);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    this.cache.delete(api.resource);
    await this.d.audit.record({
      type: 'admin.api.deleted',
      actor,
      target: `api:${id}`,
      securityRelevant: true,
      ...ctx,
      details: { resource: api.resource },
    });
  }

  /** The API a resource URI names, if registered (cached per instance). */
  async byResource(resource: string): Promise<Api | undefined> {
    const hit = this.cache.get(resource);
    if (hit && this.d.clock.now() - hit.at < CACHE_TTL_MS) return hit.api;
    const e = await getEntityOrUndefined<ApiEntity>(this.d.table, PARTITION, apiIdOf(resource));
    const api = e && e.resource === resource ? fromEntity(apiIdOf(resource), e) : undefined;
    if (this.cache.size > 1000) this.cache.clear();
    this.cache.set(resource, { api, at: this.d.clock.now() });
    return api;
  }
}
