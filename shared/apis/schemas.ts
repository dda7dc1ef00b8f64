/**
 * APIs (resource servers) that applications get access tokens for (RFC 8707 resource indicators,
 * RFC 9068 JWT access tokens): the `resource` URI is the tokens' `aud`, the scopes are the API's
 * own, and only the listed applications may ask for it. Every input object is `.strict()`.
 */
import { z } from 'zod';
import { CLIENT_ID_PATTERN } from '../applications/schemas.ts';
import { titleSchema } from '../integrations/schemas.ts';

export const API_BODY_LIMIT = 16 * 1024;
const MAX_RESOURCE_LENGTH = 2000;
/** Scopes of the OpenID layer itself: an API cannot claim them. */
const OIDC_SCOPES = new Set(['openid', 'profile', 'email', 'offline_access']);

/** An absolute URI without a fragment (RFC 8707 §2): https, or an `api://`/`urn:` name. */
export const resourceSchema = z
  .string()
  .max(MAX_RESOURCE_LENGTH, `must be at most ${MAX_RESOURCE_LENGTH} characters`)
  .superRefine((v, ctx) => {
    let url: URL | undefined;
    try {
      url = new URL(v);
    } catch {
      url = undefined;
    }
    if (!url || /\s/.test(v)) ctx.addIssue({ code: 'custom', message: 'must be an absolute URI' });
    else if (v.includes('#')) ctx.addIssue({ code: 'custom', message: 'must not contain a fragment (#)' });
    else if (!['https:', 'api:', 'urn:'].includes(url.protocol))
      ctx.addIssue({ code: 'custom', message: 'must be an https URL, an api:// or a urn: name' });
  });

export const apiScopeSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,63}$/, 'must be 1-64 of A-Z a-z 0-9 _ . : / -')
  .refine((s) => !OIDC_SCOPES.has(s), 'must not be an OpenID scope (openid, profile, email, offline_access)');

const scopesSchema = z.array(apiScopeSchema).max(50, 'must list at most 50 scopes');
/** Client ids of the applications that may ask for tokens for this API. */
const allowedApplicationsSchema = z
  .array(z.string().regex(CLIENT_ID_PATTERN, 'must be a client id'))
  .max(200, 'must list at most 200 applications');
const lifetimeSchema = z.number().int().min(60).max(86_400);

export const createApiSchema = z
  .object({
    resource: resourceSchema,
    name: titleSchema,
    scopes: scopesSchema.default([]),
    allowedApplications: allowedApplicationsSchema.default([]),
    accessTokenLifetimeSeconds: lifetimeSchema.default(600),
  })
  .strict();
export type CreateApiInput = z.output<typeof createApiSchema>;

/** The fields a change may set; `resource` is the API's identity (its tokens' `aud`). */
export const API_PATCH_FIELDS = [
  'name',
  'scopes',
  'allowedApplications',
  'accessTokenLifetimeSeconds',
] as const;

/**
 * A change of an API. `resource` is accepted only so that a client sending the whole resource back
 * gets a clear answer: the same URI changes nothing, another one is refused (the service compares).
 */
export const patchApiSchema = z
  .object({
    resource: resourceSchema.optional(),
    name: titleSchema.optional(),
    scopes: scopesSchema.optional(),
    allowedApplications: allowedApplicationsSchema.optional(),
    accessTokenLifetimeSeconds: lifetimeSchema.optional(),
  })
  .strict()
  .refine((v) => API_PATCH_FIELDS.some((f) => v[f] !== undefined) || v.resource !== undefined, {
    message: `must change at least one of ${API_PATCH_FIELDS.join(', ')}`,
  });
export type PatchApiInput = z.output<typeof patchApiSchema>;

export const apiSchema = z.object({
  id: z.string(),
  resource: z.string(),
  name: z.string(),
  scopes: z.array(z.string()),
  allowedApplications: z.array(z.string()),
  accessTokenLifetimeSeconds: z.number(),
  createdAt: z.string(),
  updatedAt: z.string(),
  etag: z.string(),
});
export type Api = z.output<typeof apiSchema>;
export const apiListSchema = z.object({ items: z.array(apiSchema) });
