import type { ProvisioningRules } from '../scim/rules.ts';
import { displayNameSchema, emailSchema, usernameSchema } from '../users/schemas.ts';

/** A provisioned user obeys exactly the management API's rules for these values. */
export const USER_RULES: ProvisioningRules = {
  username: usernameSchema,
  displayName: displayNameSchema,
  email: emailSchema,
};

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The Entra object id an externalId carries, when it is one (Entra maps objectId → externalId). */
export function objectIdOf(externalId: string | null | undefined): string | undefined {
  return externalId && GUID.test(externalId) ? externalId.toLowerCase() : undefined;
}
