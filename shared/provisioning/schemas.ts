import { z } from 'zod';
import { guidSchema } from '../integrations/schemas.ts';
import { roleNameSchema } from '../users/schemas.ts';

export const PROVISIONING_BODY_LIMIT = 16 * 1024;
export const MAX_GROUP_ROLES = 100;
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/** An Entra group's object id or displayName → a broker role. */
export const groupRolesSchema = z
  .record(
    z
      .string()
      .trim()
      .min(1, 'must not be empty')
      .max(256, 'must be at most 256 characters')
      .refine((v) => !CONTROL.test(v), 'must not contain control characters'),
    roleNameSchema,
  )
  .refine((m) => Object.keys(m).length <= MAX_GROUP_ROLES, `must map at most ${MAX_GROUP_ROLES} groups`);

/** POST …/provisioning: optional settings; the tenant defaults to the integration's own tenant id. */
export const enableProvisioningSchema = z
  .object({
    tenantId: guidSchema.optional(),
    groupRoles: groupRolesSchema.optional(),
    jitProvisioning: z.boolean().optional(),
  })
  .strict();

export const patchProvisioningSchema = z
  .object({
    tenantId: guidSchema.optional(),
    groupRoles: groupRolesSchema.optional(),
    jitProvisioning: z.boolean().optional(),
  })
  .strict()
  .refine((v) => Object.values(v).some((x) => x !== undefined), {
    message: 'must change at least one of tenantId, groupRoles, jitProvisioning',
  });

export type EnableProvisioningInput = z.output<typeof enableProvisioningSchema>;
export type PatchProvisioningInput = z.output<typeof patchProvisioningSchema>;

/** `provisioning` on the Integration resource. */
export interface ProvisioningState {
  enabled: boolean;
  tenantUrl: string;
  /** The Entra tenant provisioned users are bound in. */
  tenantId: string | null;
  lastRequestAt: string | null;
  lastOutcome: string | null;
}

/** What the Integration resource shows of provisioning. */
export interface ProvisioningView {
  provisioning: ProvisioningState | null;
  groupRoles: Record<string, string>;
  jitProvisioning: boolean;
}

export interface ProvisioningSecret {
  tenantUrl: string;
  /** Shown once; only its hash is stored. */
  secretToken: string;
}
