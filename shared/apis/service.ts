/**
 * The APIs registered with the broker (schemas.ts, rows in store.ts): created, changed and deleted by
 * admins through the versioned-resource skeleton (If-Match, conditional writes, audited field names).
 * Lookups by resource are cached per instance for CACHE_TTL_MS: a change made on this instance takes
 * effect here at once; other instances see it within the TTL.
 */
import type { TableClient } from '@azure/data-tables';
import type { Caller } from '../admin/caller.ts';
import { VersionedResource } from '../admin/versioned-resource.ts';
import type { AuditLog, ChangeContext } from '../audit/log.ts';
import type { Clock } from '../core/clock.ts';
import { NotFoundError, ValidationError } from '../core/errors.ts';
import { API_PATCH_FIELDS, type Api, type CreateApiInput, type PatchApiInput } from './schemas.ts';
import { API_ID_PATTERN, type ApiRecord, ApiStore, apiIdOf, type StoredApi } from './store.ts';

export const CACHE_TTL_MS = 5_000;
const CACHE_MAX_ENTRIES = 1000;

/** Who may get tokens for an API, and for what: every change of these is security-relevant. */
const ACCESS_FIELDS: readonly string[] = ['scopes', 'allowedApplications', 'accessTokenLifetimeSeconds'];

const unique = (list: string[]): string[] => [...new Set(list)];

const view = (r: StoredApi): Api => ({
  id: r.id,
  resource: r.resource,
  name: r.name,
  scopes: r.scopes,
  allowedApplications: r.allowedApplications,
  accessTokenLifetimeSeconds: r.accessTokenLifetimeSeconds,
  createdAt: r.createdAt,
  updatedAt: r.updatedAt,
  etag: r.etag,
});

export class ApiService {
  private readonly store: ApiStore;
  private readonly cache = new Map<string, { api: Api | undefined; at: number }>();
  private readonly resource: VersionedResource<StoredApi, Api>;

  constructor(private readonly d: { table: TableClient; clock: Clock; audit: AuditLog }) {
    this.store = new ApiStore(d.table);
    this.resource = new VersionedResource({
      kind: 'api',
      load: (id) => this.load(id),
      key: (row) => row.id,
      replace: (next, etag) => this.store.replace(next, etag),
      view,
      audit: d.audit,
      clock: d.clock,
    });
  }

  async list(): Promise<Api[]> {
    const rows = await this.store.list();
    return rows
      .sort((a, b) => a.name.localeCompare(b.name) || a.resource.localeCompare(b.resource))
      .map(view);
  }

  async get(id: string): Promise<Api> {
    return view(await this.load(id));
  }

  async create(input: CreateApiInput, actor: string, ctx: ChangeContext = {}): Promise<Api> {
    const now = this.resource.now();
    const stored = await this.store.insert({
      id: apiIdOf(input.resource),
      resource: input.resource,
      name: input.name,
      scopes: unique(input.scopes),
      allowedApplications: unique(input.allowedApplications),
      accessTokenLifetimeSeconds: input.accessTokenLifetimeSeconds,
      createdAt: now,
      updatedAt: now,
    });
    this.remember(stored);
    await this.resource.record(
      stored,
      { actor, ctx },
      {
        event: 'created',
        changedFields: ['resource', 'name', 'scopes', 'allowedApplications', 'accessTokenLifetimeSeconds'],
        securityRelevant: true,
        details: { resource: stored.resource },
      },
    );
    return view(stored);
  }

  async update(
    id: string,
    patch: PatchApiInput,
    ifMatch: string | undefined,
    actor: string,
    ctx: ChangeContext = {},
    caller?: Caller,
  ): Promise<Api> {
    return this.resource.change(
      id,
      { ifMatch, actor, ctx, caller },
      {
        // Which applications may get tokens for the API: with a browser session, a recent sign-in
        // (docs/security.md AD5), as for where an application's codes may go.
        fresh: { before: patch.allowedApplications !== undefined },
        plan: (current) => {
          if (patch.resource !== undefined && patch.resource !== current.resource) {
            throw new ValidationError(
              [
                {
                  field: 'resource',
                  message:
                    'cannot be changed: it is the API’s identity and the audience of its tokens; register a new API for another resource URI',
                },
              ],
              'The resource URI of an API cannot be changed.',
            );
          }
          const next: ApiRecord = { ...current };
          if (patch.name !== undefined) next.name = patch.name;
          if (patch.scopes !== undefined) next.scopes = unique(patch.scopes);
          if (patch.allowedApplications !== undefined)
            next.allowedApplications = unique(patch.allowedApplications);
          if (patch.accessTokenLifetimeSeconds !== undefined)
            next.accessTokenLifetimeSeconds = patch.accessTokenLifetimeSeconds;
          const changed = API_PATCH_FIELDS.filter(
            (f) => JSON.stringify(next[f]) !== JSON.stringify(current[f]),
          );
          if (changed.length === 0) return undefined;
          next.updatedAt = this.resource.now();
          return {
            next,
            audit: {
              event: 'updated',
              changedFields: [...changed],
              securityRelevant: changed.some((f) => ACCESS_FIELDS.includes(f)),
              details: { resource: current.resource },
            },
          };
        },
        written: (stored) => {
          this.remember(stored);
        },
      },
    );
  }

  async delete(id: string, ifMatch: string | undefined, actor: string, ctx: ChangeContext = {}) {
    const current = await this.resource.open(id, { ifMatch, actor, ctx });
    await this.store.remove(current.id, current.etag);
    this.put(current.resource, undefined);
    await this.resource.record(
      current,
      { actor, ctx },
      { event: 'deleted', securityRelevant: true, details: { resource: current.resource } },
    );
  }

  /** The API a resource URI names, if registered (cached per instance, see the top of this file). */
  async byResource(resource: string): Promise<Api | undefined> {
    const hit = this.cache.get(resource);
    if (hit && this.d.clock.now() - hit.at < CACHE_TTL_MS) return hit.api;
    const row = await this.store.get(apiIdOf(resource));
    const api = row && row.resource === resource ? view(row) : undefined;
    this.put(resource, api);
    return api;
  }

  // --- internals ---------------------------------------------------------------------------------

  /** Caches an API just written, so this instance's next token request uses it. */
  private remember(row: StoredApi): void {
    this.put(row.resource, view(row));
  }

  private put(resource: string, api: Api | undefined): void {
    if (this.cache.size >= CACHE_MAX_ENTRIES && !this.cache.has(resource)) this.cache.clear();
    this.cache.set(resource, { api, at: this.d.clock.now() });
  }

  private async load(id: string): Promise<StoredApi> {
    const row = typeof id === 'string' && API_ID_PATTERN.test(id) ? await this.store.get(id) : undefined;
    if (!row) throw new NotFoundError('No API with this id.', 'api_not_found');
    return row;
  }
}
