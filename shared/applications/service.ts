/**
 * Applications: the apps registered by admins that sign their users in through the broker
 * as an OpenID Provider. Configuration in Table Storage, the confidential client's secret in Key
 * Vault (one secret per application, named from its client id, never reused), and the cached client
 * lookup the OP (shared/oidc) uses for every protocol request.
 *
 * Consistency without transactions across Table Storage and Key Vault (as integrations do):
 * - create: Key Vault secret (confidential only) → row. A failed row write deletes and purges the
 *   secret: never a half-written application.
 * - rotate: new Key Vault version → row update conditional on the etag read; if that fails the new
 *   version is disabled (the row still names the old one).
 * - delete: row (conditional) → this instance's cache entry → secret soft-deleted and purged where
 *   the vault allows. A failure after the row is gone leaves an unreferenced, tagged secret, never
 *   an application without its secret.
 *
 * Caches (clientForProvider, portalCandidates): per instance, CLIENT_CACHE_TTL_MS. Within the TTL
 * a client lookup makes no storage call at all; after it, one point read of the row, and a Key Vault
 * read only when the row names a secret version this instance has not read yet. The signed-in page's list of applications
 * is one partition query at most once per TTL per instance. Changes made on this instance take
 * effect here at once; other instances see them within the TTL.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { TableClient } from '@azure/data-tables';
import type { SecretClient } from '@azure/keyvault-secrets';
import type { Caller } from '../admin/caller.ts';
import { requireRecentSignIn } from '../admin/fresh-sign-in.ts';
import { VersionedResource } from '../admin/versioned-resource.ts';
import type { AuditLog, ChangeContext } from '../audit/log.ts';
import type { Clock } from '../core/clock.ts';
import type { Config } from '../core/config.ts';
import { ConflictError, NotFoundError, ValidationError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import { IntegrationSecrets } from '../secrets/owned.ts';
import {
  type Application,
  type ApplicationWithSecret,
  CLIENT_ID_PATTERN,
  type CreateApplicationInput,
  type CreatedApplication,
  type IdTokenAlg,
  type PatchApplicationInput,
  type TokenEndpointAuthMethod,
} from './schemas.ts';
import {
  type ApplicationRecord,
  ApplicationStore,
  type PortalCandidate,
  type StoredApplication,
} from './store.ts';

/** How long a client lookup is served from this instance's memory (changes elsewhere: at most this late). */
export const CLIENT_CACHE_TTL_MS = 5_000;
export const CLIENT_CACHE_MAX_ENTRIES = 1000;
/** 32 random bytes (256 bits) from the CSPRNG, base64url: 43 characters (docs/security.md OP5). */
export const CLIENT_SECRET_BYTES = 32;
export const APPLICATION_SECRET_KIND = 'oidc-client-secret';

export function applicationSecretName(clientId: string): string {
  return `application-${clientId}`;
}

/**
 * The client as oidc-provider takes it (`findClient` / adapter `Client.find`), plus `allowedRoles`
 * (not oidc-provider metadata: the library drops unknown properties unless they are declared in
 * `extraClientMetadata.properties`).
 */
export interface ProviderClient {
  client_id: string;
  /** Confidential clients only (from Key Vault). */
  client_secret?: string;
  client_name: string;
  redirect_uris: string[];
  post_logout_redirect_uris: string[];
  token_endpoint_auth_method: TokenEndpointAuthMethod;
  id_token_signed_response_alg: IdTokenAlg;
  grant_types: ['authorization_code', 'refresh_token'];
  response_types: ['code'];
  /** Role names a user needs one of to get a token for this app ([] = any signed-in user). */
  allowedRoles: string[];
  /** Where logout tokens go, when registered (the broker delivers them: shared/oidc/logout-delivery.ts). */
  backchannelLogoutUri?: string;
  backchannelLogoutSessionRequired?: boolean;
  /**
   * OIDC registration metadata oidc-provider recognises without dynamic registration; it takes https
   * only (a loopback http URI would make it refuse the whole client), so only an https URI is passed.
   */
  initiate_login_uri?: string;
}

export type { ChangeContext } from '../audit/log.ts';

export interface ApplicationServiceDeps {
  table: TableClient;
  secrets: SecretClient;
  clock: Clock;
  audit: AuditLog;
  config: Pick<Config, 'BROKER_PUBLIC_BASE_URL'>;
  log: Logger;
}

