/**
 * Rotate: new Key Vault version → row update conditional on the etag read; if the row update fails
 * the new version is disabled (the row still names the old one, so nothing breaks).
 */
import type { Caller } from '../admin/caller.ts';
import type { ChangeContext } from '../audit/log.ts';
import { ConflictError } from '../core/errors.ts';
import type { IntegrationOperationDeps } from './resource.ts';
import type { Integration, RotateSecretInput } from './schemas.ts';

/** Rotating a secret of an integration that authenticates another way. */
function notClientSecret(): ConflictError {
  return new ConflictError(
    'This integration does not use a client secret: add one as its second credential (POST …/credentials) instead.',
    'not_client_secret',
  );
}

export async function rotateSecret(
  deps: IntegrationOperationDeps,
  id: string,
  input: RotateSecretInput,
  ifMatch: string | undefined,
  actor: string,
  ctx: ChangeContext,
  caller?: Caller,
): Promise<Integration> {
  const { resource, vault, store, cache } = deps;
  const expiresOn = input.expiresOn ?? null;
  return resource.change(
    id,
    { ifMatch, actor, ctx, caller },
    {
      fresh: { before: true },
      plan: async (current) => {
        if (current.credential) throw notClientSecret();
        const written = await vault.write(current.secretName, current.id, input.clientSecret, expiresOn);
        return {
          next: {
            ...current,
            secretVersion: written.version,
            secretExpiresOn: expiresOn,
            secretUpdatedOn: written.updatedOn,
            updatedAt: resource.now(),
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
        vault.writeRowNaming(next.secretName, next.secretVersion, () => store.replace(next, current.etag)),
      written: (stored) => {
        cache.set(stored.id, stored.secretVersion, input.clientSecret);
      },
    },
  );
}
