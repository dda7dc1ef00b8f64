/**
 * Input schemas and the response shape of applications: the apps that sign their users in through
 * the broker as an OpenID Provider (docs/architecture.md "OpenID Provider (applications)"). Every input object is
 * `.strict()`: unknown keys are a 400 naming the key.
 */
import { z } from 'zod';
import { titleSchema } from '../integrations/schemas.ts';
import { rolesSchema } from '../users/schemas.ts';

/** Largest JSON body the application routes read (2 × 10 URIs × 2,000 characters fit). */
export const APPLICATION_BODY_LIMIT = 64 * 1024;
export const MAX_REDIRECT_URIS = 10;
export const MAX_REDIRECT_URI_LENGTH = 2000;
/** Client ids are random UUIDs made by the broker (lower case). */
export const CLIENT_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);
const CONTROL_OR_SPACE = /[\u0000-\u0020\u007f-\u009f\u2028\u2029]/;

/**
 * Why a redirect URI is refused, or undefined when it is fine. Redirect URIs are compared as exact
 * strings by the OP (docs/security.md OP1), so the rule here is about what may be registered at all: an absolute
 * https URL, or http on a loopback host (native and local development apps, RFC 8252 §7.3); no
 * fragment, no wildcard, no user name or password, no whitespace or control characters.
 */
export function redirectUriIssue(value: string): string | undefined {
  if (value.length === 0) return 'must not be empty';
  if (value.length > MAX_REDIRECT_URI_LENGTH) return `must be at most ${MAX_REDIRECT_URI_LENGTH} characters`;
  if (CONTROL_OR_SPACE.test(value)) return 'must not contain spaces or control characters';
  if (value.includes('#')) return 'must not contain a fragment (#)';
  if (value.includes('*')) return 'must not contain wildcards (*): redirect URIs match exactly';
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'must be an absolute URL';
  }
  if (url.username || url.password) return 'must not contain a user name or password';
  if (url.protocol === 'https:') return url.hostname ? undefined : 'must name a host';
  if (url.protocol === 'http:') {
    return LOOPBACK_HOSTS.has(url.hostname)
      ? undefined
      : 'must use https (http only for localhost, 127.0.0.1 or [::1])';
  }
  return 'must use https (http only for localhost, 127.0.0.1 or [::1])';
}

export const redirectUriSchema = z
  .string()
  .max(MAX_REDIRECT_URI_LENGTH, `must be at most ${MAX_REDIRECT_URI_LENGTH} characters`)
  .superRefine((v, ctx) => {
    const issue = redirectUriIssue(v);
    if (issue) ctx.addIssue({ code: 'custom', message: issue });
  });

const uriListSchema = (min: number) =>
  z
    .array(redirectUriSchema)
    .min(min, 'must list at least one URI')
    .max(MAX_REDIRECT_URIS, `must list at most ${MAX_REDIRECT_URIS} URIs`)
    .transform((list) => [...new Set(list)]);

/**
 * Where an application receives back-channel logout tokens (OIDC Back-Channel Logout 1.0): https,
 * or http on a loopback host for local development; no fragment. null (in a change) removes it.
 */
export const backchannelLogoutUriSchema = redirectUriSchema;

/**
 * Where a third party starts the application's own sign-in (OIDC Dynamic Client Registration 1.0
 * `initiate_login_uri`): the broker's signed-in page links it. The redirect URI rule: https, or http
 * on a loopback host for local development. null (in a change) removes it.
 */
export const initiateLoginUriSchema = redirectUriSchema.meta({
  description:
    "Where the application's own sign-in starts (OIDC `initiate_login_uri`): https, or http on localhost, 127.0.0.1 or [::1]. When set, the application is listed on the broker's signed-in page for users allowed to use it",
});

export const applicationTypeSchema = z.enum(['confidential', 'public']);
export type ApplicationType = z.output<typeof applicationTypeSchema>;
/** RS256 is OIDC's required default; ES256 when the app asks for it. */
export const idTokenAlgSchema = z.enum(['RS256', 'ES256']);
export type IdTokenAlg = z.output<typeof idTokenAlgSchema>;
/** How a confidential client authenticates at the token endpoint (public clients: `none`). */
export const secretAuthMethodSchema = z.enum(['client_secret_basic', 'client_secret_post']);
export type TokenEndpointAuthMethod = z.output<typeof secretAuthMethodSchema> | 'none';