interface CacheEntry {
  client: ProviderClient | undefined;
  secretVersion: string;
  secret: string | undefined;
  loadedAt: number;
}

const newSecretValue = () => randomBytes(CLIENT_SECRET_BYTES).toString('base64url');

const PATCH_FIELDS = [
  'name',
  'redirectUris',
  'postLogoutRedirectUris',
  'allowedRoles',
  'idTokenSignedResponseAlg',
  'tokenEndpointAuthMethod',
  'backchannelLogoutUri',
  'backchannelLogoutSessionRequired',
  'initiateLoginUri',
] as const;
/**
 * docs/security.md AD5: where an app's codes may be sent, who may use it and where the broker's own
 * signed-in page links to for it (`initiateLoginUri`) need a recent sign-in with a browser session
 * (so do creating an app, which decides them, and rotating its secret).
 */
const SIGN_IN_FIELDS = ['redirectUris', 'allowedRoles', 'initiateLoginUri'] as const;

export class ApplicationService {
  readonly store: ApplicationStore;
  private readonly vault: IntegrationSecrets;
  private readonly cache = new Map<string, CacheEntry>();
  private readonly inFlight = new Map<string, Promise<ProviderClient | undefined>>();
  private portal: { list: PortalCandidate[]; loadedAt: number } | undefined;
  private portalInFlight: Promise<PortalCandidate[]> | undefined;
  /** Moves on with every change made here, so a query begun before it is not kept as fresh. */
  private portalGeneration = 0;
  private readonly resource: VersionedResource<StoredApplication, Application>;

  constructor(private readonly deps: ApplicationServiceDeps) {
    this.store = new ApplicationStore(deps.table);
    this.vault = new IntegrationSecrets(deps.secrets, deps.log, {
      idTag: 'clientId',
      kind: APPLICATION_SECRET_KIND,
      logPrefix: 'application',
    });
    this.resource = new VersionedResource({
      kind: 'application',
      load: (clientId) => this.load(clientId),
      key: (row) => row.clientId,
      replace: (next, etag) => this.store.replace(next, etag),
      view: (row) => this.view(row),
      audit: deps.audit,
      clock: deps.clock,
    });
  }

  /** The OP's issuer: from configuration only, never from a request. */
  get issuer(): string {
    return `${this.deps.config.BROKER_PUBLIC_BASE_URL}/api/oidc`;
  }

  async list(): Promise<Application[]> {
    const rows = await this.store.list();
    return rows
      .sort((a, b) => a.name.localeCompare(b.name) || a.clientId.localeCompare(b.clientId))
      .map((r) => this.view(r));
  }

  async get(clientId: string): Promise<Application> {
    return this.view(await this.load(clientId));
  }

  async create(
    input: CreateApplicationInput,
    actor: string,
    ctx: ChangeContext = {},
    caller?: Caller,
  ): Promise<CreatedApplication> {
    requireRecentSignIn(caller, this.deps.clock);
    const clientId = randomUUID();
    const confidential = input.type === 'confidential';
    const secretName = confidential ? applicationSecretName(clientId) : '';
    const secretValue = confidential ? newSecretValue() : '';
    const written = confidential
      ? await this.vault.write(secretName, clientId, secretValue, null)
      : undefined;

    const now = this.resource.now();
    const record: ApplicationRecord = {
      clientId,
      name: input.name,
      type: input.type,
      redirectUris: input.redirectUris,
      postLogoutRedirectUris: input.postLogoutRedirectUris ?? [],
      allowedRoles: input.allowedRoles ?? [],
      idTokenSignedResponseAlg: input.idTokenSignedResponseAlg,
      tokenEndpointAuthMethod: confidential
        ? (input.tokenEndpointAuthMethod ?? 'client_secret_basic')
        : 'none',
      backchannelLogoutUri: input.backchannelLogoutUri ?? null,
      backchannelLogoutSessionRequired: input.backchannelLogoutSessionRequired ?? true,
      initiateLoginUri: input.initiateLoginUri ?? null,
      secretName,
      secretVersion: written?.version ?? '',
      secretUpdatedOn: written?.updatedOn ?? null,
      createdAt: now,
      updatedAt: now,
    };
    let stored: StoredApplication;
    try {
      stored = await this.store.insert(record);
    } catch (err) {
      this.deps.log.warn('application.create_rolled_back', { clientId, error: err });
      if (confidential) await this.vault.remove(secretName);
      throw err;
    }
    this.remember(stored, confidential ? secretValue : undefined);
    this.forgetPortal();
    await this.resource.record(
      stored,
      { actor, ctx },
      {
        event: 'created',
        changedFields: [
          'name',
          'type',
          'redirectUris',
          'postLogoutRedirectUris',
          'allowedRoles',
          'idTokenSignedResponseAlg',
          ...(confidential ? ['tokenEndpointAuthMethod', 'clientSecret'] : []),
          ...(stored.initiateLoginUri ? ['initiateLoginUri'] : []),
        ],
        details: { name: stored.name, type: stored.type },
      },
    );
    // The secret value is answered this once; it is never stored outside Key Vault.
    return confidential ? { ...this.view(stored), clientSecretValue: secretValue } : this.view(stored);
  }

