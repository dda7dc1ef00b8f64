/**
 * A key kept as a Key Vault secret whose versions are the rotations: generated on first use, the
 * latest version is current, the one before it is "previous" (still published / still accepted).
 * The same scheme as shared/sessions/keys.ts (one secret, version = key id, read back after a
 * first write so racing instances agree on one winner), for keys that are not a single EC JWK.
 */
import type { SecretClient } from '@azure/keyvault-secrets';
import { sdkStatus } from '../core/errors.ts';

export interface SecretVersion {
  version: string;
  value: string;
}

export interface CurrentAndPrevious {
  current: SecretVersion;
  previous: SecretVersion | undefined;
}

async function getLatest(secrets: SecretClient, name: string) {
  try {
    return await secrets.getSecret(name);
  } catch (err) {
    if (sdkStatus(err) === 404) return undefined;
    throw err;
  }
}

/**
 * The latest version of `name`, written with `generate()` first when the secret does not exist, then
 * read back: when two instances race to create it, both end up with the same winner.
 */
export async function latestOrCreate(
  secrets: SecretClient,
  name: string,
  generate: () => string,
  opts: { contentType: string; tags: Record<string, string>; onCreate?: () => void },
): Promise<SecretVersion> {
  let latest = await getLatest(secrets, name);
  if (!latest) {
    await secrets.setSecret(name, generate(), { contentType: opts.contentType, tags: opts.tags });
    opts.onCreate?.();
    latest = await getLatest(secrets, name);
  }
  if (!latest?.value || !latest.properties.version) throw new Error(`secret ${name} has no value`);
  return { version: latest.properties.version, value: latest.value };
}

/** The current version (created with `generate()` when the secret does not exist) and the previous one. */
export async function loadCurrentAndPrevious(
  secrets: SecretClient,
  name: string,
  generate: () => string,
  tags: Record<string, string>,
): Promise<CurrentAndPrevious> {
  const current = await latestOrCreate(secrets, name, generate, { contentType: 'application/json', tags });
  const versions: { version: string; createdOn: number }[] = [];
  for await (const p of secrets.listPropertiesOfSecretVersions(name)) {
    if (p.enabled !== false && p.version && p.version !== current.version) {
      versions.push({ version: p.version, createdOn: p.createdOn?.getTime() ?? 0 });
    }
  }
  versions.sort((a, b) => b.createdOn - a.createdOn);
  const prev = versions[0];
  if (!prev) return { current, previous: undefined };
  const s = await secrets.getSecret(name, { version: prev.version });
  return { current, previous: s.value ? { version: prev.version, value: s.value } : undefined };
}

/** Writes a new version (a rotation); returns its version id. */
export async function rotateSecret(
  secrets: SecretClient,
  name: string,
  generate: () => string,
  tags: Record<string, string>,
): Promise<string> {
  const res = await secrets.setSecret(name, generate(), { contentType: 'application/json', tags });
  return res.properties.version ?? '';
}
