/**
 * Microsoft Entra ID authority layout for the three clouds the broker supports.
 *
 * Everything MSAL would otherwise discover over the network (OpenID configuration, instance
 * metadata) is built here from Entra's well-known layout, so a client makes exactly one kind of
 * call: to the token endpoint. That keeps cold starts fast and makes the local stand-in a drop-in.
 */
import type { Config } from '../core/config.ts';

export type EntraCloud = 'public' | 'usgov' | 'china';

type AuthorityConfig = Pick<Config, 'BROKER_ENTRA_PUBLIC_AUTHORITY_HOST'>;

interface CloudInfo {
  host: string;
  /** Host names Entra treats as the same instance (instance discovery `aliases`). */
  aliases: string[];
  preferredCache: string;
  graphScope: string;
}

const CLOUDS: Record<EntraCloud, CloudInfo> = {
  public: {
    host: 'https://login.microsoftonline.com',
    aliases: ['login.microsoftonline.com', 'login.windows.net', 'login.microsoft.com', 'sts.windows.net'],
    preferredCache: 'login.windows.net',
    graphScope: 'https://graph.microsoft.com/.default',
  },
  usgov: {
    host: 'https://login.microsoftonline.us',
    aliases: ['login.microsoftonline.us', 'login.usgovcloudapi.net'],
    preferredCache: 'login.microsoftonline.us',
    graphScope: 'https://graph.microsoft.us/.default',
  },
  china: {
    host: 'https://login.chinacloudapi.cn',
    aliases: ['login.chinacloudapi.cn', 'login.partner.microsoftonline.cn'],
    preferredCache: 'login.chinacloudapi.cn',
    graphScope: 'https://microsoftgraph.chinacloudapi.cn/.default',
  },
};

/** Tenants that are not one directory: Entra publishes `{tenantid}` as the issuer's tenant for them. */
const MULTI_TENANT_SEGMENTS = new Set(['common', 'organizations', 'consumers']);

function overrideHost(cloud: EntraCloud, config: AuthorityConfig): string | undefined {
  if (cloud !== 'public' || !config.BROKER_ENTRA_PUBLIC_AUTHORITY_HOST) return undefined;
  return config.BROKER_ENTRA_PUBLIC_AUTHORITY_HOST.replace(/\/+$/, '');
}

/** `https://login.microsoftonline.com` (or the local stand-in's host for the public cloud when configured). */
export function authorityHost(cloud: EntraCloud, config: AuthorityConfig): string {
  return overrideHost(cloud, config) ?? CLOUDS[cloud].host;
}

/** Every authority origin a browser may be sent to (the CSP form-action of the sign-in pages). */
export function authorityOrigins(config: AuthorityConfig): string[] {
  return [
    ...new Set((Object.keys(CLOUDS) as EntraCloud[]).map((c) => new URL(authorityHost(c, config)).origin)),
  ];
}

/** The Graph `.default` scope of the cloud, used to test client credentials. */
export function graphDefaultScope(cloud: EntraCloud): string {
  return CLOUDS[cloud].graphScope;
}

export function authorityUrl(cloud: EntraCloud, tenant: string, config: AuthorityConfig): string {
  return `${authorityHost(cloud, config)}/${tenant}`;
}

/** The `iss` Entra puts in v2.0 ID tokens for the directory `tid`. */
export function issuerFor(cloud: EntraCloud, tid: string, config: AuthorityConfig): string {
  return `${authorityHost(cloud, config)}/${tid}/v2.0`;
}

export function jwksUri(cloud: EntraCloud, tenant: string, config: AuthorityConfig): string {
  return `${authorityUrl(cloud, tenant, config)}/discovery/v2.0/keys`;
}

export function authorizeEndpoint(cloud: EntraCloud, tenant: string, config: AuthorityConfig): string {
  return `${authorityUrl(cloud, tenant, config)}/oauth2/v2.0/authorize`;
}

export function tokenEndpoint(cloud: EntraCloud, tenant: string, config: AuthorityConfig): string {
  return `${authorityUrl(cloud, tenant, config)}/oauth2/v2.0/token`;
}

export function endSessionEndpoint(cloud: EntraCloud, tenant: string, config: AuthorityConfig): string {
  return `${authorityUrl(cloud, tenant, config)}/oauth2/v2.0/logout`;
}

export interface MsalAuthorityOptions {
  authority: string;
  knownAuthorities: string[];
  /** OpenID configuration document (JSON string), as MSAL's `authorityMetadata` expects. */
  authorityMetadata: string;
  /** Instance discovery response (JSON string), as MSAL's `cloudDiscoveryMetadata` expects. */
  cloudDiscoveryMetadata: string;
}

/**
 * Authority options for an MSAL client that make MSAL skip both network discoveries: the
 * OpenID configuration (`authorityMetadata`) and the instance discovery (`cloudDiscoveryMetadata`).
 */
export function msalAuthorityOptions(
  cloud: EntraCloud,
  tenant: string,
  config: AuthorityConfig,
): MsalAuthorityOptions {
  const host = authorityHost(cloud, config);
  const hostAndPort = new URL(host).host.toLowerCase();
  const overridden = overrideHost(cloud, config) !== undefined;
  const issuerTenant = MULTI_TENANT_SEGMENTS.has(tenant.toLowerCase()) ? '{tenantid}' : tenant;
  const metadata = {
    token_endpoint: tokenEndpoint(cloud, tenant, config),
    token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
    jwks_uri: jwksUri(cloud, tenant, config),
    response_modes_supported: ['query', 'fragment', 'form_post'],
    subject_types_supported: ['pairwise'],
    id_token_signing_alg_values_supported: ['RS256'],
    response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
    scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
    issuer: `${host}/${issuerTenant}/v2.0`,
    request_uri_parameter_supported: false,
    authorization_endpoint: authorizeEndpoint(cloud, tenant, config),
    device_authorization_endpoint: `${authorityUrl(cloud, tenant, config)}/oauth2/v2.0/devicecode`,
    http_logout_supported: true,
    frontchannel_logout_supported: true,
    end_session_endpoint: endSessionEndpoint(cloud, tenant, config),
    claims_supported: [
      'sub',
      'iss',
      'aud',
      'exp',
      'iat',
      'nbf',
      'nonce',
      'name',
      'preferred_username',
      'email',
      'oid',
      'tid',
      'ver',
    ],
    kerberos_endpoint: `${authorityUrl(cloud, tenant, config)}/kerberos`,
    tenant_region_scope: null,
    cloud_instance_name: new URL(CLOUDS[cloud].host).hostname.replace(/^login\./, ''),
    cloud_graph_host_name: null,
    msgraph_host: new URL(CLOUDS[cloud].graphScope).hostname,
    rbac_url: null,
  };
  const info = CLOUDS[cloud];
  const instance = overridden
    ? { preferred_network: hostAndPort, preferred_cache: hostAndPort, aliases: [hostAndPort] }
    : { preferred_network: hostAndPort, preferred_cache: info.preferredCache, aliases: info.aliases };
  const discovery = {
    tenant_discovery_endpoint: `${host}/${tenant}/v2.0/.well-known/openid-configuration`,
    'api-version': '1.1',
    metadata: [instance],
  };
  return {
    authority: authorityUrl(cloud, tenant, config),
    knownAuthorities: [hostAndPort],
    authorityMetadata: JSON.stringify(metadata),
    cloudDiscoveryMetadata: JSON.stringify(discovery),
  };
}
