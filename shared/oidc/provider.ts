/**
 * The broker as OpenID Provider: the one module that loads `oidc-provider` (dynamic import, so a
 * build can put the library in a lazily loaded file) and its configuration. Every protocol rule is
 * the library's, configured here (docs/architecture.md "OpenID Provider (applications)"):
 *
 * - code flow only (`responseTypes ['code']`), PKCE required for every client (the library accepts
 *   S256 only), exact redirect URIs (the library's comparison; http only for localhost/127.0.0.1 is
 *   enforced at registration by the applications API and by the library's client schema for https);
 * - scopes openid profile email offline_access; claims sub, preferred_username, name, email, roles,
 *   idp, plus amr, auth_time, sid, acr from the login; ID tokens RS256 (ES256 when the client says);
 * - no consent screen; single sign-on inside the authorization request: the interaction policy
 *   starts with the broker session (sso.ts), which answers at once when it satisfies the request
 *   (`prompt=none` included: an error at the app when it does not); otherwise the broker's login
 *   step (`loadExistingGrant` only returns the grant that step just made) checks the session, the
 *   app's required roles and `prompt=login`/`max_age`, and finishes with a fresh grant;
 *   `offline_access` gets a refresh token without a consent page, however the request arrives (GET,
 *   POST, PAR: adjustments.ts); `sid` is in every ID token;
 * - refresh tokens rotate on every use (`rotateRefreshToken: true`; reuse of a rotated token revokes
 *   the grant: the library's behaviour);
 * - devInteractions off; userinfo, revocation and RP-initiated logout on; introspection off;
 * - CORS (`clientBasedCORS`): only origins of the client's registered redirect URIs (SPAs calling the
 *   token/userinfo endpoints); discovery and JWKS are open as the library makes them.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type {
  Account,
  Configuration,
  KoaContextWithOIDC,
  default as ProviderClass,
  errors as ProviderErrors,
} from 'oidc-provider';
import { adjustProvider } from './adjustments.ts';
import { bitsOfOpaqueRandomness, type HintLifetimes } from './carried-hints.ts';
import type { OidcKeyMaterial } from './keys.ts';
import { notOfferedDescription, scopesNotOffered } from './scopes.ts';
import type { OidcTableStore } from './store.ts';

export type Provider = ProviderClass;
export type OidcContext = KoaContextWithOIDC;

/** Token lifetimes (seconds), stated once. */
export const TTL = {
  AuthorizationCode: 60,
  AccessToken: 10 * 60,
  IdToken: 10 * 60,
  RefreshToken: 14 * 86_400,
  Grant: 14 * 86_400,
  Interaction: 10 * 60,
  Session: 8 * 3600,
} as const;

/** How long each kind of artifact that carries a hint lives: its hint opens no longer (carried-hints.ts). */
export const HINT_LIFETIMES: HintLifetimes = {
  AuthorizationCode: TTL.AuthorizationCode,
  RefreshToken: TTL.RefreshToken,
  AccessToken: TTL.AccessToken,
};

export const OIDC_MOUNT = '/api/oidc';
export const INTERACTION_PATH = 'interaction';

/** What the provider needs from the rest of the broker (passed in by the OIDC service). */
export interface ProviderHooks {
  findClient(clientId: string): Promise<Record<string, unknown> | undefined>;
  findAccount(ctx: OidcContext, sub: string, token: unknown): Promise<Account | undefined>;
  renderError(ctx: OidcContext, out: { error: string; error_description?: string }): void;
  logoutPage(ctx: OidcContext, form: string): void;
  logoutDone(ctx: OidcContext): void;
  /** A request no route of the library serves (it would answer a bare text/plain 404): unrouted.ts. */
  unrouted(ctx: OidcContext): void;
  /** Provider events: tokens issued, authorizations refused, sessions ended. */
  onEvent(name: string, ctx: OidcContext, err?: unknown): void;
  /** The API `resource` names, as the library wants it, when `clientId` may ask for it (resources.ts). */
  resourceServer?(resource: string, clientId: string): Promise<Record<string, unknown> | undefined>;
  /** Claims added to an access token (the user's roles in a JWT for an API). */
  extraTokenClaims?(token: {
    kind?: string;
    accountId?: string;
  }): Promise<Record<string, unknown> | undefined>;
  /** The interaction policy, built from the library's policy helpers (sso.ts). */
  policy?(lib: typeof import('oidc-provider')['interactionPolicy']): unknown;
}

export interface ProviderModule {
  provider: Provider;
  errors: typeof ProviderErrors;
}

