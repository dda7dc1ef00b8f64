/**
 * A PATCH of a Group as canonical changes. Entra adds and removes members in batches
 * (`{"op":"Add","path":"members","value":[{"value":"id"},…]}`), removes one member either with a
 * value list or, with the `aadOptscim062020` flag, with `members[value eq "id"]`, and renames with
 * `Replace displayName`. `remove members` without a value empties the group. A request naming more
 * than MAX_MEMBERS_PER_REQUEST members in all is refused.
 */
import { MAX_MEMBERS_PER_REQUEST } from './discovery.ts';
import { badRequest, invalidValue } from './errors.ts';
import { isObject, member } from './keys.ts';
import { type PatchOperation, readPatchRequest } from './patch-request.ts';
import { checked, checkedId, checkedReference, optionalString, type ProvisioningRules } from './rules.ts';
import { GROUP_SCHEMA } from './urns.ts';

export type GroupChange =
  | { attribute: 'displayName'; value: string }
  | { attribute: 'externalId'; value: string | null }
  | { attribute: 'members'; action: 'add' | 'remove' | 'replace'; ids: string[] }
  | { attribute: 'ignored'; path: string };

/** Member ids from `[{value}]`, `{value}` or a bare id string. */
export function memberIds(value: unknown, attribute = 'members'): string[] {
  if (value === null || value === undefined) return [];
  const items = Array.isArray(value) ? value : [value];
  return items.map((item) =>
    checkedReference(isObject(item) ? member(item, 'value') : item, `${attribute}.value`),
  );
}

function groupChange(o: PatchOperation, rules: ProvisioningRules): GroupChange {
  const { path, op } = o;
  const schema = path.schema?.toLowerCase();
  const ignored: GroupChange = { attribute: 'ignored', path: path.raw };
  if (schema !== undefined && schema !== GROUP_SCHEMA.toLowerCase()) return ignored;
  const attr = path.attribute.toLowerCase();

  if (attr === 'members') {
    if (path.unsupportedFilter || path.subAttribute) {
      throw badRequest('invalidPath', `${path.raw.slice(0, 200)}: only members[value eq "…"] is supported`);
    }
    if (path.filter) {
      const keys = Object.keys(path.filter);
      if (op !== 'remove' || keys.length !== 1 || keys[0] !== 'value') {
        throw badRequest(
          'invalidPath',
          `${path.raw.slice(0, 200)}: only remove members[value eq "…"] is supported`,
        );
      }
      return {
        attribute: 'members',
        action: 'remove',
        ids: [checkedReference(path.filter.value, 'members.value')],
      };
    }
    if (op === 'remove') {
      // A remove with a value list takes those members out; without one it empties the group.
      return o.value === undefined || o.value === null
        ? { attribute: 'members', action: 'replace', ids: [] }
        : { attribute: 'members', action: 'remove', ids: memberIds(o.value) };
    }
    return { attribute: 'members', action: op, ids: memberIds(o.value) };
  }
  if (path.filter || path.unsupportedFilter || path.subAttribute) return ignored;
  if (attr === 'displayname') {
    const v = op === 'remove' ? null : optionalString(o.value, 'displayName');
    if (v === null) throw invalidValue('displayName', 'is required');
    return { attribute: 'displayName', value: checked(rules.displayName, v, 'displayName') };
  }
  if (attr === 'externalid') {
    const v = op === 'remove' ? null : optionalString(o.value, 'externalId');
    return { attribute: 'externalId', value: v === null ? null : checkedId(v, 'externalId') };
  }
  if (attr === 'id') throw badRequest('mutability', 'id cannot be changed');
  return ignored;
}

export function groupChangesFromOperations(ops: PatchOperation[], rules: ProvisioningRules): GroupChange[] {
  const changes = ops.map((o) => groupChange(o, rules));
  const named = changes.reduce((n, c) => n + (c.attribute === 'members' ? c.ids.length : 0), 0);
  if (named > MAX_MEMBERS_PER_REQUEST) {
    throw badRequest('invalidValue', `a request may name at most ${MAX_MEMBERS_PER_REQUEST} members`);
  }
  return changes;
}

/** PATCH /Groups/{id}: the body as canonical changes, or a ScimError (400) saying what is wrong. */
export function normalizeGroupPatch(body: unknown, rules: ProvisioningRules): GroupChange[] {
  return groupChangesFromOperations(readPatchRequest(body), rules);
}
