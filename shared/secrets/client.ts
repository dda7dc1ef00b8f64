import {
  type AccessToken,
  DefaultAzureCredential,
  ManagedIdentityCredential,
  type TokenCredential,
} from '@azure/identity';
import { SecretClient } from '@azure/keyvault-secrets';
import type { Config } from '../config.ts';
import {
  DEPENDENCY_RETRY_OPTIONS,
  dependencyPolicy,
  dependencyTimeoutMs,
  describeSecretRequest,
} from '../dependency.ts';

/** The token the local stack sends to the Key Vault stand-in (which accepts any bearer token). */
export const LOCAL_DEV_TOKEN = 'local-dev-token';

/** A credential that always returns the fixed local token, valid for an hour. Local stack only. */
function localDevCredential(): TokenCredential {
  return {
    getToken: async (): Promise<AccessToken> => ({
      token: LOCAL_DEV_TOKEN,
      expiresOnTimestamp: Date.now() + 3600 * 1000,
      tokenType: 'Bearer',
    }),
  };
}

/**
 * The app's Azure identity: the user-assigned managed identity when AZURE_CLIENT_ID is set,
 * DefaultAzureCredential otherwise, and a static local token when BROKER_DEV_CREDENTIALS is on
 * (config validation only allows that when every endpoint is on localhost).
 */
export function createAzureCredential(
  config: Pick<Config, 'BROKER_DEV_CREDENTIALS' | 'AZURE_CLIENT_ID'>,
): TokenCredential {
  if (config.BROKER_DEV_CREDENTIALS) return localDevCredential();
  if (config.AZURE_CLIENT_ID) return new ManagedIdentityCredential({ clientId: config.AZURE_CLIENT_ID });
  return new DefaultAzureCredential();
}

/**
 * A SecretClient for the broker's vault. With dev credentials the challenge resource check is off:
 * the stand-in lives on localhost, so its challenge (resource https://vault.azure.net) cannot
 * match the host. Production keeps the check on.
 */
export function createSecretClient(
  config: Pick<
    Config,
    'BROKER_KEY_VAULT_URI' | 'BROKER_DEV_CREDENTIALS' | 'AZURE_CLIENT_ID' | 'BROKER_DEPENDENCY_TIMEOUT_MS'
  >,
  credential: TokenCredential = createAzureCredential(config),
): SecretClient {
  return new SecretClient(config.BROKER_KEY_VAULT_URI, credential, {
    disableChallengeResourceVerification: config.BROKER_DEV_CREDENTIALS === true,
    // Fails fast when the vault is down or hangs: 503 within ~2 s (issue 11 #5), as for Table Storage.
    retryOptions: DEPENDENCY_RETRY_OPTIONS,
    additionalPolicies: [
      {
        policy: dependencyPolicy('secrets', describeSecretRequest, dependencyTimeoutMs(config)),
        position: 'perCall',
      },
    ],
  });
}
