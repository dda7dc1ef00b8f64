/**
 * Input schemas and the response shape of integrations (docs/architecture.md "Management (admins only)").
 * Every input object is `.strict()`: unknown keys are a 400 naming the key.
 */
import { z } from 'zod';
import { nameIssue } from '../core/names.ts';
import { type CredentialInput, type CredentialView, credentialInputSchema } from './credentials/kinds.ts';

/** Largest JSON body the integration routes read. */
export const INTEGRATION_BODY_LIMIT = 8 * 1024;
export const MAX_ALLOWED_TENANTS = 50;
/** `password` is the other verify type: an integration may never carry that title (compared by `nameKey`). */
export const RESERVED_TITLE = 'password';

const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
/** A DNS name of at least two labels (e.g. `contoso.onmicrosoft.com`), letters in the last label. */
const DOMAIN = /^(?=.{4,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

export const cloudSchema = z.enum(['public', 'usgov', 'china']);
export const matchClaimSchema = z.enum(['preferred_username', 'email', 'upn']);
export type IntegrationCloud = z.output<typeof cloudSchema>;
export type MatchClaim = z.output<typeof matchClaimSchema>;

export const guidSchema = z
  .string()
  .regex(GUID, 'must be a GUID (00000000-0000-0000-0000-000000000000)')
  .transform((v) => v.toLowerCase());

export const titleSchema = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(100, 'must be at most 100 characters')
  .refine((v) => !CONTROL.test(v), 'must not contain control characters')
  .superRefine((v, ctx) => {
    const issue = nameIssue(v);
    if (issue) ctx.addIssue({ code: 'custom', message: issue });
  });

export const tenantSchema = z
  .string()
  .max(253, 'must be at most 253 characters')
  .transform((v) => v.trim().toLowerCase())
  .refine(
    (v) => v === 'organizations' || GUID.test(v) || DOMAIN.test(v),
    'must be a tenant id (GUID), a domain name such as contoso.onmicrosoft.com, or "organizations"',
  );

export const allowedTenantsSchema = z
  .array(guidSchema)
  .max(MAX_ALLOWED_TENANTS, `must list at most ${MAX_ALLOWED_TENANTS} tenants`)
  .transform((list) => [...new Set(list)]);

export const clientSecretSchema = z
  .string()
  .min(1, 'must not be empty')
  .max(1024, 'must be at most 1024 characters')
  // Entra's secrets are printable characters: a blank or control character is a paste gone wrong.
  .refine((v) => v.trim().length > 0, 'must not be blank')
  .refine((v) => !CONTROL.test(v), 'must not contain control characters');

function validDate(y: number, m: number, d: number): boolean {
  const t = new Date(Date.UTC(y, m - 1, d));
  return t.getUTCFullYear() === y && t.getUTCMonth() === m - 1 && t.getUTCDate() === d;
}

/** `YYYY-MM-DD` (start of that day, UTC) or a full ISO 8601 date-time with a zone; normalised to ISO. */
export const expiresOnSchema = z
  .string()
  .max(40, 'must be an ISO date')
  .refine((v) => {
    const m = DATE_ONLY.exec(v);
    if (m) return validDate(Number(m[1]), Number(m[2]), Number(m[3]));
    return z.iso.datetime({ offset: true }).safeParse(v).success && Number.isFinite(Date.parse(v));
  }, 'must be an ISO date (YYYY-MM-DD) or date-time (2027-01-31T00:00:00Z)')
  .transform((v) => new Date(DATE_ONLY.test(v) ? `${v}T00:00:00Z` : v).toISOString())
  .refine((v) => {
    const y = new Date(v).getUTCFullYear();
    return y >= 2000 && y <= 9999;
  }, 'must be between the years 2000 and 9999');

/** `credential` of create and of `POST …/credentials`. */
export const credentialSchema = credentialInputSchema(expiresOnSchema);

/** Cross-field rule shared by create and the merged result of a patch. */
export function tenantIssue(tenant: string, allowedTenants: string[] | undefined): string | undefined {
  if (tenant === 'organizations' && (!allowedTenants || allowedTenants.length === 0)) {
    return 'is required (a non-empty list of tenant ids) when tenant is "organizations"';
  }
  if (tenant !== 'organizations' && allowedTenants && allowedTenants.length > 0) {
    return 'may only be set when tenant is "organizations"';
  }
  return undefined;
}

/**
 * nOAuth: across tenants the `email` claim is whatever another tenant's admin typed, unverified. A
 * multi-tenant ("organizations") integration therefore matches on preferred_username or upn (whose
 * domain must be verified in the user's own tenant), never on email.
 */
export function matchClaimIssue(tenant: string, matchClaim: string): string | undefined {
  if (tenant === 'organizations' && matchClaim === 'email') {
    return 'cannot be "email" when tenant is "organizations": another tenant can assert any email (nOAuth)';
  }
  return undefined;
}

export const createIntegrationSchema = z
  .object({
    kind: z.literal('azure-ad', { message: 'must be "azure-ad"' }),
    title: titleSchema,
    applicationId: guidSchema,
    tenant: tenantSchema,
    allowedTenants: allowedTenantsSchema.optional(),
    clientSecret: clientSecretSchema.optional(),
    clientSecretExpiresOn: expiresOnSchema.optional(),
    credential: credentialSchema.optional(),
    cloud: cloudSchema.optional().default('public'),
    matchClaim: matchClaimSchema.optional().default('preferred_username'),
  })
  .strict()
  .superRefine((v, ctx) => {
    if (v.clientSecret === undefined && v.credential === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['clientSecret'],
        message: 'is required (or give a credential: {"kind": "federated"} needs no secret)',
      });
    if (v.credential !== undefined && (v.clientSecret !== undefined || v.clientSecretExpiresOn !== undefined))
      ctx.addIssue({
        code: 'custom',
        path: ['credential'],
        message: 'cannot be given together with clientSecret or clientSecretExpiresOn',
      });
    const issue = tenantIssue(v.tenant, v.allowedTenants);
    if (issue) ctx.addIssue({ code: 'custom', path: ['allowedTenants'], message: issue });
    const claim = matchClaimIssue(v.tenant, v.matchClaim);
    if (claim) ctx.addIssue({ code: 'custom', path: ['matchClaim'], message: claim });
  });

export type CreateIntegrationInput = z.output<typeof createIntegrationSchema>;

/** The credential a create asks for: `credential`, or the top-level client secret of before. */
export function createdCredential(input: CreateIntegrationInput): CredentialInput {
  if (input.credential) return input.credential;
  return {
    kind: 'clientSecret',
    clientSecret: input.clientSecret ?? '',
    ...(input.clientSecretExpiresOn ? { expiresOn: input.clientSecretExpiresOn } : {}),
  };
}

/** `POST …/credentials`: the second credential, held as pending until a passing test promotes it. */
export const addCredentialSchema = z.object({ credential: credentialSchema }).strict();
export type AddCredentialInput = z.output<typeof addCredentialSchema>;

export const patchIntegrationSchema = z
  .object({
    title: titleSchema.optional(),
    applicationId: guidSchema.optional(),
    tenant: tenantSchema.optional(),
    allowedTenants: allowedTenantsSchema.optional(),
    cloud: cloudSchema.optional(),
    matchClaim: matchClaimSchema.optional(),
  })
  .strict()
  .refine((v) => Object.values(v).some((x) => x !== undefined), {
    message: 'must change at least one of title, applicationId, tenant, allowedTenants, cloud, matchClaim',
  });

export type PatchIntegrationInput = z.output<typeof patchIntegrationSchema>;

export const rotateSecretSchema = z
  .object({
    clientSecret: clientSecretSchema,
    expiresOn: expiresOnSchema.optional(),
  })
  .strict();

export type RotateSecretInput = z.output<typeof rotateSecretSchema>;

export type IntegrationStatus = 'inactive' | 'active';

export interface IntegrationTestResult {
  at: string;
  ok: boolean;
  /** null on success; a stable code (see activation.ts) on failure. */
  reason: string | null;
}

/** The Integration resource (docs/architecture.md), as every route answers it. Never holds the secret value. */
export interface Integration {
  id: string;
  kind: 'azure-ad';
  title: string;
  applicationId: string;
  tenant: string;
  allowedTenants: string[];
  cloud: IntegrationCloud;
  matchClaim: MatchClaim;
  status: IntegrationStatus;
  /** The exact callback URL to register in Entra: `${BROKER_PUBLIC_BASE_URL}/api/auth/callback`. */
  redirectUri: string;
  /** The client secret, when the current credential is one. */
  clientSecret?: { set: true; version: string; expiresOn: string | null; updatedOn: string };
  /** Whole days until the client secret or certificate expires (negative once expired); null when nothing expires. */
  secretExpiresInDays: number | null;
  /** How the integration authenticates to Entra now, and what to paste in Entra for it. */
  credential: CredentialView;
  /** A second credential being set up; `POST …/credentials/promote` makes it current after a passing test. */
  pendingCredential: CredentialView | null;
  lastTest: IntegrationTestResult | null;
  createdAt: string;
  updatedAt: string;
  etag: string;
}

export interface IntegrationWarning {
  code: 'application_id_shared' | 'secret_expired' | 'secret_expiring' | 'reactivation_required';
  message: string;
  [key: string]: unknown;
}

/** Create and patch answer the Integration plus advice that does not block the change. */
export type IntegrationWithWarnings = Integration & { warnings: IntegrationWarning[] };
