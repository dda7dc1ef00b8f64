import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/identity';
import { SecretClient } from '@azure/keyvault-secrets';
import type { Config } from '../core/config.ts';
import {
  DEPENDENCY_RETRY_OPTIONS,
  dependencyPolicy,
  dependencyTimeoutMs,
  describeSecretRequest,
} from '../core/dependency.ts';
import { Lazy } from '../core/lazy.ts';

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

type Identity = typeof import('@azure/identity');

/**
 * @azure/identity, loaded on the first token request: the deployed bundle keeps it in a file of its
 * own (scripts/build.ts LAZY_VENDOR_FILES), so an instance's start-up neither reads nor compiles it,
 * and the local stack (dev credentials) never loads it.
 */
const identity = new Lazy<Identity>(() => import('@azure/identity'));

/** A credential of @azure/identity, created on its first token request (then cached per instance). */
export class LazyAzureCredential implements TokenCredential {
  private readonly inner = new Lazy(async () => this.create(await identity.get()));

  constructor(private readonly create: (m: Identity) => TokenCredential) {}

  /** The underlying credential (loads @azure/identity). */
  credential(): Promise<TokenCredential> {
    return this.inner.get();
  }

  async getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken | null> {
    return (await this.credential()).getToken(scopes, options);
  }
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
  const clientId = config.AZURE_CLIENT_ID;
  if (clientId) return new LazyAzureCredential((m) => new m.ManagedIdentityCredential({ clientId }));
  return new LazyAzureCredential((m) => new m.DefaultAzureCredential());
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
    // Fails fast when the vault is down or hangs: 503 within ~2 s, as for Table Storage.
    retryOptions: DEPENDENCY_RETRY_OPTIONS,
    additionalPolicies: [
      {
        policy: dependencyPolicy('secrets', describeSecretRequest, dependencyTimeoutMs(config)),
        position: 'perCall',
      },
    ],
  });
}