/** Loads the library (once per process) and builds a provider for these keys and storage. */
export async function createProvider(
  issuer: string,
  keys: OidcKeyMaterial,
  store: OidcTableStore,
  hooks: ProviderHooks,
): Promise<ProviderModule> {
  // The build puts the library in its own file (scripts/build.ts LAZY_VENDOR_FILES); loaded from CommonJS
  // its exports arrive as `default`, from the ESM package as named exports.
  const imported = (await import('oidc-provider')) as typeof import('oidc-provider') & {
    default: typeof import('oidc-provider') | typeof import('oidc-provider')['default'];
  };
  const lib = (
    'Provider' in imported && imported.Provider ? imported : imported.default
  ) as typeof import('oidc-provider');
  const Provider = lib.Provider;
  const { errors } = lib;

  // One adapter object per model; the Client model reads the applications service instead of storage.
  const clientAdapter = {
    find: (id: string) => hooks.findClient(id),
    upsert: async () => {},
    destroy: async () => {},
    consume: async () => {},
    findByUid: async () => undefined,
    findByUserCode: async () => undefined,
    revokeByGrantId: async () => {},
  };
  function Adapter(this: unknown, model: string) {
    return model === 'Client' ? clientAdapter : store.adapterFor(model);
  }

  const configuration: Configuration = {
    adapter: Adapter as unknown as Configuration['adapter'],
    clients: [],
    jwks: keys.jwks as Configuration['jwks'],
    cookies: {
      keys: keys.cookieKeys,
      long: { httpOnly: true, sameSite: 'lax', signed: true },
      short: { httpOnly: true, sameSite: 'lax', signed: true },
    },
    findAccount: (ctx, sub, token) => hooks.findAccount(ctx, sub, token),
    // The library's default randomness; the hook also tells carried-hints.ts a code's OP session.
    formats: { bitsOfOpaqueRandomness },
    responseTypes: ['code'],
    scopes: ['openid', 'profile', 'email', 'offline_access'],
    claims: {
      acr: null,
      sid: null,
      auth_time: null,
      iss: null,
      openid: ['sub', 'idp', 'roles', 'amr'],
      profile: ['preferred_username', 'name'],
      email: ['email'],
    },
    // Scope claims in the ID token too (apps such as Auth.js read the ID token, not userinfo).
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    // The ways an application can be registered to authenticate (shared/applications/schemas.ts).
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'none'],
    allowOmittingSingleRegisteredRedirectUri: false,
    clientDefaults: {
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      id_token_signed_response_alg: 'RS256',
      token_endpoint_auth_method: 'client_secret_basic',
      // auth_time in every ID token (the app can check how fresh the sign-in is).
      require_auth_time: true,
    },
    enabledJWA: {
      idTokenSigningAlgValues: ['RS256', 'ES256'],
      userinfoSigningAlgValues: ['RS256', 'ES256'],
    },
    extraClientMetadata: {
      properties: ['allowedRoles'],
      validator(_ctx, key, value) {
        if (key === 'allowedRoles' && value !== undefined) {
          if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
            throw new errors.InvalidClientMetadata('allowedRoles must be an array of role names');
          }
        }
      },
    },
    features: {
      devInteractions: { enabled: false },
      userinfo: { enabled: true },
      revocation: {
        enabled: true,
        // RFC 7009 §2.1: only the client a token was issued to may revoke it. Another confidential
        // client is told so; a public one (anyone can name it) gets the usual 200 and revokes nothing,
        // so the answer tells a guesser nothing about the token.
        allowedPolicy: async (_ctx, client, token) => {
          if (token.clientId === client.clientId) return true;
          if (client.clientAuthMethod === 'none') return false;
          throw new errors.InvalidRequest('client is not authorized to revoke the presented token');
        },
      },
      introspection: { enabled: false },
      // A confidential application's own token for an API it may ask for (resources.ts).
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        // An authorization that named an API gets its token at the code exchange without repeating it.
        useGrantedResource: async () => true,
        defaultResource: async (ctx, _client, oneOf) => {
          if (oneOf) return oneOf;
          // A client's own token is only ever for an API.
          if (ctx.oidc.params?.grant_type === 'client_credentials')
            throw new errors.InvalidTarget('resource is required for client_credentials');
          return undefined;
        },
        getResourceServerInfo: async (ctx, resource, client) => {
          const info = await hooks.resourceServer?.(resource, client.clientId);
          if (!info) throw new errors.InvalidTarget();
          // A client's own token names only scopes the API has: one it does not have is refused, as
          // Entra does, rather than left out of a token whose response could not say so (RFC 6749
          // §5.1 wants `scope` when it differs from the request, and an empty one has none).
          if (ctx.oidc.params?.grant_type === 'client_credentials') {
            const unknown = scopesNotOffered(String(ctx.oidc.params.scope ?? ''), String(info.scope ?? ''));
            if (unknown.length > 0)
              throw new errors.InvalidScope(notOfferedDescription(unknown), unknown.join(' '));
          }
          return info as never;
        },
      },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: async (ctx, form) => hooks.logoutPage(ctx, form),
        postLogoutSuccessSource: async (ctx) => hooks.logoutDone(ctx),
      },
    },
    interactions: {
      ...(hooks.policy
        ? {
            policy: hooks.policy(lib.interactionPolicy) as NonNullable<
              Configuration['interactions']
            >['policy'],
          }
        : {}),
      url: (_ctx, interaction) => `${OIDC_MOUNT}/${INTERACTION_PATH}/${interaction.uid}`,
    },
    // Only the grant our interaction route just created (never an older one from the OP session):
    // each authorization passes through the broker's checks (session, roles, freshness).
    loadExistingGrant: async (ctx) => {
      const grantId = ctx.oidc.result?.consent?.grantId;
      return grantId ? ctx.oidc.provider.Grant.find(grantId) : undefined;
    },
    // Every revocation revokes the grant, an access token's at the revocation endpoint too (RFC 7009
    // §2.1 allows it): opaque access tokens have no index of their own (store.ts), so deleting the
    // grant is what makes the grant's other access tokens refused at userinfo.
    revokeGrantPolicy: () => true,
    rotateRefreshToken: true,
    extraTokenClaims: async (_ctx, token) =>
      (await hooks.extraTokenClaims?.(token as { kind?: string; accountId?: string })) ?? undefined,
    // Back-channel logout is the broker's own (logout-delivery.ts: queued, retried, for every way a
    // broker session ends), not the library's (sent during RP logout only, on its critical path).
    discovery: {
      // prompt=consent is accepted (offline_access implies it) but shows no page: not advertised.
      prompt_values_supported: ['none', 'login'],
      backchannel_logout_supported: true,
      backchannel_logout_session_supported: true,
    },
    ttl: {
      ...TTL,
      // A token for an API lives as long as that API says (resources.ts); others as stated in TTL.
      AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? TTL.AccessToken,
      ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? TTL.AccessToken,
    },
    renderError: async (ctx, out) => hooks.renderError(ctx, out as { error: string }),
    clientBasedCORS: (_ctx, origin, client) =>
      client.redirectUris?.some((uri) => {
        try {
          return new URL(uri).origin === origin;
        } catch {
          return false;
        }
      }) ?? false,
  };

  const provider = new Provider(issuer, configuration);
  adjustProvider(provider);
  // The protocol and host come from BROKER_PUBLIC_BASE_URL through the bridge, never from
  // X-Forwarded-* headers: no proxy trust needed.
  provider.proxy = false;

  // Koa's answer when no route matched: 404 without a body (every route of the library sets one).
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.status === 404 && ctx.body == null) hooks.unrouted(ctx as unknown as OidcContext);
  });

  // The provider's own HTML (the form_post page) gets the section J CSP with its inline script
  // allowed by hash only; our pages (errors, logout) already carry a nonce CSP.
  provider.use(async (ctx, next) => {
    await next();
    if (
      typeof ctx.body === 'string' &&
      ctx.response.is('html') &&
      !ctx.response.get('content-security-policy')
    ) {
      const hashes = [...ctx.body.matchAll(/<script>([\s\S]*?)<\/script>/g)].map(
        (m) =>
          `'sha256-${createHash('sha256')
            .update(m[1] ?? '')
            .digest('base64')}'`,
      );
      ctx.set(
        'Content-Security-Policy',
        [
          "default-src 'none'",
          ...(hashes.length ? [`script-src ${hashes.join(' ')}`] : []),
          "frame-ancestors 'none'",
          "base-uri 'none'",
          "object-src 'none'",
        ].join('; '),
      );
    }
  });

  for (const name of [
    'grant.success',
    'grant.error',
    'authorization.error',
    'end_session.success',
    'server_error',
  ]) {
    (provider as unknown as { on(n: string, f: (ctx: OidcContext, err?: unknown) => void): void }).on(
      name,
      (ctx, err) => hooks.onEvent(name, ctx, err),
    );
  }
  return { provider, errors };
}

/** The Node request the bridge built, with the broker's own request attached. */
export type BridgedRequest = IncomingMessage & { broker?: Record<string, unknown> };