  async update(
    clientId: string,
    patch: PatchApplicationInput,
    ifMatch: string | undefined,
    actor: string,
    ctx: ChangeContext = {},
    caller?: Caller,
  ): Promise<Application> {
    return this.resource.change(
      clientId,
      { ifMatch, actor, ctx, caller },
      {
        fresh: { before: SIGN_IN_FIELDS.some((f) => patch[f] !== undefined) },
        plan: (current) => {
          const next: ApplicationRecord = { ...current };
          if (patch.name !== undefined) next.name = patch.name;
          if (patch.redirectUris !== undefined) next.redirectUris = patch.redirectUris;
          if (patch.postLogoutRedirectUris !== undefined)
            next.postLogoutRedirectUris = patch.postLogoutRedirectUris;
          if (patch.allowedRoles !== undefined) next.allowedRoles = patch.allowedRoles;
          if (patch.idTokenSignedResponseAlg !== undefined)
            next.idTokenSignedResponseAlg = patch.idTokenSignedResponseAlg;
          if (patch.backchannelLogoutUri !== undefined)
            next.backchannelLogoutUri = patch.backchannelLogoutUri;
          if (patch.backchannelLogoutSessionRequired !== undefined)
            next.backchannelLogoutSessionRequired = patch.backchannelLogoutSessionRequired;
          if (patch.initiateLoginUri !== undefined) next.initiateLoginUri = patch.initiateLoginUri;
          if (patch.tokenEndpointAuthMethod !== undefined) {
            if (current.type === 'public') {
              throw new ValidationError([
                { field: 'tokenEndpointAuthMethod', message: 'must not be set for a public client' },
              ]);
            }
            next.tokenEndpointAuthMethod = patch.tokenEndpointAuthMethod;
          }
          const changed = PATCH_FIELDS.filter((f) => JSON.stringify(next[f]) !== JSON.stringify(current[f]));
          if (changed.length === 0) return undefined;
          next.updatedAt = this.resource.now();
          return {
            next,
            audit: {
              event: 'updated',
              changedFields: [...changed],
              securityRelevant: changed.includes('redirectUris') || changed.includes('allowedRoles'),
            },
          };
        },
        written: (stored) => {
          const cached = this.cache.get(stored.clientId);
          this.remember(stored, cached?.secretVersion === stored.secretVersion ? cached.secret : undefined);
          this.forgetPortal();
        },
      },
    );
  }

  /** A new secret (new Key Vault version); the old one stops working at once here, elsewhere within the TTL. */
  async rotateSecret(
    clientId: string,
    ifMatch: string | undefined,
    actor: string,
    ctx: ChangeContext = {},
    caller?: Caller,
  ): Promise<ApplicationWithSecret> {
    const value = newSecretValue();
    const view = await this.resource.change(
      clientId,
      { ifMatch, actor, ctx, caller },
      {
        fresh: { before: true },
        plan: async (current) => {
          if (current.type !== 'confidential') {
            throw new ConflictError('A public client has no secret (it uses PKCE).', 'public_client');
          }
          const secretName = current.secretName || applicationSecretName(current.clientId);
          const written = await this.vault.write(secretName, current.clientId, value, null);
          return {
            next: {
              ...current,
              secretName,
              secretVersion: written.version,
              secretUpdatedOn: written.updatedOn,
              updatedAt: this.resource.now(),
            },
            audit: {
              event: 'secret_rotated',
              changedFields: ['clientSecret'],
              securityRelevant: true,
              details: { secretVersion: written.version },
            },
          };
        },
        write: (next, current) =>
          this.vault.writeRowNaming(next.secretName, next.secretVersion, () =>
            this.store.replace(next, current.etag),
          ),
        written: async (stored, current) => {
          this.remember(stored, value);
          // Best effort: the old version no longer works anywhere once every instance reads the new row.
          if (current.secretVersion)
            await this.vault.disableVersion(stored.secretName, current.secretVersion);
        },
      },
    );
    return { ...view, clientSecretValue: value };
  }

