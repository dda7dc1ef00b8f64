/**
 * A broker user as a SCIM User resource (RFC 7643 §4.1), and a SCIM User body (POST, PUT) as the
 * typed input of a provisioned user. The body is read leniently, as SCIM asks: attribute names in
 * any case, unknown attributes ignored (zod strips them), `active` as a boolean or `"True"`/`"False"`.
 * Values the broker refuses are a 400 invalidValue naming the attribute.
 */
import { z } from 'zod';
import { scimBoolean } from './boolean.ts';
import { badRequest, invalidValue } from './errors.ts';
import { isObject, member } from './keys.ts';
import {
  checked,
  checkedId,
  checkedReference,
  checkedText,
  optionalString,
  type ProvisioningRules,
} from './rules.ts';
import { ENTERPRISE_USER_SCHEMA, USER_SCHEMA } from './urns.ts';
import { pickFromList } from './user-patch.ts';

/** The fields of the broker's User (shared/users) that a SCIM User shows. */
export interface ScimUserSource {
  id: string;
  username: string;
  displayName: string;
  email: string | null;
  disabled: boolean;
  createdAt: string;
  updatedAt: string;
  etag: string;
}

/** Attributes only SCIM writes, kept beside the user. */
export interface ScimOwnedFields {
  externalId?: string | null;
  givenName?: string | null;
  familyName?: string | null;
  formattedName?: string | null;
  workAddress?: string | null;
  manager?: string | null;
}

/** What POST /Users and PUT /Users/{id} ask the broker to hold. */
export interface ProvisionedUserInput {
  username: string;
  active: boolean;
  externalId: string | null;
  displayName: string | null;
  email: string | null;
  givenName: string | null;
  familyName: string | null;
  formattedName: string | null;
  workAddress: string | null;
  manager: string | null;
}

/** An entity tag for meta.version: the store's etag, quoted as a weak tag unless it already is a tag. */
export function versionOf(etag: string): string {
  return /^(W\/)?"/.test(etag) ? etag : `W/"${etag.replace(/"/g, '')}"`;
}

export function toScimUser(user: ScimUserSource, owned: ScimOwnedFields, baseUrl: string) {
  const manager = owned.manager ?? null;
  const hasName = owned.givenName || owned.familyName || owned.formattedName;
  return {
    schemas: manager ? [USER_SCHEMA, ENTERPRISE_USER_SCHEMA] : [USER_SCHEMA],
    id: user.id,
    ...(owned.externalId ? { externalId: owned.externalId } : {}),
    userName: user.username,
    ...(hasName
      ? {
          name: {
            ...(owned.givenName ? { givenName: owned.givenName } : {}),
            ...(owned.familyName ? { familyName: owned.familyName } : {}),
            ...(owned.formattedName ? { formatted: owned.formattedName } : {}),
          },
        }
      : {}),
    ...(user.displayName ? { displayName: user.displayName } : {}),
    active: !user.disabled,
    ...(user.email ? { emails: [{ value: user.email, type: 'work', primary: true }] } : {}),
    ...(owned.workAddress
      ? { addresses: [{ formatted: owned.workAddress, type: 'work', primary: true }] }
      : {}),
    ...(manager ? { [ENTERPRISE_USER_SCHEMA]: { manager: { value: manager } } } : {}),
    meta: {
      resourceType: 'User',
      created: user.createdAt,
      lastModified: user.updatedAt,
      version: versionOf(user.etag),
      location: `${baseUrl}/Users/${encodeURIComponent(user.id)}`,
    },
  };
}

const text = z.string().nullish();
const multi = z.array(z.record(z.string(), z.unknown())).nullish();

/** The shape of a User body after its keys are put in canonical case; other keys are stripped. */
const userBodySchema = z.object({
  userName: z.string({ error: 'is required' }),
  externalId: text,
  active: z.unknown().optional(),
  displayName: text,
  name: z.record(z.string(), z.unknown()).nullish(),
  emails: multi,
  addresses: multi,
  [ENTERPRISE_USER_SCHEMA]: z.record(z.string(), z.unknown()).nullish(),
});

const CANONICAL_KEYS = ['userName', 'externalId', 'active', 'displayName', 'name', 'emails', 'addresses'];

function canonicalKeys(body: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of CANONICAL_KEYS) {
    const v = member(body, key);
    if (v !== undefined) out[key] = v;
  }
  const ext = member(body, ENTERPRISE_USER_SCHEMA);
  if (ext !== undefined) out[ENTERPRISE_USER_SCHEMA] = ext;
  return out;
}

export function parseScimUser(body: unknown, rules: ProvisioningRules): ProvisionedUserInput {
  if (!isObject(body)) throw badRequest('invalidSyntax', 'the body must be a User resource');
  const parsed = userBodySchema.safeParse(canonicalKeys(body));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw invalidValue(issue?.path.map(String).join('.') || 'User', issue?.message ?? 'is not valid');
  }
  const u = parsed.data;
  const active = u.active === undefined || u.active === null ? true : scimBoolean(u.active);
  if (active === undefined) throw invalidValue('active', 'must be true or false');

  const displayName = optionalString(u.displayName, 'displayName');
  const given = u.name ? optionalString(member(u.name, 'givenName'), 'name.givenName') : null;
  const family = u.name ? optionalString(member(u.name, 'familyName'), 'name.familyName') : null;
  const formatted = u.name ? optionalString(member(u.name, 'formatted'), 'name.formatted') : null;
  const email = optionalString(pickFromList(u.emails ?? [], 'work', 'value').value, 'emails');
  const address = optionalString(pickFromList(u.addresses ?? [], 'work', 'formatted').value, 'addresses');
  const ext = u[ENTERPRISE_USER_SCHEMA];
  // The tutorial's "Example 2" sends `manager` at the top level (as null); the extension's wins.
  const managerRaw = (ext ? member(ext, 'manager') : undefined) ?? member(body, 'manager');
  const manager = optionalString(isObject(managerRaw) ? member(managerRaw, 'value') : managerRaw, 'manager');
  const externalId = optionalString(u.externalId, 'externalId');

  return {
    username: checked(rules.username, u.userName, 'userName'),
    active,
    externalId: externalId === null ? null : checkedId(externalId, 'externalId'),
    displayName: displayName === null ? null : checked(rules.displayName, displayName, 'displayName'),
    email: email === null ? null : checked(rules.email, email, 'emails'),
    givenName: given === null ? null : checked(rules.displayName, given, 'name.givenName'),
    familyName: family === null ? null : checked(rules.displayName, family, 'name.familyName'),
    formattedName: formatted === null ? null : checked(rules.displayName, formatted, 'name.formatted'),
    workAddress: checkedText(address, 'addresses'),
    manager: manager === null ? null : checkedReference(manager, 'manager'),
  };
}
