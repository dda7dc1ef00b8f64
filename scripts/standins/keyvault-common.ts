/**
 * Pieces the Key Vault stand-in's secrets and keys share: Key Vault-shaped errors, names, tags,
 * attributes and paging with an absolute nextLink.
 */

export const MAX_PAGE_SIZE = 25;
export const NAME_PATTERN = /^[0-9a-zA-Z-]{1,127}$/;

export interface VersionAttributes {
  enabled: boolean;
  nbf?: number;
  exp?: number;
  created: number;
  updated: number;
}

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export class KeyVaultError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly innerCode?: string,
  ) {
    super(message);
  }
}

export function errorReply(status: number, code: string, message: string, innerCode?: string): Reply {
  const error: Record<string, unknown> = { code, message };
  if (innerCode) error.innererror = { code: innerCode };
  return { status, body: { error } };
}

export const nowSeconds = () => Math.floor(Date.now() / 1000);
export const badParameter = (message: string) => new KeyVaultError(400, 'BadParameter', message);

export function checkName(name: string): string {
  if (!NAME_PATTERN.test(name)) throw badParameter(`The request URI contains an invalid name: ${name}`);
  return name;
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function parseTags(v: unknown): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isRecord(v)) throw badParameter('Property tags must be an object of strings.');
  const tags: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) {
    if (typeof val !== 'string') throw badParameter(`Tag ${k} must be a string.`);
    tags[k] = val;
  }
  return tags;
}

export interface AttributeChanges {
  enabled?: boolean;
  /** null clears the date. */
  nbf?: number | null;
  exp?: number | null;
}

export function parseAttributes(v: unknown): AttributeChanges {
  if (v === undefined || v === null) return {};
  if (!isRecord(v)) throw badParameter('Property attributes must be an object.');
  const out: AttributeChanges = {};
  if (v.enabled !== undefined && v.enabled !== null) {
    if (typeof v.enabled !== 'boolean') throw badParameter('Property attributes.enabled must be a boolean.');
    out.enabled = v.enabled;
  }
  for (const key of ['nbf', 'exp'] as const) {
    const t = v[key];
    if (t === undefined) continue;
    if (t !== null && !Number.isInteger(t))
      throw badParameter(`Property attributes.${key} must be Unix seconds.`);
    out[key] = t as number | null;
  }
  return out;
}

export function applyAttributes(target: VersionAttributes, changes: AttributeChanges): void {
  if (changes.enabled !== undefined) target.enabled = changes.enabled;
  for (const key of ['nbf', 'exp'] as const) {
    const t = changes[key];
    if (t === null) delete target[key];
    else if (t !== undefined) target[key] = t;
  }
}

/** One page of `entries` (already sorted by key), with an absolute nextLink like Key Vault's. */
export function page<T>(
  baseUrl: string,
  entries: { key: string; value: T }[],
  path: string,
  query: URLSearchParams,
) {
  const rawMax = query.get('maxresults');
  let max = MAX_PAGE_SIZE;
  if (rawMax !== null && rawMax !== '') {
    max = Number(rawMax);
    if (!Number.isInteger(max) || max < 1 || max > MAX_PAGE_SIZE) {
      throw badParameter(
        `Invalid value for maxresults: ${rawMax}. It must be between 1 and ${MAX_PAGE_SIZE}.`,
      );
    }
  }
  const token = query.get('$skiptoken');
  let after: string | undefined;
  if (token) {
    try {
      after = String(JSON.parse(Buffer.from(token, 'base64url').toString('utf8')).after);
    } catch {
      throw badParameter('Invalid $skiptoken.');
    }
  }
  const rest = after === undefined ? entries : entries.filter((e) => e.key > after);
  const slice = rest.slice(0, max);
  let nextLink: string | null = null;
  if (rest.length > max) {
    const next = new URLSearchParams({
      'api-version': query.get('api-version') ?? '7.6',
      $skiptoken: Buffer.from(JSON.stringify({ after: slice[slice.length - 1]!.key })).toString('base64url'),
      maxresults: String(max),
    });
    nextLink = `${baseUrl}${path}?${next.toString()}`;
  }
  return { value: slice.map((e) => e.value), nextLink };
}
