import type { Caller } from '../admin/caller.ts';
import type { ChangeContext } from '../audit/log.ts';
import { ActivationFailedError } from './activation.ts';
import { type ConnectionTestFailure, testCredential } from './credential-test.ts';
import { currentCredential } from './credentials/manager.ts';
import type { IntegrationOperationDeps } from './resource.ts';
import type { Integration, IntegrationTestResult } from './schemas.ts';

/**
 * Runs the connection test; on success the integration becomes active. On failure the status is
 * left as it was, `lastTest` records the reason, and a 422 ActivationFailedError is thrown.
 */
export async function activate(
  deps: IntegrationOperationDeps,
  id: string,
  ifMatch: string | undefined,
  actor: string,
  ctx: ChangeContext,
  caller?: Caller,
): Promise<Integration> {
  const { resource } = deps;
  // The failed test is written and audited like any change, then answered as a 422.
  const failed: { outcome?: ConnectionTestFailure; lastTest?: IntegrationTestResult } = {};
  const view = await resource.change(
    id,
    { ifMatch, actor, ctx, caller },
    {
      fresh: { before: true },
      plan: async (current) => {
        const outcome = await testCredential(deps, current, currentCredential(current));
        const at = resource.now();
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
export async function deactivate(
  deps: IntegrationOperationDeps,
  id: string,
  ifMatch: string | undefined,
  actor: string,
  ctx: ChangeContext,
): Promise<Integration> {
  const { resource, cache } = deps;
  return resource.change(
    id,
    { ifMatch, actor, ctx },
    {
      plan: (current) =>
        current.status === 'inactive'
          ? undefined
          : {
              next: { ...current, status: 'inactive', updatedAt: resource.now() },
              audit: { event: 'deactivated', changedFields: ['status'] },
            },
      written: (stored) => {
        cache.delete(stored.id);
      },
    },
  );
}
