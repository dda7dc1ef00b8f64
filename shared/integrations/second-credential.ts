import type { Caller } from '../admin/caller.ts';
import type { ChangeContext } from '../audit/log.ts';
import { ConflictError } from '../core/errors.ts';
import { ActivationFailedError } from './activation.ts';
import { type ConnectionTestFailure, testCredential } from './credential-test.ts';
import { credentialSwitch } from './credentials/integration.ts';
import type { StoredCredential } from './credentials/kinds.ts';
import { withCurrentCredential } from './credentials/manager.ts';
import type { IntegrationOperationDeps } from './resource.ts';
import type { AddCredentialInput, Integration, IntegrationTestResult } from './schemas.ts';

/**
 * Adds a second credential (`pendingCredential`): sign-ins keep using the current one until
 * `promoteCredential` has tested the new one against Entra. One pending credential at a time.
 */
export async function addCredential(
  deps: IntegrationOperationDeps,
  id: string,
  input: AddCredentialInput,
  ifMatch: string | undefined,
  actor: string,
  ctx: ChangeContext,
  caller?: Caller,
): Promise<Integration> {
  const { resource, creds, store } = deps;
  let added: StoredCredential | undefined;
  return resource.change(
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
        added = await creds.create(current.id, input.credential, current, { current: false });
        return {
          next: { ...current, pendingCredential: added, updatedAt: resource.now() },
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
          return await store.replace(next, current.etag);
        } catch (err) {
          if (added) await creds.discard(added);
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
export async function promoteCredential(
  deps: IntegrationOperationDeps,
  id: string,
  ifMatch: string | undefined,
  actor: string,
  ctx: ChangeContext,
  caller?: Caller,
): Promise<Integration> {
  const { resource, creds } = deps;
  const failed: { outcome?: ConnectionTestFailure; lastTest?: IntegrationTestResult } = {};
  const view = await resource.change(
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
        const outcome = await testCredential(deps, current, pending, { cache: false });
        const at = resource.now();
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
        creds.forget(stored.id);
        return undefined;
      },
    },
  );
  if (failed.outcome && failed.lastTest) {
    await deps.audit.record({
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
export async function removePendingCredential(
  deps: IntegrationOperationDeps,
  id: string,
  ifMatch: string | undefined,
  actor: string,
  ctx: ChangeContext,
): Promise<Integration> {
  const { resource, creds } = deps;
  let removed: StoredCredential | undefined;
  return resource.change(
    id,
    { ifMatch, actor, ctx },
    {
      plan: (current) => {
        removed = current.pendingCredential;
        if (!removed) return undefined;
        return {
          next: { ...current, pendingCredential: undefined, updatedAt: resource.now() },
          audit: {
            event: 'credential_removed',
            changedFields: ['pendingCredential'],
            securityRelevant: true,
            details: { credentialKind: removed.kind },
          },
        };
      },
      written: async () => {
        if (removed) await creds.discard(removed);
        return undefined;
      },
    },
  );
}
