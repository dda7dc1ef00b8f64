/**
 * Create, without transactions across Table Storage and Key Vault: title index row (409 on a
 * duplicate) → Key Vault secret → integration row. A failed secret write removes the index row; a
 * failed row write deletes (and purges) the secret and removes the index row. A crash in between
 * leaves at most an index row pointing at a missing integration, which the next claim of that title
 * takes over after a minute.
 */
import { randomUUID } from 'node:crypto';
import type { ChangeContext } from '../audit/log.ts';
import { secretNameFor } from '../secrets/owned.ts';
import type { StoredCredential } from './credentials/kinds.ts';
import { withCurrentCredential } from './credentials/manager.ts';
import { bestEffort, type IntegrationOperationDeps } from './resource.ts';
import { type CreateIntegrationInput, createdCredential, type IntegrationWithWarnings } from './schemas.ts';
import { type IntegrationRecord, type StoredIntegration, titleKey } from './store.ts';
import { checkTitle } from './titles.ts';
import { viewIntegration } from './views.ts';
import { warningsFor } from './warnings.ts';

export async function createIntegration(
  deps: IntegrationOperationDeps,
  input: CreateIntegrationInput,
  actor: string,
  ctx: ChangeContext,
): Promise<IntegrationWithWarnings> {
  const { store, creds, vault, resource, log } = deps;
  checkTitle(input.title);
  const id = randomUUID();
  const key = titleKey(input.title);
  const secretName = secretNameFor(id);
  await store.claimTitle(key, input.title, id);

  const wanted = createdCredential(input);
  let credential: StoredCredential;
  try {
    credential = await creds.create(id, wanted, { secretName });
  } catch (err) {
    await bestEffort(log, 'release_title', () => store.releaseTitle(key, id));
    throw err;
  }

  const now = resource.now();
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
    stored = await store.insert(record);
  } catch (err) {
    log.warn('integration.create_rolled_back', { integrationId: id, error: err });
    await creds.discard(credential);
    await vault.remove(secretName);
    await bestEffort(log, 'release_title', () => store.releaseTitle(key, id));
    throw err;
  }

  await resource.record(
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
  const view = viewIntegration(deps, stored);
  return { ...view, warnings: await warningsFor(deps, view) };
}
