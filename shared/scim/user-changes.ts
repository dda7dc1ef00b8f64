/**
 * The canonical changes a SCIM request makes to a provisioned user: one typed entry per attribute
 * the broker keeps, in request order (a later change to the same attribute wins). What the broker
 * does not keep (title, phone numbers, other addresses, custom extensions) is listed as `ignored`, so
 * a caller may audit it; RFC 7643 §3.1 lets a service provider ignore attributes it does not support.
 */
export type UserChange =
  | { attribute: 'active'; value: boolean }
  | { attribute: 'userName'; value: string }
  | { attribute: 'displayName'; value: string | null }
  | { attribute: 'externalId'; value: string | null }
  | { attribute: 'givenName'; value: string | null }
  | { attribute: 'familyName'; value: string | null }
  | { attribute: 'formattedName'; value: string | null }
  | { attribute: 'email'; value: string | null }
  | { attribute: 'workAddress'; value: string | null }
  | { attribute: 'manager'; value: string | null }
  | { attribute: 'ignored'; path: string };

export type UserUpdate = {
  [C in UserChange as C['attribute'] extends 'ignored' ? never : C['attribute']]?: C extends {
    value: infer V;
  }
    ? V
    : never;
};

/** The net effect of a list of changes: the last value of each attribute. */
export function foldUserChanges(changes: UserChange[]): UserUpdate {
  const out: Record<string, unknown> = {};
  for (const c of changes) if (c.attribute !== 'ignored') out[c.attribute] = c.value;
  return out as UserUpdate;
}
