import { type ConnectionTestOutcome, runConnectionTest } from './activation.ts';
import type { StoredCredential } from './credentials/kinds.ts';
import type { IntegrationParts } from './resource.ts';
import type { StoredIntegration } from './store.ts';

export type ConnectionTestFailure = Extract<ConnectionTestOutcome, { ok: false }>;

/** The connection test of one of the integration's credentials against its tenant. */
export async function testCredential(
  deps: Pick<IntegrationParts, 'creds' | 'entraClientFactory'>,
  row: StoredIntegration,
  credential: StoredCredential,
  opts?: { cache: boolean },
): Promise<ConnectionTestOutcome> {
  return runConnectionTest(
    deps.entraClientFactory,
    row,
    await deps.creds.msalCredential(row.id, credential, opts),
    deps.creds.expected(credential, row.id),
  );
}
