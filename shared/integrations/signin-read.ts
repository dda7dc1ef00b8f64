/**
 * The read the sign-in flow makes of an integration: the row from a short per-instance cache, the
 * credential MSAL authenticates with, and the refusal of an integration that is not active.
 */
import { ConflictError } from '../core/errors.ts';
import type { EntraClientCredential } from '../entra/msal.ts';
import { currentCredential } from './credentials/manager.ts';
import { type IntegrationParts, loadIntegration } from './resource.ts';
import type { Integration } from './schemas.ts';
import { viewIntegration } from './views.ts';

export interface SignInIntegration {
  integration: Integration;
  /** The client secret's value when the credential is one; empty otherwise. */
  clientSecret: string;
  /** What MSAL authenticates with, and a key that changes whenever the credential does. */
  credential: { value: EntraClientCredential; version: string };
}

/**
 * The sign-in path: the row from the per-instance sign-in cache (signin-rows.ts: a change made on
 * this instance is seen at once, one made elsewhere within SIGN_IN_ROW_TTL_MS) and the secret from
 * the per-instance cache keyed by (id, secret version): a warm call makes no Key Vault request. `refreshSecret` drops the cached value and reads it again (after
 * AADSTS7000215 during a code redemption).
 */
export async function getForSignIn(
  deps: IntegrationParts,
  id: string,
  opts: { refreshSecret?: boolean },
): Promise<SignInIntegration> {
  const { creds, store } = deps;
  const row = await deps.signInRows.read(id, opts.refreshSecret === true, (rowId) =>
    loadIntegration(store, rowId),
  );
  if (row.status !== 'active') {
    throw new ConflictError('This integration is not active.', 'integration_inactive');
  }
  const c = currentCredential(row);
  const value = await creds.msalCredential(row.id, c, { refresh: opts.refreshSecret === true });
  return {
    integration: viewIntegration(deps, row),
    clientSecret: 'clientSecret' in value ? value.clientSecret : '',
    credential: { value, version: creds.version(c) },
  };
}
