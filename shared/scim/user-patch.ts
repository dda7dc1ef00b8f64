/**
 * A PATCH of a User, in Entra's dialect, as canonical changes. Entra's shapes (Microsoft's SCIM
 * tutorial and its known-issues page): `Replace`/`Add`/`Remove` in any case; `active` as `false` or
 * `"False"`; `emails[type eq "work"].value`; `addresses[type eq "work"].formatted`;
 * `name.givenName`; the enterprise extension's `manager` as an id string or `{value}`; a value
 * object without a path; attribute names in any case (`emails[type eq "other"].Value`); `manager`
 * without its schema URN and with a one-item list as its value (the tutorial's "Example 5").
 */
import { scimBoolean } from './boolean.ts';
import { badRequest, invalidValue } from './errors.ts';
import { isObject, member } from './keys.ts';
import type { PatchOperation } from './patch-request.ts';
import { readPatchRequest } from './patch-request.ts';
import {
  checked,
  checkedId,
  checkedReference,
  checkedText,
  optionalString,
  type ProvisioningRules,
} from './rules.ts';
import { ENTERPRISE_USER_SCHEMA, USER_SCHEMA } from './urns.ts';
import type { UserChange } from './user-changes.ts';

const lower = (s: string | undefined) => s?.toLowerCase();

/** Whether a bracket filter on emails selects the broker's one email: the work or the primary one. */
function selectsBrokerEmail(filter: Record<string, unknown>): boolean {
  const keys = Object.keys(filter);
  if (keys.length === 0) return false;
  return keys.every(
    (k) =>
      (k === 'type' && typeof filter[k] === 'string' && (filter[k] as string).toLowerCase() === 'work') ||
      (k === 'primary' && scimBoolean(filter[k]) === true),
  );
}

/** From a multi-valued list (or one item), the value of the primary item, else the first of `type`. */
export function pickFromList(list: unknown, type: string, sub: string): { found: boolean; value: unknown } {
  const items = (Array.isArray(list) ? list : [list]).filter(isObject);
  const chosen =
    items.find((i) => scimBoolean(member(i, 'primary')) === true) ??
    items.find((i) => {
      const t = member(i, 'type');
      return typeof t === 'string' && t.toLowerCase() === type;
    });
  return chosen ? { found: true, value: member(chosen, sub) } : { found: false, value: undefined };
}

function emailChange(value: unknown, rules: ProvisioningRules, attribute: string): UserChange {
  const v = optionalString(value, attribute);
  return { attribute: 'email', value: v === null ? null : checked(rules.email, v, attribute) };
}

function coreChanges(o: PatchOperation, rules: ProvisioningRules): UserChange[] {
  const { path, op } = o;
  const attr = lower(path.attribute);
  const sub = lower(path.subAttribute);
  const raw = path.raw;
  const ignored: UserChange[] = [{ attribute: 'ignored', path: raw }];
  const value = op === 'remove' ? null : o.value;

  if (path.filter === undefined && !path.unsupportedFilter) {
    switch (attr) {
      case 'active': {
        if (sub) return ignored;
        const b = scimBoolean(value);
        if (b === undefined)
          throw invalidValue('active', op === 'remove' ? 'cannot be removed' : 'must be true or false');
        return [{ attribute: 'active', value: b }];
      }
      case 'username': {
        if (sub) return ignored;
        if (typeof value !== 'string' || !value.trim()) throw invalidValue('userName', 'is required');
        return [{ attribute: 'userName', value: checked(rules.username, value, 'userName') }];
      }
      case 'displayname': {
        if (sub) return ignored;
        const v = optionalString(value, 'displayName');
        return [
          {
            attribute: 'displayName',
            value: v === null ? null : checked(rules.displayName, v, 'displayName'),
          },
        ];
      }
      case 'externalid': {
        if (sub) return ignored;
        const v = optionalString(value, 'externalId');
        return [{ attribute: 'externalId', value: v === null ? null : checkedId(v, 'externalId') }];
      }
      case 'name':
        return nameChanges(op, sub, value, rules, raw);
      case 'emails': {
        if (sub && sub !== 'value') return ignored;
        if (op === 'remove') return [{ attribute: 'email', value: null }];
        if (sub) return [emailChange(value, rules, raw)];
        const picked = pickFromList(value, 'work', 'value');
        if (!picked.found) return op === 'replace' ? [{ attribute: 'email', value: null }] : ignored;
        return [emailChange(picked.value, rules, 'emails')];
      }
      case 'addresses': {
        if (sub && sub !== 'formatted') return ignored;
        if (op === 'remove') return [{ attribute: 'workAddress', value: null }];
        if (sub) return [{ attribute: 'workAddress', value: checkedText(optionalString(value, raw), raw) }];
        const picked = pickFromList(value, 'work', 'formatted');
        if (!picked.found) return op === 'replace' ? [{ attribute: 'workAddress', value: null }] : ignored;
        return [
          {
            attribute: 'workAddress',
            value: checkedText(optionalString(picked.value, 'addresses'), 'addresses'),
          },
        ];
      }
      case 'manager':
        // The tutorial's "Example 5" names the enterprise attribute without its schema URN.
        return enterpriseChanges(o);
      case 'id':
        throw badRequest('mutability', 'id cannot be changed');
      default:
        return ignored;
    }
  }

  if (path.unsupportedFilter || !path.filter) return ignored;
  if (attr === 'emails' && selectsBrokerEmail(path.filter)) {
    if (sub && sub !== 'value') return ignored;
    if (op === 'remove') return [{ attribute: 'email', value: null }];
    const v = sub ? value : isObject(value) ? member(value, 'value') : value;
    return [emailChange(v, rules, raw)];
  }
  if (
    attr === 'addresses' &&
    lower(String(path.filter.type)) === 'work' &&
    Object.keys(path.filter).length === 1
  ) {
    if (sub && sub !== 'formatted') return ignored;
    if (op === 'remove') return [{ attribute: 'workAddress', value: null }];
    const v = sub ? value : isObject(value) ? member(value, 'formatted') : value;
    return [{ attribute: 'workAddress', value: checkedText(optionalString(v, raw), raw) }];
  }
  return ignored;
}

