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

export const createApiSchema = z
  .object({
    resource: resourceSchema,
    name: titleSchema,
    scopes: z.array(apiScopeSchema).max(50, 'must list at most 50 scopes').default([]),
    /** Client ids of the applications that may ask for tokens for this API. */
    allowedApplications: z
      .array(z.string().regex(CLIENT_ID_PATTERN, 'must be a client id'))
      .max(200, 'must list at most 200 applications')
      .default([]),
    accessTokenLifetimeSeconds: z.number().int().min(60).max(86_400).default(600),
  })
  .strict();
export type CreateApiInput = z.output<typeof createApiSchema>;

export const apiSchema = z.object({
  id: z.string(),
  resource: z.string(),
  name: z.string(),
  scopes: z.array(z.string()),
  allowedApplications: z.array(z.string()),
  accessTokenLifetimeSeconds: z.number(),
  createdAt: z.string(),
});
export type Api = z.output<typeof apiSchema>;
export const apiListSchema = z.object({ items: z.array(apiSchema) });
