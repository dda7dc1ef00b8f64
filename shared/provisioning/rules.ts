import { invalidValue } from '../scim/errors.ts';
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

/**
 * Whether a value can be the id of a user or group this broker issued: a random UUID (the broker
 * writes them in lower case; user lookups ignore case). A member value goes into a Table key (a
 * member row, a point read) only with this shape: `a/b` or `a#b`, which no key may hold, names
 * nothing of ours anyway.
 */
export function isBrokerId(value: string): boolean {
  return GUID.test(value);
}

/**
 * A group's member in a SCIM body: Entra sends the id the broker gave that user, and the member row
 * is keyed by it. A value that cannot be one is a 400 invalidValue, checked before anything is
 * written; a well-formed id of no user of the integration is left out by the caller.
 */
export function userReference(value: string, attribute: string): string {
  if (!isBrokerId(value)) throw invalidValue(attribute, 'must be the id of a user of this service');
  return value;
}
