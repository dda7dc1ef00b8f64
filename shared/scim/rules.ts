/**
 * The broker's own rules for the values SCIM writes (usernames, display names, email addresses),
 * passed in by the caller so that a provisioned user obeys exactly the rules of the management API.
 * A refused value is a SCIM 400 invalidValue naming the attribute and why.
 */
import type { z } from 'zod';
import { invalidValue } from './errors.ts';
import { LONE_SURROGATE } from './unicode.ts';

export interface ProvisioningRules {
  username: z.ZodType<string>;
  displayName: z.ZodType<string>;
  email: z.ZodType<string>;
}

/** External ids and member ids: Entra sends object ids (GUIDs) or mail nicknames. */
const MAX_ID_LENGTH = 256;
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

export function checked(rule: z.ZodType<string>, value: string, attribute: string): string {
  const result = rule.safeParse(value);
  if (!result.success) throw invalidValue(attribute, result.error.issues[0]?.message ?? 'is not valid');
  return result.data;
}

/** An identifier such as `externalId` (see `checkedReference` for one that names a resource). */
export function checkedId(value: unknown, attribute: string): string {
  if (typeof value !== 'string') throw invalidValue(attribute, 'must be a string');
  const v = value.trim();
  if (!v) throw invalidValue(attribute, 'must not be empty');
  if (v.length > MAX_ID_LENGTH) throw invalidValue(attribute, `must be at most ${MAX_ID_LENGTH} characters`);
  if (CONTROL.test(v)) throw invalidValue(attribute, 'must not contain control characters');
  if (LONE_SURROGATE.test(v)) throw invalidValue(attribute, 'must be Unicode text');
  return v;
}

/** Characters no id holds, the broker's or another system's (nor may a Table key). */
const NOT_IN_ID = /[/\\#?]/;

/** A reference to a resource by its id, such as a member's `value` or a `manager`. */
export function checkedReference(value: unknown, attribute: string): string {
  const v = checkedId(value, attribute);
  if (NOT_IN_ID.test(v)) throw invalidValue(attribute, 'must not contain /, \\, # or ?');
  return v;
}

/** A string attribute that may be cleared: `null`, `""` and a remove all mean "no value". */
export function optionalString(value: unknown, attribute: string): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'string') throw invalidValue(attribute, 'must be a string');
  return value.trim() === '' ? null : value;
}

/** Free text kept as sent, such as a formatted address: line breaks allowed, other controls not. */
const MAX_TEXT_LENGTH = 1024;
const CONTROL_BUT_LINE_BREAKS = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u2028\u2029]/;

export function checkedText(value: string | null, attribute: string): string | null {
  if (value === null) return null;
  if (value.length > MAX_TEXT_LENGTH)
    throw invalidValue(attribute, `must be at most ${MAX_TEXT_LENGTH} characters`);
  if (CONTROL_BUT_LINE_BREAKS.test(value))
    throw invalidValue(attribute, 'must not contain control characters');
  return value;
}
