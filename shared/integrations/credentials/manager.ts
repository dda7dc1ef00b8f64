/**
 * The broker's side of an integration's credentials: what each kind keeps (a Key Vault secret
 * version, a Key Vault key and its certificate, the managed identity's values, or nothing at all),
 * reading the current credential out of the row, and handing MSAL what it needs at a token request.
 */

import { BrokerError, ValidationError } from '../../core/errors.ts';
import type { ManagedIdentityValues } from '../../entra/managed-identity.ts';
import type { EntraClientCredential } from '../../entra/msal.ts';
import type { IntegrationSecrets } from '../../secrets/owned.ts';
import type { SecretCache } from '../cache.ts';
import type { IntegrationRecord } from '../store.ts';
import type { IntegrationAssertions } from './assertions.ts';
import { type CertificateVault, createCertificateCredential } from './certificate.ts';
import {
  type CredentialInput,
  type CredentialView,
  credentialVersion,
  credentialView,
  type FederatedValues,
  type StoredCredential,
} from './kinds.ts';

export interface CredentialManagerDeps {
  secrets: IntegrationSecrets;
  cache: SecretCache;
  keys: CertificateVault;
  managedIdentity: { values(): Promise<ManagedIdentityValues> };
  assertions: IntegrationAssertions;
  now: () => number;
}

type SecretFields = Pick<
  IntegrationRecord,
  'secretName' | 'secretVersion' | 'secretExpiresOn' | 'secretUpdatedOn'
>;

/** The current credential of a row: `credential`, or the client secret of the `secret*` fields. */
export function currentCredential(r: IntegrationRecord): StoredCredential {
  return (
    r.credential ?? {
      kind: 'clientSecret',
      secretName: r.secretName,
      version: r.secretVersion,
      expiresOn: r.secretExpiresOn,
      updatedOn: r.secretUpdatedOn,
    }
  );
}

/** The row with `c` as its current credential (a client secret goes to the `secret*` fields). */
export function withCurrentCredential<R extends IntegrationRecord>(r: R, c: StoredCredential): R {
  if (c.kind === 'clientSecret') {
    const { credential: _c, ...rest } = r;
    return {
      ...rest,
      secretName: c.secretName,
      secretVersion: c.version,
      secretExpiresOn: c.expiresOn,
      secretUpdatedOn: c.updatedOn,
    } as R;
  }
  return { ...r, credential: c };
}

export class CredentialManager {
  constructor(private readonly d: CredentialManagerDeps) {}

  /** The issuer the OP publishes (a federated credential's issuer). */
  get issuer(): string {
    return this.d.assertions.issuer;
  }

  /** Creates what the broker keeps for a new credential (nothing in Key Vault for federated / MI). */
  async create(
    integrationId: string,
    input: CredentialInput,
    secret: Pick<SecretFields, 'secretName'>,
    opts: { current?: boolean } = {},
  ): Promise<StoredCredential> {
    const addedAt = new Date(this.d.now()).toISOString();
    switch (input.kind) {
      case 'clientSecret': {
        const expiresOn = input.expiresOn ?? null;
        const written = await this.d.secrets.write(
          secret.secretName,
          integrationId,
          input.clientSecret,
          expiresOn,
        );
        // A pending secret must not push the current one out of the cache (one version per integration).
        if (opts.current !== false) this.d.cache.set(integrationId, written.version, input.clientSecret);
        return {
          kind: 'clientSecret',
          secretName: secret.secretName,
          version: written.version,
          expiresOn,
          updatedOn: written.updatedOn,
        };
      }
      case 'federated':
        return { kind: 'federated', addedAt };
      case 'managedIdentity': {
        const v = await this.d.managedIdentity.values().catch((err: unknown) => {
          if (err instanceof BrokerError) throw err;
          throw new ValidationError([
            {
              field: 'credential.kind',
              message:
                'the broker has no managed identity to use here (set AZURE_CLIENT_ID to its user-assigned identity)',
            },
          ]);
        });
        return { kind: 'managedIdentity', issuer: v.issuer, subject: v.subject, addedAt };
      }
      case 'certificate':
        return createCertificateCredential(this.d.keys, integrationId, this.d.now());
    }
  }

  /** Takes back what `create` made, when the row that would name it was never written. */
  async discard(c: StoredCredential): Promise<void> {
    if (c.kind === 'certificate') await this.d.keys.remove(c.keyName);
    if (c.kind === 'clientSecret') await this.d.secrets.disableVersion(c.secretName, c.version);
  }

  /** Removes a certificate's key for good (the integration is deleted). */
  async removeKeys(names: string[]): Promise<void> {
    for (const name of names) await this.d.keys.remove(name);
  }

  /**
   * What MSAL authenticates with for this credential of the integration. A client secret comes from
   * the per-instance cache (one Key Vault read per version), or is read again when `refresh` is set.
   */
  async msalCredential(
    integrationId: string,
    c: StoredCredential,
    opts: { refresh?: boolean; cache?: boolean } = {},
  ): Promise<EntraClientCredential> {
    if (c.kind !== 'clientSecret') return this.d.assertions.credentialFor(integrationId, c, undefined);
    const useCache = opts.cache !== false;
    if (opts.refresh) this.d.cache.delete(integrationId);
    else if (useCache) {
      const hit = this.d.cache.get(integrationId, c.version);
      if (hit !== undefined) return { clientSecret: hit };
    }
    const value = await this.d.secrets.read(c.secretName, c.version);
    if (useCache) this.d.cache.set(integrationId, c.version, value);
    return { clientSecret: value };
  }

  /** Keys the per-instance MSAL client of a sign-in: changes whenever the credential does. */
  version(c: StoredCredential): string {
    return credentialVersion(c);
  }

  view(c: StoredCredential, integrationId: string): CredentialView {
    return credentialView(c, integrationId, this.issuer);
  }

  /** What Entra's federated credential must name, for the kinds that have one. */
  expected(c: StoredCredential, integrationId: string): FederatedValues | undefined {
    const v = this.view(c, integrationId);
    return v.federated ?? v.managedIdentity;
  }

  /** Kept certificate assertions of the integration are dropped (its certificate changed). */
  forget(integrationId: string): void {
    this.d.assertions.forget(integrationId);
  }
}
