/**
 * Integrations: configuration in Table Storage, the client secret in Key Vault, the connection test
 * on activation, and the cached read the sign-in path uses. One module per idea: the reads
 * (`lookups.ts`), `create.ts`, `update.ts`, `delete.ts`, the client secret's rotation
 * (`secret-rotation.ts`), the second credential (`second-credential.ts`), activation
 * (`activation-changes.ts`) and the sign-in read (`signin-read.ts`).
 *
 * Consistency without transactions across Table Storage and Key Vault: each write says its order
 * and what a failure in between leaves behind. Every row write is conditional on the etag just
 * read: a concurrent change answers 412.
 */
import type { Caller } from '../admin/caller.ts';
import type { ChangeContext } from '../audit/log.ts';
import type { HealthWarning } from '../ops/health.ts';
import { IntegrationSecrets } from '../secrets/owned.ts';
import { activate, deactivate } from './activation-changes.ts';
import { SecretCache } from './cache.ts';
import { createIntegration } from './create.ts';
import { refusingSources } from './credentials/integration.ts';
import { CredentialManager } from './credentials/manager.ts';
import { deleteIntegration, isAssignable } from './delete.ts';
import { credentialExpiryWarnings, findByTitle, getIntegration, listIntegrations } from './lookups.ts';
import type { IntegrationServiceDeps } from './ports.ts';
import { type IntegrationOperationDeps, type IntegrationParts, integrationResource } from './resource.ts';
import type {
  AddCredentialInput,
  CreateIntegrationInput,
  Integration,
  IntegrationWithWarnings,
  PatchIntegrationInput,
  RotateSecretInput,
} from './schemas.ts';
import { addCredential, promoteCredential, removePendingCredential } from './second-credential.ts';
import { rotateSecret } from './secret-rotation.ts';
import { getForSignIn, type SignInIntegration } from './signin-read.ts';
import { SignInRows } from './signin-rows.ts';
import { IntegrationStore } from './store.ts';
import { updateIntegration } from './update.ts';
import { callbackUrl } from './views.ts';

export type { ChangeContext } from '../audit/log.ts';
export type { AssignmentCounter, IntegrationServiceDeps } from './ports.ts';
export type { SignInIntegration } from './signin-read.ts';
export { SIGN_IN_ROW_TTL_MS } from './signin-rows.ts';

export class IntegrationService {
  /** The integration rows; a field of its own so tests can put a row in the state a delete leaves it in. */
  private readonly store: IntegrationStore;
  /** What every operation works with, built once: the store, Key Vault, the caches, the credentials. */
  private readonly ops: IntegrationOperationDeps;

  constructor(private readonly deps: IntegrationServiceDeps) {
    const signInRows = new SignInRows(deps.clock);
    this.store = new IntegrationStore(
      deps.table,
      () => deps.clock.now(),
      (id) => signInRows.drop(id),
    );
    const vault = new IntegrationSecrets(deps.secrets, deps.log);
    const cache = new SecretCache(deps.clock);
    const sources = deps.credentials ?? refusingSources(deps.config);
    const creds = new CredentialManager({
      secrets: vault,
      cache,
      keys: sources.keys,
      managedIdentity: sources.managedIdentity,
      assertions: sources.assertions,
      now: () => deps.clock.now(),
    });
    const parts: IntegrationParts = {
      store: this.store,
      vault,
      cache,
      creds,
      signInRows,
      clock: deps.clock,
      audit: deps.audit,
      log: deps.log,
      config: deps.config,
      entraClientFactory: deps.entraClientFactory,
      assignmentCounter: deps.assignmentCounter,
    };
    this.ops = { ...parts, resource: integrationResource(parts) };
  }

  /** The callback URL to register in Entra; from configuration only, never from a request. */
  get redirectUri(): string {
    return callbackUrl(this.deps.config);
  }

  list(): Promise<Integration[]> {
    return listIntegrations(this.ops);
  }

  get(id: string): Promise<Integration> {
    return getIntegration(this.ops, id);
  }

  /** Case-insensitive; undefined when no integration has that title. */
  findByTitle(title: string): Promise<Integration | undefined> {
    return findByTitle(this.ops, title);
  }

  create(
    input: CreateIntegrationInput,
    actor: string,
    ctx: ChangeContext = {},
  ): Promise<IntegrationWithWarnings> {
    return createIntegration(this.ops, input, actor, ctx);
  }

  update(
    id: string,
    patch: PatchIntegrationInput,
    ifMatch: string | undefined,
    actor: string,
    ctx: ChangeContext = {},
    caller?: Caller,
  ): Promise<IntegrationWithWarnings> {
    return updateIntegration(this.ops, id, patch, ifMatch, actor, ctx, caller);
  }

  rotateSecret(
    id: string,
    input: RotateSecretInput,
    ifMatch: string | undefined,
    actor: string,
    ctx: ChangeContext = {},
    caller?: Caller,
  ): Promise<Integration> {
    return rotateSecret(this.ops, id, input, ifMatch, actor, ctx, caller);
  }

  /**
   * Runs the connection test; on success the integration becomes active. On failure the status is
   * left as it was, `lastTest` records the reason, and a 422 ActivationFailedError is thrown.
   */
  activate(
    id: string,
    ifMatch: string | undefined,
    actor: string,
    ctx: ChangeContext = {},
    caller?: Caller,
  ): Promise<Integration> {
    return activate(this.ops, id, ifMatch, actor, ctx, caller);
  }

  /** Immediate: the sign-in path reads the row on every call. */
  deactivate(
    id: string,
    ifMatch: string | undefined,
    actor: string,
    ctx: ChangeContext = {},
  ): Promise<Integration> {
    return deactivate(this.ops, id, ifMatch, actor, ctx);
  }

  delete(id: string, ifMatch: string | undefined, actor: string, ctx: ChangeContext = {}): Promise<void> {
    return deleteIntegration(this.ops, id, ifMatch, actor, ctx);
  }

  /** The row (briefly cached per instance) and the credential MSAL authenticates with; 409 when inactive. */
  getForSignIn(id: string, opts: { refreshSecret?: boolean } = {}): Promise<SignInIntegration> {
    return getForSignIn(this.ops, id, opts);
  }

  /** A second credential, used once `promoteCredential` has tested it; one at a time. */
  addCredential(
    id: string,
    input: AddCredentialInput,
    ifMatch: string | undefined,
    actor: string,
    ctx: ChangeContext = {},
    caller?: Caller,
  ): Promise<Integration> {
    return addCredential(this.ops, id, input, ifMatch, actor, ctx, caller);
  }

  /** The pending credential becomes current when Entra takes it; a 422 otherwise. */
  promoteCredential(
    id: string,
    ifMatch: string | undefined,
    actor: string,
    ctx: ChangeContext = {},
    caller?: Caller,
  ): Promise<Integration> {
    return promoteCredential(this.ops, id, ifMatch, actor, ctx, caller);
  }

  /** Removes the pending credential (a certificate's key goes too; a secret version is disabled). */
  removePendingCredential(
    id: string,
    ifMatch: string | undefined,
    actor: string,
    ctx: ChangeContext = {},
  ): Promise<Integration> {
    return removePendingCredential(this.ops, id, ifMatch, actor, ctx);
  }

  /** Whether users may (still) be assigned to the integration: it exists and no delete is under way. */
  isAssignable(id: string): Promise<boolean> {
    return isAssignable(this.ops, id);
  }

  /** Health warnings: secrets that expired or expire within 30 days. */
  expiryWarnings(): Promise<HealthWarning[]> {
    return credentialExpiryWarnings(this.ops);
  }
}
