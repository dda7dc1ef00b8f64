/**
 * MSAL clients for the sign-in path, cached per instance by (integration, etag, credential version), so a
 * warm sign-in builds nothing and reads nothing from Key Vault. Accounts are removed from a client's
 * token cache after each exchange (`forgetAccount`), so a long-lived instance does not grow per user.
 */
import type { EntraClient, EntraClientFactory } from '../entra/msal.ts';
import type { SignInCredential, SignInIntegration } from './ports.ts';

const MAX_CLIENTS = 200;

export class EntraClientCache {
  private readonly clients = new Map<string, EntraClient>();

  constructor(private readonly factory: EntraClientFactory) {}

  get(integration: SignInIntegration, clientSecret: string, credential?: SignInCredential): EntraClient {
    const version = credential?.version ?? integration.clientSecret?.version ?? '';
    const key = `${integration.id}:${integration.etag}:${version}`;
    let client = this.clients.get(key);
    if (!client) {
      // Old entries of this integration (previous etag or secret) are dropped.
      for (const k of this.clients.keys()) if (k.startsWith(`${integration.id}:`)) this.clients.delete(k);
      if (this.clients.size >= MAX_CLIENTS) {
        const oldest = this.clients.keys().next().value;
        if (oldest !== undefined) this.clients.delete(oldest);
      }
      client = this.factory({
        applicationId: integration.applicationId,
        tenant: integration.tenant,
        cloud: integration.cloud,
        ...(credential ? credential.value : { clientSecret }),
      });
      this.clients.set(key, client);
    }
    return client;
  }

  /** Number of accounts held across all cached clients (the benchmark and a test watch it stay at 0). */
  async cachedAccounts(): Promise<number> {
    let n = 0;
    for (const c of this.clients.values()) n += (await c.getTokenCache().getAllAccounts()).length;
    return n;
  }

  get size(): number {
    return this.clients.size;
  }
}
