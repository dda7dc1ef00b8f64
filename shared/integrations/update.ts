import type { Caller } from '../admin/caller.ts';
import type { ChangeContext } from '../audit/log.ts';
import { ValidationError } from '../core/errors.ts';
import type { IntegrationOperationDeps } from './resource.ts';
import {
  type IntegrationWarning,
  type IntegrationWithWarnings,
  matchClaimIssue,
  type PatchIntegrationInput,
  tenantIssue,
} from './schemas.ts';
import { type IntegrationRecord, titleKey } from './store.ts';
import { checkTitle, replaceRetitled } from './titles.ts';
import { warningsFor } from './warnings.ts';

const PATCH_FIELDS = ['title', 'applicationId', 'tenant', 'allowedTenants', 'cloud', 'matchClaim'] as const;
/** Changing one of these invalidates the last connection test: the integration must be activated again. */
const CREDENTIAL_FIELDS = new Set<string>(['applicationId', 'tenant', 'allowedTenants', 'cloud']);
/**
 * docs/security.md AD5: changing one of these decides who can sign in, so a browser session needs a
 * recent sign-in for it (as for rotating the secret and activating, which decide it too).
 */
const SIGN_IN_FIELDS = ['applicationId', 'tenant', 'allowedTenants', 'cloud', 'matchClaim'] as const;

export async function updateIntegration(
  deps: IntegrationOperationDeps,
  id: string,
  patch: PatchIntegrationInput,
  ifMatch: string | undefined,
  actor: string,
  ctx: ChangeContext,
  caller?: Caller,
): Promise<IntegrationWithWarnings> {
  const { resource } = deps;
  const warnings: IntegrationWarning[] = [];
  const view = await resource.change(
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
        next.updatedAt = resource.now();
        return { next, audit: { event: 'updated', changedFields } };
      },
      write: (next, current) => replaceRetitled(deps, next, current),
    },
  );
  return { ...view, warnings: [...warnings, ...(await warningsFor(deps, view))] };
}