  async delete(clientId: string, ifMatch: string | undefined, actor: string, ctx: ChangeContext = {}) {
    const current = await this.resource.open(clientId, { ifMatch, actor, ctx });
    await this.store.remove(current.clientId, current.etag);
    this.cache.set(current.clientId, this.negative());
    this.forgetPortal();
    const removed = current.secretName
      ? await this.vault.remove(current.secretName)
      : { deleted: false, purged: false };
    await this.resource.record(
      current,
      { actor, ctx },
      {
        event: 'deleted',
        securityRelevant: true,
        details: { name: current.name, secretDeleted: removed.deleted, secretPurged: removed.purged },
      },
    );
  }

  /**
   * The OP's client lookup: oidc-provider metadata for a registered application, or undefined for an
   * unknown or deleted one. Served from this instance's cache for CLIENT_CACHE_TTL_MS; see the top
   * of this file. Concurrent lookups of one client share one storage read.
   */
  async clientForProvider(clientId: string): Promise<ProviderClient | undefined> {
    if (typeof clientId !== 'string' || !CLIENT_ID_PATTERN.test(clientId)) return undefined;
    const hit = this.cache.get(clientId);
    if (hit && this.deps.clock.now() - hit.loadedAt < CLIENT_CACHE_TTL_MS) return copy(hit.client);
    let pending = this.inFlight.get(clientId);
    if (!pending) {
      pending = this.loadForProvider(clientId, hit).finally(() => this.inFlight.delete(clientId));
      this.inFlight.set(clientId, pending);
    }
    return copy(await pending);
  }

  /**
   * Every application that registered an initiateLoginUri, with the roles it requires: what the
   * broker's signed-in page may list (the caller filters by the user's roles). The client cache is
   * keyed by client id and cannot enumerate, so listing is one partition query; this instance keeps
   * its answer for CLIENT_CACHE_TTL_MS (5 s): at most one query per 5 s per instance however many
   * pages are served, and a change made on another instance shows here at most 5 s late (one made
   * here, at once). Concurrent misses share one query.
   */
  async portalCandidates(): Promise<PortalCandidate[]> {
    const hit = this.portal;
    if (hit && this.deps.clock.now() - hit.loadedAt < CLIENT_CACHE_TTL_MS) return hit.list.map(copyCandidate);
    let pending = this.portalInFlight;
    if (!pending) {
      const loadedAt = this.deps.clock.now();
      const generation = this.portalGeneration;
      pending = this.store.listPortal().then((list) => {
        if (generation === this.portalGeneration) this.portal = { list, loadedAt };
        return list;
      });
      const settled = () => {
        if (this.portalInFlight === pending) this.portalInFlight = undefined;
      };
      pending.then(settled, settled);
      this.portalInFlight = pending;
    }
    return (await pending).map(copyCandidate);
  }

  // --- internals ---------------------------------------------------------------------------------

  private async loadForProvider(clientId: string, previous: CacheEntry | undefined) {
    const row = await this.store.get(clientId);
    if (!row) {
      this.put(clientId, this.negative());
      return undefined;
    }
    let secret: string | undefined;
    if (row.type === 'confidential') {
      secret =
        previous?.secret !== undefined && previous.secretVersion === row.secretVersion
          ? previous.secret
          : await this.vault.read(row.secretName, row.secretVersion);
    }
    return this.remember(row, secret).client;
  }

  private forgetPortal(): void {
    this.portal = undefined;
    this.portalInFlight = undefined;
    this.portalGeneration++;
  }

