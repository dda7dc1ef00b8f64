/**
 * Starts what the whole suite shares, on free ports: Azurite tables (in memory), the Key Vault
 * stand-in and the Entra ID stand-in. Each test file isolates its data with its own table prefix
 * and secret names. Everything is stopped when the run ends.
 */
import type { TestProject } from 'vitest/node';
import { noteNodeRuntime } from '../scripts/node-runtime.ts';
import { startAzuriteTables } from '../scripts/standins/azurite.ts';
import { ensureLocalCa } from '../scripts/standins/ca.ts';
import { startEntraStandIn } from '../scripts/standins/entra.ts';
import { startKeyVaultStandIn } from '../scripts/standins/keyvault.ts';

export interface StackInfo {
  tableEndpoint: string;
  keyVaultUrl: string;
  entraHost: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    stack: StackInfo;
  }
}

export default async function setup(project: TestProject) {
  noteNodeRuntime();
  const ca = ensureLocalCa();
  if (!process.env.NODE_EXTRA_CA_CERTS?.includes(ca.bundlePath)) {
    throw new Error(
      `Run the tests with \`npm test\` (it points NODE_EXTRA_CA_CERTS at ${ca.bundlePath}, the system bundle plus the local CA).`,
    );
  }
  const [azurite, keyVault, entra] = await Promise.all([
    startAzuriteTables(),
    startKeyVaultStandIn(),
    startEntraStandIn(),
  ]);
  project.provide('stack', {
    tableEndpoint: azurite.endpoint,
    keyVaultUrl: keyVault.url,
    entraHost: entra.host,
  });
  return async () => {
    await Promise.allSettled([azurite.close(), keyVault.close(), entra.close()]);
  };
}
