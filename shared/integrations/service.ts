/**
 * Integrations: configuration in Table Storage, the client secret in Key Vault, the
 * connection test on activation, and the cached read the sign-in path uses.
 *
 * Consistency without transactions across Table Storage and Key Vault:
 * - create: title index row (409 on a duplicate) → Key Vault secret → integration row. A failed
 *   secret write removes the index row; a failed row write deletes (and purges) the secret and
 *   removes the index row. A crash in between leaves at most an index row pointing at a missing
 *   integration, which the next claim of that title takes over after a minute.
 * - rotate: new Key Vault version → row update conditional on the etag read; if the row update
 *   fails the new version is disabled (the row still names the old one, so nothing breaks).
 * - delete: row (conditional) → secret soft-deleted and purged where the vault allows → index row.
 *   A failure after the row is gone leaves an unreferenced secret (tagged with the integration id),
 *   never an integration without its secret.
 * Every row write is conditional on the etag just read: a concurrent change answers 412.
 */
import { randomUUID } from 'node:crypto';
import type { TableClient } from '@azure/data-tables';
import type { SecretClient } from '@azure/keyvault-secrets';
import type { Caller } from '../admin/caller.ts';
import { VersionedResource } from '../admin/versioned-resource.ts';
import type { AuditLog, ChangeContext } from '../audit/log.ts';
import type { Clock } from '../core/clock.ts';
import type { Config } from '../core/config.ts';
import { ConflictError, NotFoundError, ValidationError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import { nameKey } from '../core/names.ts';
import type { EntraClientCredential, EntraClientFactory } from '../entra/msal.ts';
import type { HealthWarning } from '../ops/health.ts';
import { IntegrationSecrets, secretNameFor } from '../secrets/owned.ts';
import { ActivationFailedError, type ConnectionTestOutcome, runConnectionTest } from './activation.ts';
import { SecretCache } from './cache.ts';
import { type CredentialSources, credentialSwitch, refusingSources } from './credentials/integration.ts';
import { credentialExpiresOn, type StoredCredential } from './credentials/kinds.ts';
import { CredentialManager, currentCredential, withCurrentCredential } from './credentials/manager.ts';
import { daysUntil, EXPIRY_WARNING_DAYS, expiryWarnings } from './expiry.ts';
import {
  type AddCredentialInput,
  type CreateIntegrationInput,
  createdCredential,
  type Integration,
  type IntegrationTestResult,
  type IntegrationWarning,
  type IntegrationWithWarnings,
  matchClaimIssue,
  type PatchIntegrationInput,
  RESERVED_TITLE,
  type RotateSecretInput,
  tenantIssue,
} from './schemas.ts';
import { type IntegrationRecord, IntegrationStore, type StoredIntegration, titleKey } from './store.ts';

/** Counts the users whose verify type is an integration (the users store plugs in here). */
export interface AssignmentCounter {
  countUsersAssignedTo(integrationId: string): Promise<number>;
}

export type { ChangeContext } from '../audit/log.ts';

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

export interface SignInIntegration {
  integration: Integration;
  /** The client secret's value when the credential is one; empty otherwise. */
  clientSecret: string;
  /** What MSAL authenticates with, and a key that changes whenever the credential does. */
  credential: { value: EntraClientCredential; version: string };
}

const ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const PATCH_FIELDS = ['title', 'applicationId', 'tenant', 'allowedTenants', 'cloud', 'matchClaim'] as const;
/** Changing one of these invalidates the last connection test: the integration must be activated again. */
const CREDENTIAL_FIELDS = new Set<string>(['applicationId', 'tenant', 'allowedTenants', 'cloud']);
/**
 * docs/security.md AD5: changing one of these decides who can sign in, so a browser session needs a
 * recent sign-in for it (as for rotating the secret and activating, which decide it too).
 */
const SIGN_IN_FIELDS = ['applicationId', 'tenant', 'allowedTenants', 'cloud', 'matchClaim'] as const;

type ConnectionTestFailure = Extract<ConnectionTestOutcome, { ok: false }>;

/** Rotating a secret of an integration that authenticates another way. */
function notClientSecret(): ConflictError {
  return new ConflictError(
    'This integration does not use a client secret: add one as its second credential (POST …/credentials) instead.',
    'not_client_secret',
  );
}

/** Every Key Vault key a row names (current, pending and retired certificates). */
function certificateKeys(r: IntegrationRecord): string[] {
  const keys = [...(r.retiredKeys ?? [])];
  for (const c of [r.credential, r.pendingCredential]) if (c?.kind === 'certificate') keys.push(c.keyName);
  return keys;
}

/** A validation failure (400) like the other title rules: `password` is the other verify type. */
function reservedTitle(): ValidationError {
  return new ValidationError([{ field: 'title', message: 'is reserved ("password", in any case)' }]);
}

function checkTitle(title: string): void {
  if (nameKey(title) === RESERVED_TITLE) throw reservedTitle();
}

/** How long a delete's mark keeps assignments away (a delete takes well under a second). */
const DELETE_MARK_MS = 60_000;
/**
 * How long a sign-in may use an integration row this instance read before: a change made on another
 * instance (deactivation, deletion, new tenant or secret version) reaches sign-ins here within this
 * time; a change made on this instance, at once.
 */
export const SIGN_IN_ROW_TTL_MS = 5_000;

export class IntegrationService {
  private readonly store: IntegrationStore;
  private readonly resource: VersionedResource<StoredIntegration, Integration>;
  /** Rows read for sign-ins, per instance (SIGN_IN_ROW_TTL_MS); dropped on every local write. */
  private readonly signInRows = new Map<string, { row: StoredIntegration; readAt: number }>();
  private readonly vault: IntegrationSecrets;
  private readonly cache: SecretCache;
  private readonly assignmentCounter: AssignmentCounter | undefined;
  private readonly creds: CredentialManager;

  constructor(private readonly deps: IntegrationServiceDeps) {
    this.store = new IntegrationStore(
      deps.table,
      () => deps.clock.now(),
      (id) => this.signInRows.delete(id),
    );
    this.resource = new VersionedResource({
      kind: 'integration',
      load: (id) => this.load(id),
      key: (row) => row.id,
      replace: (next, etag) => this.store.replace(next, etag),
      view: (row) => this.view(row),
      audit: deps.audit,
      clock: deps.clock,
    });
    this.vault = new IntegrationSecrets(deps.secrets, deps.log);
    this.cache = new SecretCache(deps.clock);
    this.assignmentCounter = deps.assignmentCounter;
    const sources = deps.credentials ?? refusingSources(deps.config);
    this.creds = new CredentialManager({
      secrets: this.vault,
      cache: this.cache,
      keys: sources.keys,
      managedIdentity: sources.managedIdentity,
      assertions: sources.assertions,
      now: () => deps.clock.now(),
    });
  }

  /** The callback URL to register in Entra; from configuration only, never from a request. */
  get redirectUri(): string {
    return `${this.deps.config.BROKER_PUBLIC_BASE_URL}/api/auth/callback`;
  }

  async list(): Promise<Integration[]> {
    const rows = await this.store.list();
    return rows
      .sort((a, b) => a.title.localeCompare(b.title) || a.id.localeCompare(b.id))
      .map((r) => this.view(r));
  }

  async get(id: string): Promise<Integration> {
    return this.view(await this.load(id));
  }

  /** Case-insensitive; undefined when no integration has that title. */
  async findByTitle(title: string): Promise<Integration | undefined> {
    if (typeof title !== 'string' || title.trim() === '' || title.length > 200) return undefined;
    const id = await this.store.idForTitle(title.trim());
    if (!id) return undefined;
    const row = await this.store.get(id);
    return row ? this.view(row) : undefined;
  }

  async create(
    input: CreateIntegrationInput,
    actor: string,
    ctx: ChangeContext = {},
  ): Promise<IntegrationWithWarnings> {
    checkTitle(input.title);
    const id = randomUUID();
    const key = titleKey(input.title);
    const secretName = secretNameFor(id);
    await this.store.claimTitle(key, input.title, id);

    const wanted = createdCredential(input);
    let credential: StoredCredential;
    try {
      credential = await this.creds.create(id, wanted, { secretName });
    } catch (err) {
      await this.bestEffort('release_title', () => this.store.releaseTitle(key, id));
      throw err;
    }

    const now = this.resource.now();
    const base: IntegrationRecord = {
      id,
      kind: 'azure-ad',
      title: input.title,
      titleKey: key,
      applicationId: input.applicationId,
      tenant: input.tenant,
      allowedTenants: input.tenant === 'organizations' ? (input.allowedTenants ?? []) : [],
      cloud: input.cloud,
      matchClaim: input.matchClaim,
      status: 'inactive',
      // Without a client secret these name no Key Vault version (a later one may add it).
      secretName,
      secretVersion: '',
      secretExpiresOn: null,
      secretUpdatedOn: now,
      lastTest: null,
      createdAt: now,
      updatedAt: now,
    };
    const record = withCurrentCredential(base, credential);
    let stored: StoredIntegration;
    try {
      stored = await this.store.insert(record);
    } catch (err) {
      this.deps.log.warn('integration.create_rolled_back', { integrationId: id, error: err });
      await this.creds.discard(credential);
      await this.vault.remove(secretName);
      await this.bestEffort('release_title', () => this.store.releaseTitle(key, id));
      throw err;
    }

    await this.resource.record(
      stored,
      { actor, ctx },
      {
        event: 'created',
        changedFields: [
          'kind',
          'title',
          'applicationId',
          'tenant',
          'allowedTenants',
          'cloud',
          'matchClaim',
          ...(wanted.kind === 'clientSecret' ? ['clientSecret'] : ['credential']),
          ...(input.clientSecretExpiresOn ? ['clientSecretExpiresOn'] : []),
        ],
        details: {
          title: stored.title,
          applicationId: stored.applicationId,
          credentialKind: wanted.kind,
        },
      },
    );
    const view = this.view(stored);
    return { ...view, warnings: await this.warningsFor(view) };
  }

  async update(
    id: string,
    patch: PatchIntegrationInput,
    ifMatch: string | undefined,
    actor: string,
    ctx: ChangeContext = {},
    caller?: Caller,
  ): Promise<IntegrationWithWarnings> {
    const warnings: IntegrationWarning[] = [];
    const view = await this.resource.change(
      id,
      { ifMatch, actor, ctx, caller },
      {
        fresh: { before: SIGN_IN_FIELDS.some((f) => f in patch) },
        plan: async (current) => {
          const next: IntegrationRecord = { ...current };
          if (patch.title !== undefined) next.title = patch.title;
          if (patch.applicationId !== undefined) next.applicationId = patch.applicationId;
          if (patch.cloud !== undefined) next.cloud = patch.cloud;
          if (patch.matchClaim !== undefined) next.matchClaim = patch.matchClaim;
          if (patch.tenant !== undefined) next.tenant = patch.tenant;
          if (patch.allowedTenants !== undefined) next.allowedTenants = patch.allowedTenants;
          else if (next.tenant !== 'organizations') next.allowedTenants = [];
          const issue = tenantIssue(next.tenant, next.allowedTenants);
          if (issue) throw new ValidationError([{ field: 'allowedTenants', message: issue }]);
          const claimIssue = matchClaimIssue(next.tenant, next.matchClaim);
          if (claimIssue) throw new ValidationError([{ field: 'matchClaim', message: claimIssue }]);
          next.titleKey = titleKey(next.title);

          const changed = PATCH_FIELDS.filter(
            (f) =>
              JSON.stringify(next[f as keyof IntegrationRecord]) !==
              JSON.stringify(current[f as keyof IntegrationRecord]),
          );
          if (changed.length === 0) return undefined;
          if (changed.includes('title')) checkTitle(next.title);
          const changedFields: string[] = [...changed];
          if (current.status === 'active' && changed.some((f) => CREDENTIAL_FIELDS.has(f))) {
            next.status = 'inactive';
            changedFields.push('status');
            warnings.push({
              code: 'reactivation_required',
              message:
                'The application, tenant or cloud changed: the integration was deactivated; activate it again.',
            });
          }
          next.updatedAt = this.resource.now();
          return { next, audit: { event: 'updated', changedFields } };
        },
        write: (next, current) => this.replaceRetitled(next, current),
      },
    );
    return { ...view, warnings: [...warnings, ...(await this.warningsFor(view))] };
  }

  async rotateSecret(
    id: string,
    input: RotateSecretInput,
    ifMatch: string | undefined,
    actor: string,
    ctx: ChangeContext = {},
    caller?: Caller,
  ): Promise<Integration> {
    const expiresOn = input.expiresOn ?? null;
    return this.resource.change(
      id,
      { ifMatch, actor, ctx, caller },
      {
        fresh: { before: true },
        plan: async (current) => {
          if (current.credential) throw notClientSecret();
          const written = await this.vault.write(
            current.secretName,
            current.id,
            input.clientSecret,
            expiresOn,
          );
          return {
            next: {
              ...current,
              secretVersion: written.version,
              secretExpiresOn: expiresOn,
              secretUpdatedOn: written.updatedOn,
              updatedAt: this.resource.now(),
            },
            audit: {
              event: 'secret_rotated',
              changedFields: [
                'clientSecret',
                ...(expiresOn !== current.secretExpiresOn ? ['clientSecretExpiresOn'] : []),
              ],
              securityRelevant: true,
              details: { secretVersion: written.version },
            },
          };
        },
        write: (next, current) =>
          this.vault.writeRowNaming(next.secretName, next.secretVersion, () =>
            this.store.replace(next, current.etag),
          ),
        written: (stored) => {
          this.cache.set(stored.id, stored.secretVersion, input.clientSecret);
        },
      },
    );
  }

  /**
   * Runs the connection test; on success the integration becomes active. On failure the status is
   * left as it was, `lastTest` records the reason, and a 422 ActivationFailedError is thrown.
   */
  async activate(
    id: string,
    ifMatch: string | undefined,
    actor: string,
    ctx: ChangeContext = {},
    caller?: Caller,
  ): Promise<Integration> {
    // The failed test is written and audited like any change, then answered as a 422.
    const failed: { outcome?: ConnectionTestFailure; lastTest?: IntegrationTestResult } = {};
    const view = await this.resource.change(
      id,
      { ifMatch, actor, ctx, caller },
      {
        fresh: { before: true },
        plan: async (current) => {
          const outcome = await this.testCredential(current, currentCredential(current));
          const at = this.resource.now();
          if (outcome.ok) {
            return {
              next: { ...current, status: 'active', lastTest: { at, ok: true, reason: null }, updatedAt: at },
              audit: {
                event: 'activated',
                changedFields: current.status === 'active' ? ['lastTest'] : ['status', 'lastTest'],
              },
            };
          }
          const lastTest = { at, ok: false, reason: outcome.code };
          failed.outcome = outcome;
          failed.lastTest = lastTest;
          return {
            next: { ...current, lastTest, updatedAt: at },
            audit: {
              event: 'activation_failed',
              outcome: 'failure',
              reason: outcome.code,
              changedFields: ['lastTest'],
              details: {
                ...(outcome.aadsts !== undefined ? { aadsts: outcome.aadsts } : {}),
                ...(outcome.entraCorrelationId ? { entraCorrelationId: outcome.entraCorrelationId } : {}),
              },
            },
          };
        },
      },
    );
    if (failed.outcome && failed.lastTest)
      throw new ActivationFailedError(failed.outcome, failed.lastTest, view.etag);
    return view;
  }

  /** Immediate: the sign-in path reads the row on every call. */
  async deactivate(
    id: string,
    ifMatch: string | undefined,
    actor: string,
    ctx: ChangeContext = {},
  ): Promise<Integration> {
    return this.resource.change(
      id,
      { ifMatch, actor, ctx },
      {
        plan: (current) =>
          current.status === 'inactive'
            ? undefined
            : {
                next: { ...current, status: 'inactive', updatedAt: this.resource.now() },
                audit: { event: 'deactivated', changedFields: ['status'] },
              },
        written: (stored) => {
          this.cache.delete(stored.id);
        },
      },
    );
  }

  async delete(
    id: string,
    ifMatch: string | undefined,
    actor: string,
    ctx: ChangeContext = {},
  ): Promise<void> {
    const current = await this.resource.open(id, { ifMatch, actor, ctx });
    // Mark the row first, then count: an assignment writes the user first, then checks the row
    // (users/verify-type.ts), so of a delete and an assignment racing, at least one sees the other.
    const { etag: _etag, ...record } = current;
    const marked = await this.store.replace(
      { ...record, deletingSince: this.deps.clock.now() },
      current.etag,
    );
    const assigned = this.assignmentCounter
      ? await this.assignmentCounter.countUsersAssignedTo(current.id)
      : 0;
    if (assigned > 0) {
      const { deletingSince: _d, etag: _e, ...unmarked } = marked;
      await this.bestEffort('unmark_delete', async () => {
        await this.store.replace(unmarked, marked.etag);
      });
      throw new ConflictError(
        `${assigned} user(s) are still assigned to this integration; assign them another verify type first.`,
        'integration_in_use',
        { assignedUsers: assigned },
      );
    }
    await this.store.remove(current.id, marked.etag);
    this.cache.delete(current.id);
    this.creds.forget(current.id);
    const removed = await this.vault.remove(current.secretName);
    await this.creds.removeKeys(certificateKeys(current));
    await this.bestEffort('release_title', () => this.store.releaseTitle(current.titleKey, current.id));
    await this.resource.record(
      current,
      { actor, ctx },
      {
        event: 'deleted',
        details: { title: current.title, secretDeleted: removed.deleted, secretPurged: removed.purged },
      },
    );
  }

  /**
   * The sign-in path: one point read of the row per call (so deactivation and rotation are seen at
   * once) and the secret from the per-instance cache keyed by (id, secret version): a warm call
   * makes no Key Vault request. `refreshSecret` drops the cached value and reads it again (after
   * AADSTS7000215 during a code redemption).
   */
  async getForSignIn(id: string, opts: { refreshSecret?: boolean } = {}): Promise<SignInIntegration> {
    const row = await this.loadForSignIn(id, opts.refreshSecret === true);
    if (row.status !== 'active') {
      throw new ConflictError('This integration is not active.', 'integration_inactive');
    }
    const c = currentCredential(row);
    const value = await this.creds.msalCredential(row.id, c, { refresh: opts.refreshSecret === true });
    return {
      integration: this.view(row),
      clientSecret: 'clientSecret' in value ? value.clientSecret : '',
      credential: { value, version: this.creds.version(c) },
    };
  }

  /**
   * Adds a second credential (`pendingCredential`): sign-ins keep using the current one until
   * `promoteCredential` has tested the new one against Entra. One pending credential at a time.
   */
  async addCredential(
    id: string,
    input: AddCredentialInput,
    ifMatch: string | undefined,
    actor: string,
    ctx: ChangeContext = {},
    caller?: Caller,
  ): Promise<Integration> {
    let added: StoredCredential | undefined;
    return this.resource.change(
      id,
      { ifMatch, actor, ctx, caller },
      {
        fresh: { before: true },
        plan: async (current) => {
          if (current.pendingCredential)
            throw new ConflictError(
              'This integration already has a second credential: promote or remove it first.',
              'pending_credential_exists',
            );
          added = await this.creds.create(current.id, input.credential, current, { current: false });
          return {
            next: { ...current, pendingCredential: added, updatedAt: this.resource.now() },
            audit: {
              event: 'credential_added',
              changedFields: ['pendingCredential'],
              securityRelevant: true,
              details: { credentialKind: added.kind },
            },
          };
        },
        write: async (next, current) => {
          try {
            return await this.store.replace(next, current.etag);
          } catch (err) {
            if (added) await this.creds.discard(added);
            throw err;
          }
        },
      },
    );
  }

  /**
   * Tests the pending credential against the tenant and, when Entra takes it, makes it current
   * (docs/security.md CR3). A refusal is a 422 naming the field to fix, written and audited like a
   * failed activation; the current credential keeps working either way.
   */
  async promoteCredential(
    id: string,
    ifMatch: string | undefined,
    actor: string,
    ctx: ChangeContext = {},
    caller?: Caller,
  ): Promise<Integration> {
    const failed: { outcome?: ConnectionTestFailure; lastTest?: IntegrationTestResult } = {};
    const view = await this.resource.change(
      id,
      { ifMatch, actor, ctx, caller },
      {
        fresh: { before: true },
        plan: async (current) => {
          const pending = current.pendingCredential;
          if (!pending)
            throw new ConflictError(
              'This integration has no second credential to promote.',
              'no_pending_credential',
            );
          const outcome = await this.testCredential(current, pending, { cache: false });
          const at = this.resource.now();
          if (!outcome.ok) {
            failed.outcome = outcome;
            failed.lastTest = { at, ok: false, reason: outcome.code };
            // Nothing of the integration changes: the refusal is only audited.
            return undefined;
          }
          const change = credentialSwitch(current, pending);
          const next = withCurrentCredential(
            {
              ...current,
              pendingCredential: undefined,
              retiredKeys: change.retiredKeys,
              lastTest: { at, ok: true, reason: null },
              updatedAt: at,
            },
            pending,
          );
          return {
            next,
            audit: {
              event: 'credential_promoted',
              changedFields: ['credential', 'pendingCredential', 'lastTest'],
              securityRelevant: true,
              details: { credentialKind: pending.kind, previousKind: change.previousKind },
            },
          };
        },
        written: (stored) => {
          this.creds.forget(stored.id);
          return undefined;
        },
      },
    );
    if (failed.outcome && failed.lastTest) {
      await this.deps.audit.record({
        type: 'admin.integration.credential_test_failed',
        actor,
        target: `integration:${view.id}`,
        outcome: 'failure',
        reason: failed.outcome.code,
        securityRelevant: true,
        ...ctx,
        details: {
          credentialKind: view.pendingCredential?.kind ?? 'unknown',
          ...(failed.outcome.aadsts !== undefined ? { aadsts: failed.outcome.aadsts } : {}),
        },
      });
      throw new ActivationFailedError(failed.outcome, failed.lastTest, view.etag);
    }
    return view;
  }

  /** Removes the pending credential (a certificate's key goes too; a secret version is disabled). */
  async removePendingCredential(
    id: string,
    ifMatch: string | undefined,
    actor: string,
    ctx: ChangeContext = {},
  ): Promise<Integration> {
    let removed: StoredCredential | undefined;
    return this.resource.change(
      id,
      { ifMatch, actor, ctx },
      {
        plan: (current) => {
          removed = current.pendingCredential;
          if (!removed) return undefined;
          return {
            next: { ...current, pendingCredential: undefined, updatedAt: this.resource.now() },
            audit: {
              event: 'credential_removed',
              changedFields: ['pendingCredential'],
              securityRelevant: true,
              details: { credentialKind: removed.kind },
            },
          };
        },
        written: async () => {
          if (removed) await this.creds.discard(removed);
          return undefined;
        },
      },
    );
  }

  /**
   * Whether users may (still) be assigned to the integration: it exists and no delete is under way
   * (a mark older than a minute was left by a delete that did not finish, and is ignored).
   */
  async isAssignable(id: string): Promise<boolean> {
    const normalized = typeof id === 'string' ? id.toLowerCase() : '';
    const row = ID_PATTERN.test(normalized) ? await this.store.get(normalized) : undefined;
    if (!row) return false;
    return !row.deletingSince || this.deps.clock.now() - row.deletingSince > DELETE_MARK_MS;
  }

  /** Health warnings: secrets that expired or expire within 30 days. */
  async expiryWarnings(): Promise<HealthWarning[]> {
    const rows = await this.store.list();
    return expiryWarnings(
      rows.map((r) => {
        const c = currentCredential(r);
        return {
          id: r.id,
          secretExpiresOn: credentialExpiresOn(c),
          credentialKind: c.kind === 'certificate' ? ('certificate' as const) : ('clientSecret' as const),
        };
      }),
      this.deps.clock.now(),
    );
  }

  // --- internals ---------------------------------------------------------------------------------

  /** The connection test of one of the integration's credentials against its tenant. */
  private async testCredential(
    row: StoredIntegration,
    credential: StoredCredential,
    opts?: { cache: boolean },
  ) {
    return runConnectionTest(
      this.deps.entraClientFactory,
      row,
      await this.creds.msalCredential(row.id, credential, opts),
      this.creds.expected(credential, row.id),
    );
  }

  /** The row from the per-instance sign-in cache while it is fresh; a point read otherwise. */
  private async loadForSignIn(id: string, fresh: boolean): Promise<StoredIntegration> {
    const key = typeof id === 'string' ? id.toLowerCase() : '';
    const now = this.deps.clock.now();
    const hit = this.signInRows.get(key);
    if (hit && !fresh && now - hit.readAt < SIGN_IN_ROW_TTL_MS) return hit.row;
    const row = await this.load(id);
    if (this.signInRows.size >= 1000) this.signInRows.clear();
    this.signInRows.set(key, { row, readAt: now });
    return row;
  }

  private async load(id: string): Promise<StoredIntegration> {
    const normalized = typeof id === 'string' ? id.toLowerCase() : '';
    const row = ID_PATTERN.test(normalized) ? await this.store.get(normalized) : undefined;
    if (!row) throw new NotFoundError('No integration with this id.', 'integration_not_found');
    return row;
  }

  private view(r: StoredIntegration): Integration {
    return {
      id: r.id,
      kind: 'azure-ad',
      title: r.title,
      applicationId: r.applicationId,
      tenant: r.tenant,
      allowedTenants: r.allowedTenants,
      cloud: r.cloud,
      matchClaim: r.matchClaim,
      status: r.status,
      redirectUri: this.redirectUri,
      ...(r.credential
        ? {}
        : {
            clientSecret: {
              set: true as const,
              version: r.secretVersion,
              expiresOn: r.secretExpiresOn,
              updatedOn: r.secretUpdatedOn,
            },
          }),
      secretExpiresInDays: daysUntil(credentialExpiresOn(currentCredential(r)), this.deps.clock.now()),
      credential: this.creds.view(currentCredential(r), r.id),
      pendingCredential: r.pendingCredential ? this.creds.view(r.pendingCredential, r.id) : null,
      lastTest: r.lastTest,
      createdAt: r.createdAt,
      updatedAt: r.updatedAt,
      etag: r.etag,
    };
  }

  /**
   * A rename claims the new title's index row before the write and releases the old one after it;
   * a failed write releases the new one again.
   */
  private async replaceRetitled(next: IntegrationRecord, current: StoredIntegration) {
    const titleMoved = next.titleKey !== current.titleKey;
    if (titleMoved) await this.store.claimTitle(next.titleKey, next.title, current.id);
    let stored: StoredIntegration;
    try {
      stored = await this.store.replace(next, current.etag);
    } catch (err) {
      if (titleMoved)
        await this.bestEffort('release_title', () => this.store.releaseTitle(next.titleKey, current.id));
      throw err;
    }
    if (titleMoved)
      await this.bestEffort('release_title', () => this.store.releaseTitle(current.titleKey, current.id));
    return stored;
  }

  private async warningsFor(r: Integration): Promise<IntegrationWarning[]> {
    const warnings: IntegrationWarning[] = [];
    const others = (await this.store.withApplicationId(r.applicationId)).filter((o) => o.id !== r.id);
    if (others.length > 0) {
      warnings.push({
        code: 'application_id_shared',
        message:
          'Another integration uses the same Application (client) ID. Use a separate app registration per ' +
          'purpose (for example sign-in apart from a CRM sync).',
        integrationIds: others.map((o) => o.id),
      });
    }
    const expiresOn = r.clientSecret?.expiresOn ?? r.credential.certificate?.expiresOn ?? null;
    const what = r.clientSecret ? 'client secret' : 'certificate';
    const fix = r.clientSecret ? 'rotate it' : 'add a new certificate as the second credential';
    const days = daysUntil(expiresOn, this.deps.clock.now());
    if (days !== null && days <= EXPIRY_WARNING_DAYS) {
      const expired = Date.parse(expiresOn as string) <= this.deps.clock.now();
      warnings.push(
        expired
          ? { code: 'secret_expired', message: `The ${what} has already expired; ${fix}.` }
          : {
              code: 'secret_expiring',
              message: `The ${what} expires in ${days} day(s); ${fix} before then.`,
              daysLeft: days,
            },
      );
    }
    return warnings;
  }

  private async bestEffort(what: string, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.deps.log.warn(`integration.${what}_failed`, { error: err });
    }
  }
}
