import type { Clock } from '../core/clock.ts';
import type { Config } from '../core/config.ts';
import { credentialExpiresOn } from './credentials/kinds.ts';
import { type CredentialManager, currentCredential } from './credentials/manager.ts';
import { daysUntil } from './expiry.ts';
import type { Integration } from './schemas.ts';
import type { StoredIntegration } from './store.ts';

/** The callback URL to register in Entra; from configuration only, never from a request. */
export function callbackUrl(config: Pick<Config, 'BROKER_PUBLIC_BASE_URL'>): string {
  return `${config.BROKER_PUBLIC_BASE_URL}/api/auth/callback`;
}

/** What the management API answers for a row: never a secret value, only versions and dates. */
export function viewIntegration(
  deps: { config: Pick<Config, 'BROKER_PUBLIC_BASE_URL'>; creds: CredentialManager; clock: Clock },
  r: StoredIntegration,
): Integration {
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
    redirectUri: callbackUrl(deps.config),
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
    secretExpiresInDays: daysUntil(credentialExpiresOn(currentCredential(r)), deps.clock.now()),
    credential: deps.creds.view(currentCredential(r), r.id),
    pendingCredential: r.pendingCredential ? deps.creds.view(r.pendingCredential, r.id) : null,
    lastTest: r.lastTest,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    etag: r.etag,
  };
}