  private negative(): CacheEntry {
    return { client: undefined, secretVersion: '', secret: undefined, loadedAt: this.deps.clock.now() };
  }

  /**
   * Caches the client built from a row just read or written. Without the secret value of the row's
   * version (a confidential client changed elsewhere) the entry is stale at once: the next lookup
   * reads the row and the secret.
   */
  private remember(row: StoredApplication, secret: string | undefined): CacheEntry {
    const confidential = row.type === 'confidential';
    const known = !confidential || secret !== undefined;
    const entry: CacheEntry = {
      client: known ? this.providerClient(row, secret) : undefined,
      secretVersion: row.secretVersion,
      secret,
      loadedAt: known ? this.deps.clock.now() : Number.NEGATIVE_INFINITY,
    };
    this.put(row.clientId, entry);
    return entry;
  }

  private put(clientId: string, entry: CacheEntry): void {
    this.cache.delete(clientId);
    if (this.cache.size >= CLIENT_CACHE_MAX_ENTRIES) {
      const oldest = this.cache.keys().next();
      if (!oldest.done) this.cache.delete(oldest.value);
    }
    this.cache.set(clientId, entry);
  }

  private providerClient(row: StoredApplication, secret: string | undefined): ProviderClient {
    return {
      client_id: row.clientId,
      ...(row.type === 'confidential' && secret !== undefined ? { client_secret: secret } : {}),
      client_name: row.name,
      redirect_uris: [...row.redirectUris],
      post_logout_redirect_uris: [...row.postLogoutRedirectUris],
      token_endpoint_auth_method: row.type === 'public' ? 'none' : row.tokenEndpointAuthMethod,
      id_token_signed_response_alg: row.idTokenSignedResponseAlg,
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      allowedRoles: [...row.allowedRoles],
      ...(row.backchannelLogoutUri
        ? {
            backchannelLogoutUri: row.backchannelLogoutUri,
            backchannelLogoutSessionRequired: row.backchannelLogoutSessionRequired,
          }
        : {}),
      ...(row.initiateLoginUri && URL.parse(row.initiateLoginUri)?.protocol === 'https:'
        ? { initiate_login_uri: row.initiateLoginUri }
        : {}),
    };
  }

  private async load(clientId: string): Promise<StoredApplication> {
    const normalized = typeof clientId === 'string' ? clientId.toLowerCase() : '';
    const row = CLIENT_ID_PATTERN.test(normalized) ? await this.store.get(normalized) : undefined;
    if (!row) throw new NotFoundError('No application with this client id.', 'application_not_found');
    return row;
  }

  private view(r: StoredApplication): Application {
    return {
      clientId: r.clientId,
      name: r.name,
      type: r.type,
      redirectUris: r.redirectUris,
      postLogoutRedirectUris: r.postLogoutRedirectUris,
      allowedRoles: r.allowedRoles,
      idTokenSignedResponseAlg: r.idTokenSignedResponseAlg,
      tokenEndpointAuthMethod: r.type === 'public' ? 'none' : r.tokenEndpointAuthMethod,
      ...(r.backchannelLogoutUri
        ? {
            backchannelLogoutUri: r.backchannelLogoutUri,
            backchannelLogoutSessionRequired: r.backchannelLogoutSessionRequired,
          }
        : {}),
      initiateLoginUri: r.initiateLoginUri,
      clientSecret:
        r.type === 'confidential' && r.secretVersion
          ? { set: true, updatedOn: r.secretUpdatedOn ?? r.updatedAt }
          : null,
      issuer: this.issuer,
      discoveryUrl: `${this.issuer}/.well-known/openid-configuration`,
      createdAt: r.createdAt,
      updatedAt: r.updatedAt,
      etag: r.etag,
    };
  }
}

/** Callers get their own copy: oidc-provider (or anyone) changing it never changes the cache. */
function copy(c: ProviderClient | undefined): ProviderClient | undefined {
  return c
    ? {
        ...c,
        redirect_uris: [...c.redirect_uris],
        post_logout_redirect_uris: [...c.post_logout_redirect_uris],
        allowedRoles: [...c.allowedRoles],
      }
    : undefined;
}

function copyCandidate(c: PortalCandidate): PortalCandidate {
  return { ...c, allowedRoles: [...c.allowedRoles] };
}
