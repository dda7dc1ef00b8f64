/**
 * MSAL Node confidential clients for Entra authorities. Discovery is configured statically
 * (see authority.ts), so a client only ever calls the tenant's token endpoint. PII logging is off
 * and the logger never receives secrets: MSAL's PII-bearing messages are dropped.
 */
import type {
  AuthenticationResult,
  ConfidentialClientApplication,
  Configuration,
  TokenCache,
} from '@azure/msal-node';
import type { Config } from '../core/config.ts';
import { Lazy } from '../core/lazy.ts';
import { type EntraCloud, graphDefaultScope, msalAuthorityOptions, tokenEndpoint } from './authority.ts';

/**
 * Produces a client assertion for one token request; MSAL calls it at every request, with the token
 * endpoint the request goes to (the audience of a certificate assertion).
 */
export type ClientAssertionSource = (request: { clientId: string; tokenEndpoint: string }) => Promise<string>;

/** How the app registration authenticates: its client secret, or a client assertion (RFC 7523). */
export type EntraClientCredential = { clientSecret: string } | { clientAssertion: ClientAssertionSource };

export interface EntraClientArgs {
  applicationId: string;
  tenant: string;
  cloud: EntraCloud;
  /** The client secret; absent when `clientAssertion` authenticates the app instead. */
  clientSecret?: string;
  clientAssertion?: ClientAssertionSource;
}

export type EntraLogLevel = 'error' | 'warning';

export interface EntraClientOptions {
  /** Receives MSAL's warnings and errors (never PII-flagged messages). Default: dropped. */
  logger?: (level: EntraLogLevel, message: string) => void;
}

/** What the broker uses of an MSAL confidential client (a ConfidentialClientApplication is one). */
export type EntraClient = Pick<
  ConfidentialClientApplication,
  'acquireTokenByCode' | 'acquireTokenByClientCredential' | 'getAuthCodeUrl'
> & {
  getTokenCache(): Pick<TokenCache, 'getAllAccounts' | 'removeAccount'>;
};

/** Builds the MSAL client for one integration; tests may pass their own. */
export type EntraClientFactory = (args: EntraClientArgs) => EntraClient;

type Msal = typeof import('@azure/msal-node');

/**
 * MSAL Node, loaded on the instance's first use (a sign-in callback or a connection test): the
 * deployed bundle keeps it in a file of its own (scripts/build.ts LAZY_VENDOR_FILES), so an
 * instance that starts, serves the sign-in page or starts a sign-in never reads or compiles it.
 */
const msal = new Lazy<Msal>(() => import('@azure/msal-node'));

/** An MSAL client built on its first call, once MSAL is loaded; later calls go straight to it. */
class LazyConfidentialClient implements EntraClient {
  private built: ConfidentialClientApplication | undefined;
  private readonly client = new Lazy(async () => {
    this.built = this.create(await msal.get());
    return this.built;
  });

  constructor(private readonly create: (m: Msal) => ConfidentialClientApplication) {}

  private real(): Promise<ConfidentialClientApplication> {
    return this.client.get();
  }

  async acquireTokenByCode(
    ...args: Parameters<ConfidentialClientApplication['acquireTokenByCode']>
  ): Promise<AuthenticationResult> {
    return (await this.real()).acquireTokenByCode(...args);
  }

  async acquireTokenByClientCredential(
    ...args: Parameters<ConfidentialClientApplication['acquireTokenByClientCredential']>
  ): Promise<AuthenticationResult | null> {
    return (await this.real()).acquireTokenByClientCredential(...args);
  }

  async getAuthCodeUrl(
    ...args: Parameters<ConfidentialClientApplication['getAuthCodeUrl']>
  ): Promise<string> {
    return (await this.real()).getAuthCodeUrl(...args);
  }

  getTokenCache(): Pick<TokenCache, 'getAllAccounts' | 'removeAccount'> {
    return {
      // A client never called holds no accounts.
      getAllAccounts: async (...args) =>
        this.built ? this.built.getTokenCache().getAllAccounts(...args) : [],
      removeAccount: async (...args) => (await this.real()).getTokenCache().removeAccount(...args),
    };
  }
}

export function createConfidentialClient(
  args: EntraClientArgs,
  config: Pick<Config, 'BROKER_ENTRA_PUBLIC_AUTHORITY_HOST'>,
  opts: EntraClientOptions = {},
): EntraClient {
  const authority = msalAuthorityOptions(args.cloud, args.tenant, config);
  const tokenUrl = tokenEndpoint(args.cloud, args.tenant, config);
  const secret = args.clientSecret ?? '';
  const assertion = args.clientAssertion;
  const { logger } = opts;
  return new LazyConfidentialClient(({ ConfidentialClientApplication, LogLevel }) => {
    const msalConfig: Configuration = {
      auth: {
        clientId: args.applicationId,
        ...(assertion
          ? {
              clientAssertion: (c: { clientId: string; tokenEndpoint?: string }) =>
                assertion({ clientId: c.clientId, tokenEndpoint: c.tokenEndpoint ?? tokenUrl }),
            }
          : { clientSecret: secret }),
        authority: authority.authority,
        knownAuthorities: authority.knownAuthorities,
        authorityMetadata: authority.authorityMetadata,
        cloudDiscoveryMetadata: authority.cloudDiscoveryMetadata,
      },
      system: {
        loggerOptions: {
          piiLoggingEnabled: false,
          logLevel: LogLevel.Warning,
          loggerCallback: (level, message, containsPii) => {
            if (!logger || containsPii || level > LogLevel.Warning) return;
            // Defence in depth: MSAL should never log the secret, but make sure it cannot leak.
            const safe = secret ? message.split(secret).join('[redacted]') : message;
            logger(level === LogLevel.Error ? 'error' : 'warning', safe);
          },
        },
      },
    };
    return new ConfidentialClientApplication(msalConfig);
  });
}

/** The production factory: `createConfidentialClient` bound to the configuration. */
export function defaultEntraClientFactory(
  config: Pick<Config, 'BROKER_ENTRA_PUBLIC_AUTHORITY_HOST'>,
  opts: EntraClientOptions = {},
): EntraClientFactory {
  return (args) => createConfidentialClient(args, config, opts);
}

/**
 * Tests an application's credentials with a client-credentials request for Microsoft Graph's
 * `.default` scope in the cloud. Throws MSAL's error on failure (classify it with classifyEntraError).
 */
export async function testClientCredentials(
  client: EntraClient,
  cloud: EntraCloud,
): Promise<AuthenticationResult> {
  const result = await client.acquireTokenByClientCredential({
    scopes: [graphDefaultScope(cloud)],
    skipCache: true,
  });
  if (!result) throw new Error('Entra returned no token for the client-credentials request');
  return result;
}

/**
 * Bounds an MSAL call (by dependencyTimeoutMs: 2 s in production): MSAL Node's own network timeout is longer than the broker's 3 s budget for a
 * dependency. On timeout this rejects with an `ETIMEDOUT` error, which classifyEntraError calls
 * `unreachable`; the late outcome of the call itself is ignored.
 */
export function withEntraTimeout<T>(call: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(Object.assign(new Error('Entra did not answer in time'), { code: 'ETIMEDOUT' })),
      ms,
    );
  });
  call.catch(() => {}); // a late failure after the timeout is not an unhandled rejection
  return Promise.race([call, timeout]).finally(() => clearTimeout(timer));
}