export const createApplicationSchema = z
  .object({
    name: titleSchema,
    type: applicationTypeSchema,
    redirectUris: uriListSchema(1),
    postLogoutRedirectUris: uriListSchema(0).optional(),
    allowedRoles: rolesSchema.optional(),
    idTokenSignedResponseAlg: idTokenAlgSchema.optional().default('RS256'),
    tokenEndpointAuthMethod: secretAuthMethodSchema.optional(),
    backchannelLogoutUri: backchannelLogoutUriSchema.nullable().optional(),
    backchannelLogoutSessionRequired: z.boolean().optional(),
    initiateLoginUri: initiateLoginUriSchema.nullable().optional(),
  })
  .strict()
  .superRefine((v, ctx) => {
    if (v.type === 'public' && v.tokenEndpointAuthMethod !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['tokenEndpointAuthMethod'],
        message: 'must not be set for a public client (public clients have no secret; they use PKCE)',
      });
    }
  });
export type CreateApplicationInput = z.output<typeof createApplicationSchema>;

/** The type is fixed at creation (a confidential client without a secret would be a different app). */
export const patchApplicationSchema = z
  .object({
    name: titleSchema.optional(),
    redirectUris: uriListSchema(1).optional(),
    postLogoutRedirectUris: uriListSchema(0).optional(),
    allowedRoles: rolesSchema.optional(),
    idTokenSignedResponseAlg: idTokenAlgSchema.optional(),
    tokenEndpointAuthMethod: secretAuthMethodSchema.optional(),
    backchannelLogoutUri: backchannelLogoutUriSchema.nullable().optional(),
    backchannelLogoutSessionRequired: z.boolean().optional(),
    initiateLoginUri: initiateLoginUriSchema.nullable().optional(),
  })
  .strict()
  .refine((v) => Object.values(v).some((x) => x !== undefined), {
    message:
      'must change at least one of name, redirectUris, postLogoutRedirectUris, allowedRoles, idTokenSignedResponseAlg, tokenEndpointAuthMethod, backchannelLogoutUri, backchannelLogoutSessionRequired, initiateLoginUri',
  });
export type PatchApplicationInput = z.output<typeof patchApplicationSchema>;

/** The Application resource (docs/architecture.md), as every route answers it. Never holds the secret value. */
export const applicationSchema = z.object({
  clientId: z.string(),
  name: z.string(),
  type: applicationTypeSchema,
  redirectUris: z.array(z.string()),
  postLogoutRedirectUris: z.array(z.string()),
  allowedRoles: z.array(z.string()),
  idTokenSignedResponseAlg: idTokenAlgSchema,
  tokenEndpointAuthMethod: z.enum(['client_secret_basic', 'client_secret_post', 'none']),
  /** Only for an application that registered one. */
  backchannelLogoutUri: z.string().optional(),
  backchannelLogoutSessionRequired: z.boolean().optional(),
  /** Where the application's sign-in starts, listed on the broker's signed-in page; null when none. */
  initiateLoginUri: z.string().nullable(),
  clientSecret: z.object({ set: z.literal(true), updatedOn: z.string() }).nullable(),
  issuer: z.string(),
  discoveryUrl: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
  etag: z.string(),
});
export type Application = z.output<typeof applicationSchema>;

/** Create and secret rotation answer the Application plus the new secret, shown this once. */
export const applicationWithSecretSchema = applicationSchema.extend({ clientSecretValue: z.string() });
export type ApplicationWithSecret = z.output<typeof applicationWithSecretSchema>;
/** Create answers `clientSecretValue` for a confidential client only (a public client has none). */
export const createdApplicationSchema = applicationSchema.extend({
  clientSecretValue: z.string().optional(),
});
export type CreatedApplication = z.output<typeof createdApplicationSchema>;

export const applicationListSchema = z.object({ items: z.array(applicationSchema) });
