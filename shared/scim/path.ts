/**
 * A PATCH operation's `path` (RFC 7644 §3.5.2: `attrPath` or `valuePath [subAttr]`), read with
 * scim2-parse-filter: a bare `valuePath` parses as a filter by itself, and an `attrPath` or
 * `valuePath.subAttr` parses once the presence test ` pr` is appended. Only those shapes are
 * accepted; anything the library reads as another filter is an invalidPath.
 */
import { type Filter, parse } from 'scim2-parse-filter';
import { badRequest } from './errors.ts';

export interface PatchPath {
  /** The schema URN before the attribute (`urn:…:enterprise:2.0:User`), as sent. */
  schema?: string;
  /** The attribute, as sent (compare ignoring case). */
  attribute: string;
  /** `emails[type eq "work"]` → `{ type: 'work' }` (names lower-cased); only `eq` joined by `and`. */
  filter?: Record<string, string | number | boolean | null>;
  /** True when a bracket filter uses anything but `eq`/`and`; the broker then ignores the path. */
  unsupportedFilter?: boolean;
  subAttribute?: string;
  /** The path as sent, for error details. */
  raw: string;
}

const MAX_PATH_LENGTH = 512;

function invalidPath(raw: string): never {
  throw badRequest('invalidPath', `the path "${raw.slice(0, 200)}" is not a valid attribute path`);
}

function eqConditions(node: Filter, out: Record<string, string | number | boolean | null>): boolean {
  if (node.op === 'and') return (node as { filters: Filter[] }).filters.every((f) => eqConditions(f, out));
  if (node.op !== 'eq') return false;
  const cmp = node as { attrPath: string; compValue: string | number | boolean | null };
  out[cmp.attrPath.toLowerCase()] = cmp.compValue;
  return true;
}

/** Splits `urn:…:User:manager.value` into schema, attribute and sub-attribute (one level only). */
function splitAttrPath(
  raw: string,
  attrPath: string,
): { schema?: string; attribute: string; subAttribute?: string } {
  let schema: string | undefined;
  let rest = attrPath;
  if (attrPath.toLowerCase().startsWith('urn:')) {
    const cut = attrPath.lastIndexOf(':');
    schema = attrPath.slice(0, cut);
    rest = attrPath.slice(cut + 1);
  }
  const dot = rest.indexOf('.');
  const attribute = dot < 0 ? rest : rest.slice(0, dot);
  const subAttribute = dot < 0 ? undefined : rest.slice(dot + 1);
  if (!attribute || subAttribute === '' || subAttribute?.includes('.')) invalidPath(raw);
  return { ...(schema ? { schema } : {}), attribute, ...(subAttribute ? { subAttribute } : {}) };
}

function fromValuePath(raw: string, vp: { attrPath: string; valFilter: Filter }, sub?: string): PatchPath {
  const filter: Record<string, string | number | boolean | null> = {};
  const supported = eqConditions(vp.valFilter, filter);
  const base = splitAttrPath(raw, vp.attrPath);
  if (base.subAttribute) invalidPath(raw);
  return {
    ...base,
    ...(supported ? { filter } : { unsupportedFilter: true }),
    ...(sub ? { subAttribute: sub } : {}),
    raw,
  };
}

function tryParse(text: string): Filter | undefined {
  try {
    return parse(text);
  } catch {
    return undefined;
  }
}

export function parsePatchPath(raw: string): PatchPath {
  const text = raw.trim();
  if (!text || text.length > MAX_PATH_LENGTH) invalidPath(raw);
  const alone = tryParse(text);
  if (alone) {
    if (alone.op !== '[]') invalidPath(raw);
    return fromValuePath(raw, alone as { attrPath: string; valFilter: Filter });
  }
  const withPr = tryParse(`${text} pr`);
  if (withPr?.op === 'pr') return { ...splitAttrPath(raw, (withPr as { attrPath: string }).attrPath), raw };
  if (withPr?.op === 'and') {
    const filters = (withPr as { filters: Filter[] }).filters;
    const [vp, pr] = filters;
    if (filters.length === 2 && vp?.op === '[]' && pr?.op === 'pr') {
      const base = (vp as { attrPath: string }).attrPath;
      const full = (pr as { attrPath: string }).attrPath;
      const sub = full.startsWith(`${base}.`) ? full.slice(base.length + 1) : '';
      if (sub && !sub.includes('.'))
        return fromValuePath(raw, vp as { attrPath: string; valFilter: Filter }, sub);
    }
  }
  return invalidPath(raw);
}
