/**
 * The Function App's managed identity as a federated credential: Entra issues the identity a token
 * for `api://AzureADTokenExchange`, and an app registration of the same tenant that trusts the
 * identity (issuer = the tenant's v2.0 issuer, subject = the identity's object id) takes that token
 * as its client assertion. @azure/identity fetches the token from the platform's identity endpoint
 * (IDENTITY_ENDPOINT / IDENTITY_HEADER) and caches it until shortly before it expires.
 */
import type { TokenCredential } from '@azure/identity';
import { decodeJwt } from 'jose';
import type { Config } from '../core/config.ts';
import { LazyAzureCredential } from '../secrets/client.ts';
import { TOKEN_EXCHANGE_AUDIENCE } from './client-assertion.ts';

const SCOPE = `${TOKEN_EXCHANGE_AUDIENCE}/.default`;

/** What to paste in Entra for the identity, read from a token the identity was issued. */
export interface ManagedIdentityValues {
  issuer: string;
  subject: string;
}

export class ManagedIdentityExchange {
  constructor(private readonly credential: TokenCredential) {}

  async exchangeToken(): Promise<string> {
    const token = await this.credential.getToken(SCOPE);
    if (!token?.token) throw new Error('The managed identity endpoint returned no token');
    return token.token;
  }

  /** The issuer and subject (object id) Entra's federated credential must name for this identity. */
  async values(): Promise<ManagedIdentityValues> {
    const claims = decodeJwt(await this.exchangeToken());
    const subject = typeof claims.oid === 'string' ? claims.oid : claims.sub;
    if (typeof claims.iss !== 'string' || typeof subject !== 'string')
      throw new Error('The managed identity token names no issuer or subject');
    return { issuer: claims.iss, subject };
  }
}

/**
 * The user-assigned identity (AZURE_CLIENT_ID) or the system-assigned one. Not the static local
 * credential of BROKER_DEV_CREDENTIALS: Entra must see a real token, which the local stack's Entra
 * stand-in issues at its identity endpoint.
 */
export function managedIdentityExchange(config: Pick<Config, 'AZURE_CLIENT_ID'>): ManagedIdentityExchange {
  const clientId = config.AZURE_CLIENT_ID;
  return new ManagedIdentityExchange(
    new LazyAzureCredential((m) => new m.ManagedIdentityCredential(clientId ? { clientId } : {})),
  );
}
