/**
 * What the integration service needs for credentials beyond client secrets, and the rule of a switch
 * from one credential to the next.
 */
import type { Config } from '../../core/config.ts';
import { ValidationError } from '../../core/errors.ts';
import type { ManagedIdentityValues } from '../../entra/managed-identity.ts';
import type { IntegrationRecord } from '../store.ts';
import { IntegrationAssertions } from './assertions.ts';
import type { CertificateVault } from './certificate.ts';
import type { CredentialKind, StoredCredential } from './kinds.ts';

export interface CredentialSources {
  assertions: IntegrationAssertions;
  keys: CertificateVault;
  managedIdentity: { values(): Promise<ManagedIdentityValues> };
}

function unavailable(kind: CredentialKind): ValidationError {
  return new ValidationError([
    { field: 'credential.kind', message: `"${kind}" is not available in this deployment of the broker` },
  ]);
}

/** Sources for a service built without them (some tests): every kind but the client secret is refused. */
export function refusingSources(config: Pick<Config, 'BROKER_PUBLIC_BASE_URL'>): CredentialSources {
  const refuse = (kind: CredentialKind) => async (): Promise<never> => {
    throw unavailable(kind);
  };
  return {
    assertions: new IntegrationAssertions({
      op: {
        issuer: `${new URL(config.BROKER_PUBLIC_BASE_URL).origin}/api/oidc`,
        assertionSigningKey: refuse('federated'),
      },
      managedIdentity: { exchangeToken: refuse('managedIdentity') },
      vault: { signDigest: refuse('certificate') },
      now: Date.now,
    }),
    keys: { create: refuse('certificate'), signDigest: refuse('certificate'), remove: async () => {} },
    managedIdentity: { values: refuse('managedIdentity') },
  };
}

export interface PendingCredentialChange {
  previousKind: CredentialKind;
  /** Key Vault keys no longer used by the integration, removed when it is deleted. */
  retiredKeys: string[];
}

/**
 * Making `pending` current. The previous credential's Key Vault material stays (a secret version,
 * a certificate's key) until the integration is deleted: an instance that read the row before the
 * switch may still use it for a few seconds, and Entra keeps accepting it until the admin removes it
 * there.
 */
export function credentialSwitch(
  current: IntegrationRecord,
  pending: StoredCredential,
): PendingCredentialChange {
  const previous = current.credential;
  const retired = [...(current.retiredKeys ?? [])];
  if (
    previous?.kind === 'certificate' &&
    !(pending.kind === 'certificate' && pending.keyName === previous.keyName)
  )
    retired.push(previous.keyName);
  return { previousKind: previous?.kind ?? 'clientSecret', retiredKeys: retired };
}
