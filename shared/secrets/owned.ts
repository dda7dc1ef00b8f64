/**
 * Client secrets of integrations in Key Vault: one secret per integration, named from its id
 * (`integration-<id>`; ids are random UUIDs, so a name is never reused and a soft-deleted secret
 * never collides with a new one). Every write is a new version; rows keep the version.
 */
import type { SecretClient } from '@azure/keyvault-secrets';
import { DependencyError, sdkStatus } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';

export const SECRET_KIND_TAG = 'azure-ad-client-secret';

export function secretNameFor(integrationId: string): string {
  return `integration-${integrationId}`;
}

export interface WrittenSecret {
  version: string;
  updatedOn: string;
}

/** Who owns the secrets a helper writes: the tag naming the owner's id, its kind tag and the log prefix. */
export interface SecretOwner {
  idTag: string;
  kind: string;
  logPrefix: string;
}

const INTEGRATION_OWNER: SecretOwner = {
  idTag: 'integrationId',
  kind: SECRET_KIND_TAG,
  logPrefix: 'integration',
};

/** The Key Vault secret an integration owns; applications use it too, with their own owner tags. */
export class IntegrationSecrets {
  constructor(
    private readonly client: SecretClient,
    private readonly log: Logger,
    private readonly owner: SecretOwner = INTEGRATION_OWNER,
  ) {}

  /** Writes a new version. Throws DependencyError (503) when the vault fails; the value is never logged. */
  async write(
    name: string,
    integrationId: string,
    value: string,
    expiresOn: string | null,
  ): Promise<WrittenSecret> {
    try {
      const res = await this.client.setSecret(name, value, {
        contentType: 'text/plain',
        tags: { [this.owner.idTag]: integrationId, kind: this.owner.kind },
        ...(expiresOn ? { expiresOn: new Date(expiresOn) } : {}),
      });
      const version = res.properties.version;
      if (!version) throw new Error('Key Vault returned no version');
      const updated = res.properties.updatedOn ?? res.properties.createdOn ?? new Date();
      return { version, updatedOn: updated.toISOString() };
    } catch (err) {
      this.log.warn(`${this.owner.logPrefix}.secret_write_failed`, {
        keyVaultName: name,
        statusCode: sdkStatus(err),
        error: err,
      });
      throw new DependencyError('secrets', err);
    }
  }

  /** Reads one exact version. */
  async read(name: string, version: string): Promise<string> {
    try {
      const res = await this.client.getSecret(name, { version });
      if (typeof res.value !== 'string') throw new Error('Key Vault returned no value');
      return res.value;
    } catch (err) {
      this.log.warn(`${this.owner.logPrefix}.secret_read_failed`, {
        keyVaultName: name,
        statusCode: sdkStatus(err),
        error: err,
      });
      throw new DependencyError('secrets', err);
    }
  }

  /** Best effort: disables a version no row refers to (a rotation whose table write lost a race). */
  async disableVersion(name: string, version: string): Promise<void> {
    try {
      await this.client.updateSecretProperties(name, version, { enabled: false });
    } catch (err) {
      this.log.warn(`${this.owner.logPrefix}.secret_disable_failed`, {
        keyVaultName: name,
        statusCode: sdkStatus(err),
        error: err,
      });
    }
  }

  /**
   * Writes the row that names a freshly written version. If that write fails (a lost race, storage
   * down) no row names the version, so it is disabled before the error goes on: it is never used.
   */
  async writeRowNaming<T>(name: string, version: string, writeRow: () => Promise<T>): Promise<T> {
    try {
      return await writeRow();
    } catch (err) {
      await this.disableVersion(name, version);
      throw err;
    }
  }

  /**
   * Best effort: soft-deletes the secret and purges it where the vault allows (a vault with purge
   * protection refuses with 403 and purges it itself after the retention period). Never throws.
   */
  async remove(name: string): Promise<{ deleted: boolean; purged: boolean }> {
    let deleted = false;
    try {
      const poller = await this.client.beginDeleteSecret(name, { intervalInMs: 100 });
      await poller.pollUntilDone();
      deleted = true;
    } catch (err) {
      if (sdkStatus(err) !== 404) {
        this.log.warn(`${this.owner.logPrefix}.secret_delete_failed`, {
          keyVaultName: name,
          statusCode: sdkStatus(err),
          error: err,
        });
        return { deleted: false, purged: false };
      }
    }
    try {
      await this.client.purgeDeletedSecret(name);
      return { deleted, purged: true };
    } catch (err) {
      const status = sdkStatus(err);
      if (status !== 403 && status !== 404) {
        this.log.warn(`${this.owner.logPrefix}.secret_purge_failed`, {
          keyVaultName: name,
          statusCode: status,
          error: err,
        });
      }
      return { deleted, purged: false };
    }
  }
}
