/**
 * The `filter` query parameter (RFC 7644 §3.4.2.2), limited to what the broker can answer from its
 * indexes: equality joined by `and` (the only operators Entra uses, per Microsoft's SCIM tutorial)
 * on `id`, `userName`, `externalId`, `displayName`, the work email and the manager of Users, and on
 * `id`, `displayName`, `externalId` and `members` of Groups. That covers what Entra's provisioning
 * service sends: `userName eq "…"`, `externalId eq jyoung` (a bare word, in the tutorial's
 * example), `emails[type eq "work"].value eq "…"`, `id eq "…" and manager eq "…"`,
 * `displayName eq "…"`, and a member check written `members[value eq "…"]`, `members.value eq "…"`
 * or `members eq "…"`. Anything else is a 400 invalidFilter, never a scan.
 * The grammar is parsed by scim2-parse-filter.
 */
import { type Filter, parse } from 'scim2-parse-filter';
import { badRequest } from './errors.ts';

export type ScimResourceType = 'User' | 'Group';

export type UserFilterAttribute = 'id' | 'userName' | 'externalId' | 'displayName' | 'email' | 'manager';
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

const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:user:';

/** Attribute paths (lower case) → the query attribute they stand for. */
const PATHS: Record<ScimResourceType, Record<string, string>> = {
  User: {
    id: 'id',
    username: 'userName',
    externalid: 'externalId',
    displayname: 'displayName',
    'emails.value': 'email',
    manager: 'manager',
    'manager.value': 'manager',
    [`${ENTERPRISE}manager`]: 'manager',
    [`${ENTERPRISE}manager.value`]: 'manager',
  },
  Group: {
    id: 'id',
    displayname: 'displayName',
    externalid: 'externalId',
    members: 'members',
    'members.value': 'members',
  },
};

const CORE_PREFIX: Record<ScimResourceType, string> = {
  User: 'urn:ietf:params:scim:schemas:core:2.0:user:',
  Group: 'urn:ietf:params:scim:schemas:core:2.0:group:',
};

function unsupported(why: string) {
  return badRequest('invalidFilter', why);
}

function canonical(resource: ScimResourceType, attrPath: string): string | undefined {
  let path = attrPath.toLowerCase();
  if (path.startsWith(CORE_PREFIX[resource])) path = path.slice(CORE_PREFIX[resource].length);
  return PATHS[resource][path];
}

interface Collected {
  pairs: Array<[string, string]>;
  /** `emails[type eq "work"]`: a qualifier that only narrows an email equality beside it. */
  workEmailQualifier: boolean;
}

function valuePath(
  resource: ScimResourceType,
  node: { attrPath: string; valFilter: Filter },
  out: Collected,
) {
  const inner = node.valFilter as { op: string; attrPath?: string; compValue?: unknown };
  const sub = inner.attrPath?.toLowerCase();
  if (inner.op === 'eq' && sub === 'value') {
    compare(resource, `${node.attrPath}.value`, inner.compValue, out);
    return;
  }
  const isEmails = canonical(resource, `${node.attrPath}.value`) === 'email';
  if (isEmails && inner.op === 'eq' && sub === 'type' && String(inner.compValue).toLowerCase() === 'work') {
    out.workEmailQualifier = true;
    return;
  }
  throw unsupported(
    `${node.attrPath.slice(0, 100)}[…] is supported only as [value eq "…"] or emails[type eq "work"]`,
  );
}

function compare(resource: ScimResourceType, attrPath: string, value: unknown, out: Collected) {
  const name = canonical(resource, attrPath);
  if (!name) throw unsupported(`filtering on "${attrPath.slice(0, 100)}" is not supported`);
  if (typeof value !== 'string') throw unsupported(`${name} must be compared with a string`);
  out.pairs.push([name, value]);
}

function collect(resource: ScimResourceType, node: Filter, out: Collected): void {
  if (node.op === 'and') {
    for (const f of (node as { filters: Filter[] }).filters) collect(resource, f, out);
    return;
  }
  if (node.op === '[]') {
    valuePath(resource, node as { attrPath: string; valFilter: Filter }, out);
    return;
  }
  if (node.op !== 'eq') throw unsupported(`the operator "${node.op}" is not supported; use eq (and and)`);
  const cmp = node as { attrPath: string; compValue: unknown };
  compare(resource, cmp.attrPath, cmp.compValue, out);
}

/** A bare word compared with `eq` (`externalId eq jyoung`), quoted so the grammar accepts it. */
function quoteBareWords(filter: string): string {
  return filter.replace(/(\beq\s+)([^\s"()[\]]+)(?=\s|\)|$)/gi, (all, eq: string, word: string) =>
    /^(true|false|null|-?\d+(\.\d+)?)$/i.test(word) ? all : `${eq}"${word}"`,
  );
}

function parseLenient(filter: string): Filter {
  try {
    return parse(filter);
  } catch {
    try {
      return parse(quoteBareWords(filter));
    } catch {
      throw unsupported('the filter could not be parsed');
    }
  }
}

export function parseFilter<R extends ScimResourceType>(
  resource: R,
  filter: string,
): ScimQuery<R extends 'User' ? UserFilterAttribute : GroupFilterAttribute> {
  if (filter.length > MAX_FILTER_LENGTH)
    throw unsupported(`the filter is longer than ${MAX_FILTER_LENGTH} characters`);
  const out: Collected = { pairs: [], workEmailQualifier: false };
  collect(resource, parseLenient(filter), out);
  if (out.workEmailQualifier && !out.pairs.some(([name]) => name === 'email')) {
    throw unsupported('emails[type eq "work"] is supported only with emails[type eq "work"].value eq "…"');
  }
  const equals: Record<string, string> = {};
  let matchesNothing = false;
  for (const [name, value] of out.pairs) {
    if (name in equals && equals[name] !== value) matchesNothing = true;
    equals[name] = value;
  }
  return { equals, matchesNothing } as ScimQuery<
    R extends 'User' ? UserFilterAttribute : GroupFilterAttribute
  >;
}