function nameChanges(
  op: PatchOperation['op'],
  sub: string | undefined,
  value: unknown,
  rules: ProvisioningRules,
  raw: string,
): UserChange[] {
  const one = (which: 'givenName' | 'familyName' | 'formattedName', v: unknown): UserChange => {
    const sub = which === 'formattedName' ? 'formatted' : which;
    const s = optionalString(v, `name.${sub}`);
    return { attribute: which, value: s === null ? null : checked(rules.displayName, s, `name.${sub}`) };
  };
  if (sub === 'givenname') return [one('givenName', value)];
  if (sub === 'familyname') return [one('familyName', value)];
  if (sub === 'formatted') return [one('formattedName', value)];
  if (sub) return [{ attribute: 'ignored', path: raw }];
  if (op === 'remove' || value === null) {
    return [one('givenName', null), one('familyName', null), one('formattedName', null)];
  }
  if (!isObject(value)) throw invalidValue('name', 'must be an object');
  // Sub-attributes left out of the value stay as they are (RFC 7644 §3.5.2.3).
  const out: UserChange[] = [];
  const given = member(value, 'givenName');
  const family = member(value, 'familyName');
  const formatted = member(value, 'formatted');
  if (given !== undefined) out.push(one('givenName', given));
  if (family !== undefined) out.push(one('familyName', family));
  if (formatted !== undefined) out.push(one('formattedName', formatted));
  return out.length ? out : [{ attribute: 'ignored', path: raw }];
}

function enterpriseChanges(o: PatchOperation): UserChange[] {
  const attr = lower(o.path.attribute);
  const sub = lower(o.path.subAttribute);
  if (attr !== 'manager' || o.path.filter || o.path.unsupportedFilter || (sub && sub !== 'value')) {
    return [{ attribute: 'ignored', path: o.path.raw }];
  }
  if (o.op === 'remove') return [{ attribute: 'manager', value: null }];
  // `[{"$ref": …, "value": id}]` in the tutorial's "Example 5"; `{value}` or the id itself elsewhere.
  if (Array.isArray(o.value) && o.value.length > 1) throw invalidValue('manager', 'takes one value');
  const item = Array.isArray(o.value) ? (o.value[0] ?? null) : o.value;
  const v = !sub && isObject(item) ? member(item, 'value') : item;
  const s = optionalString(v, 'manager');
  return [{ attribute: 'manager', value: s === null ? null : checkedReference(s, 'manager') }];
}

export function userChangesFromOperations(ops: PatchOperation[], rules: ProvisioningRules): UserChange[] {
  const out: UserChange[] = [];
  for (const o of ops) {
    const schema = lower(o.path.schema);
    if (schema === undefined || schema === USER_SCHEMA.toLowerCase()) out.push(...coreChanges(o, rules));
    else if (schema === ENTERPRISE_USER_SCHEMA.toLowerCase()) out.push(...enterpriseChanges(o));
    else out.push({ attribute: 'ignored', path: o.path.raw });
  }
  return out;
}

/** PATCH /Users/{id}: the body as canonical changes, or a ScimError (400) saying what is wrong. */
export function normalizeUserPatch(body: unknown, rules: ProvisioningRules): UserChange[] {
  return userChangesFromOperations(readPatchRequest(body), rules);
}
