/**
 * Access tokens for APIs (docs/security.md OP14): an application names an API with `resource`
 * (RFC 8707) and gets a JWT access token for it (RFC 9068: `typ` `at+jwt`, `aud` = that API only,
 * `client_id`, `scope` (the API's scopes it asked for), `sub`, and the user's `roles`), signed with the
 * OP's keys and verifiable from the JWKS. Only applications the API lists may ask for it, with the
 * authorization code or, for confidential applications, `client_credentials` (`sub` = the client).
 * Without `resource` nothing changes: an opaque access token for userinfo.
 */
import type { Accounts } from './accounts.ts';
import type { ApiSource } from './ports.ts';
import type { OidcContext } from './provider.ts';

/** What oidc-provider needs to know of a resource server. */
export interface ResourceServerInfo {
  scope: string;
  audience: string;
  accessTokenTTL: number;
  accessTokenFormat: 'jwt';
  jwt: { sign: { alg: 'RS256' } };
}

/** The resource server `resource` names, for `clientId`; undefined when unknown or not allowed. */
export async function resourceServer(
  apis: ApiSource,
  resource: string,
  clientId: string,
): Promise<ResourceServerInfo | undefined> {
  const api = await apis.byResource(resource);
  if (!api?.allowedApplications.includes(clientId)) return undefined;
  return {
    scope: api.scopes.join(' '),
    audience: api.resource,
    accessTokenTTL: api.accessTokenLifetimeSeconds,
    accessTokenFormat: 'jwt',
    jwt: { sign: { alg: 'RS256' } },
  };
}

interface GrantLike {
  addResourceScope(resource: string, scope: string): void;
}

/** Adds to a grant the scopes the request asked for of each API it named (and the API has). */
export function addResourceScopes(ctx: OidcContext, grant: GrantLike): boolean {
  const servers = (ctx.oidc.resourceServers ?? {}) as Record<string, { scope?: string }>;
  const asked = new Set(String(ctx.oidc.params?.scope ?? '').split(' '));
  let added = false;
  for (const [resource, rs] of Object.entries(servers)) {
    const scopes = String(rs.scope ?? '')
      .split(' ')
      .filter((s) => s && asked.has(s));
    grant.addResourceScope(resource, scopes.join(' '));
    added = true;
  }
  return added;
}

/** The user's roles in an access token for an API (none for a client's own token). */
export async function accessTokenClaims(
  accounts: Accounts,
  token: { kind?: string; accountId?: string },
): Promise<Record<string, unknown> | undefined> {
  if (token.kind !== 'AccessToken' || !token.accountId) return undefined;
  const account = await accounts.find(token.accountId, undefined);
  const claims = (await account?.claims('id_token', 'openid', {}, [])) as { roles?: unknown } | undefined;
  return Array.isArray(claims?.roles) ? { roles: claims.roles } : undefined;
}
