/**
 * The `filter` query parameter (RFC 7644 §3.4.2.2), limited to what the broker can answer from its
 * indexes: equality on `id`, `userName`, `externalId`, `displayName` (Users) and `id`, `displayName`,
 * `externalId`, `members` (Groups), joined by `and`. That covers what Entra's provisioning service
 * sends (`userName eq "…"`, `externalId eq "…"`, `displayName eq "…"` (also on Users, as the
 * validation collection of AzureAD/SCIMReferenceCode asks), a member check written
 * `members[value eq "…"]`, `members.value eq "…"` or `members eq "…"`). Anything else is a
 * 400 invalidFilter, never a scan. The grammar is parsed by scim2-parse-filter.
 */
import { type Filter, parse } from 'scim2-parse-filter';
import { badRequest } from './errors.ts';

export type ScimResourceType = 'User' | 'Group';

export type UserFilterAttribute = 'id' | 'userName' | 'externalId' | 'displayName';
export type GroupFilterAttribute = 'id' | 'displayName' | 'externalId' | 'members';

export interface ScimQuery<A extends string> {
  /** Every condition must hold. Values are as sent; the store applies its own comparison rules. */
  equals: Partial<Record<A, string>>;
  /**
   * True when two conditions on one attribute name different values: a valid filter that matches
   * nothing, answered with an empty ListResponse rather than an error.
   */
  matchesNothing: boolean;
}

/** Longer filters are refused before parsing: Entra's are far shorter. */
export const MAX_FILTER_LENGTH = 2048;

const ATTRIBUTES: Record<ScimResourceType, readonly string[]> = {
  User: ['id', 'userName', 'externalId', 'displayName'],
  Group: ['id', 'displayName', 'externalId', 'members'],
};

const CORE_PREFIX: Record<ScimResourceType, string> = {
  User: 'urn:ietf:params:scim:schemas:core:2.0:user:',
  Group: 'urn:ietf:params:scim:schemas:core:2.0:group:',
};

function unsupported(why: string) {
  return badRequest('invalidFilter', why);
}

/** The canonical attribute name for a filter's attribute path, or undefined. */
function canonical(resource: ScimResourceType, attrPath: string): string | undefined {
  let path = attrPath.toLowerCase();
  if (path.startsWith(CORE_PREFIX[resource])) path = path.slice(CORE_PREFIX[resource].length);
  if (resource === 'Group' && path === 'members.value') path = 'members';
  return ATTRIBUTES[resource].find((a) => a.toLowerCase() === path);
}

function collect(resource: ScimResourceType, node: Filter, out: Array<[string, string]>): void {
  if (node.op === 'and') {
    for (const f of (node as { filters: Filter[] }).filters) collect(resource, f, out);
    return;
  }
  if (node.op === '[]') {
    const vp = node as { attrPath: string; valFilter: Filter };
    const inner = vp.valFilter as { op: string; attrPath?: string; compValue?: unknown };
    if (inner.op !== 'eq' || inner.attrPath?.toLowerCase() !== 'value') {
      throw unsupported(`only ${vp.attrPath}[value eq "…"] is supported inside brackets`);
    }
    collect(
      resource,
      { op: 'eq', attrPath: `${vp.attrPath}.value`, compValue: inner.compValue as string },
      out,
    );
    return;
  }
  if (node.op !== 'eq') throw unsupported(`the operator "${node.op}" is not supported; use eq (and and)`);
  const cmp = node as { attrPath: string; compValue: unknown };
  const name = canonical(resource, cmp.attrPath);
  if (!name) throw unsupported(`filtering on "${cmp.attrPath.slice(0, 100)}" is not supported`);
  if (typeof cmp.compValue !== 'string') throw unsupported(`${name} must be compared with a string`);
  out.push([name, cmp.compValue]);
}

export function parseFilter<R extends ScimResourceType>(
  resource: R,
  filter: string,
): ScimQuery<R extends 'User' ? UserFilterAttribute : GroupFilterAttribute> {
  if (filter.length > MAX_FILTER_LENGTH)
    throw unsupported(`the filter is longer than ${MAX_FILTER_LENGTH} characters`);
  let ast: Filter;
  try {
    ast = parse(filter);
  } catch {
    throw unsupported('the filter could not be parsed');
  }
  const pairs: Array<[string, string]> = [];
  collect(resource, ast, pairs);
  const equals: Record<string, string> = {};
  let matchesNothing = false;
  for (const [name, value] of pairs) {
    if (name in equals && equals[name] !== value) matchesNothing = true;
    equals[name] = value;
  }
  return { equals, matchesNothing } as ScimQuery<
    R extends 'User' ? UserFilterAttribute : GroupFilterAttribute
  >;
}
