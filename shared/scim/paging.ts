/**
 * `startIndex`/`count` of a SCIM query (RFC 7644 §3.4.2.4): `startIndex` is 1-based and a value
 * below 1 means 1; `count` below 0 means 0, and 0 asks for no resources, only `totalResults`.
 * A value that is not a whole number is a 400 invalidValue. `count` is capped at the broker's
 * maximum, which the specification allows ("MAY return fewer results").
 */
import { badRequest } from './errors.ts';

export interface PageLimits {
  /** The number of resources answered when the client sends no `count`. */
  defaultCount: number;
  /** The most resources one page holds, whatever the client asks. */
  maxCount: number;
}

export const DEFAULT_PAGE_LIMITS: PageLimits = { defaultCount: 100, maxCount: 200 };

export interface Page {
  /** 1-based index of the first resource, as answered in the ListResponse. */
  startIndex: number;
  /** How many resources to return, 0 to max. */
  count: number;
  /** `startIndex - 1`: how many matching resources to skip. */
  offset: number;
}

const INTEGER = /^[+-]?\d{1,15}$/;

function integerParam(name: string, raw: string | null | undefined): number | undefined {
  if (raw === undefined || raw === null || raw.trim() === '') return undefined;
  if (!INTEGER.test(raw.trim())) throw badRequest('invalidValue', `${name} must be a whole number`);
  return Number(raw.trim());
}

export function parsePage(
  query: { startIndex?: string | null; count?: string | null },
  limits: PageLimits = DEFAULT_PAGE_LIMITS,
): Page {
  const start = integerParam('startIndex', query.startIndex);
  const count = integerParam('count', query.count);
  const startIndex = start === undefined || start < 1 ? 1 : start;
  const wanted = count === undefined ? limits.defaultCount : Math.max(0, count);
  return { startIndex, count: Math.min(wanted, limits.maxCount), offset: startIndex - 1 };
}
