/**
 * The management API client: every call sends the session cookie and `X-Broker-Csrf: 1`, and its
 * answer comes back as data (never an exception), so each page decides what a failure shows.
 */
import type { FederatedValues, TestResult } from './types.ts';

const API = '/api/manage';

export interface FieldProblem {
  field: string;
  message: string;
}

/** An RFC 9457 problem as the API writes it, with the broker's extensions. */
export interface Problem {
  detail?: string;
  code?: string;
  fix?: string;
  instance?: string;
  errors?: FieldProblem[];
  /** A failed activation still changes the integration (its test result) and answers its new ETag. */
  etag?: string;
  lastTest?: TestResult | null;
  /** After a refusal about a federated credential: the values Entra must hold. */
  expected?: FederatedValues;
}

export interface Success<T> {
  ok: true;
  status: number;
  body: T;
  etag: string | null;
}

export interface Failure {
  ok: false;
  /** 0 when the broker could not be reached. */
  status: number;
  body: Problem | null;
  etag: string | null;
}

export type Result<T> = Success<T> | Failure;

export async function api<T = unknown>(
  method: string,
  path: string,
  opts: { body?: unknown; etag?: string | null } = {},
): Promise<Result<T>> {
  const headers: Record<string, string> = { 'X-Broker-Csrf': '1', Accept: 'application/json' };
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
  if (opts.etag) headers['If-Match'] = opts.etag;
  let res: Response;
  try {
    res = await fetch(API + path, {
      method,
      headers,
      credentials: 'same-origin',
      ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
    });
  } catch {
    return {
      ok: false,
      status: 0,
      body: { detail: 'The broker could not be reached. Check the connection and try again.' },
      etag: null,
    };
  }
  const raw = await res.text();
  let body: unknown = null;
  if (raw) {
    try {
      body = JSON.parse(raw);
    } catch {
      body = null;
    }
  }
  const etag = res.headers.get('ETag') || (body as { etag?: string } | null)?.etag || null;
  return res.ok
    ? { ok: true, status: res.status, body: body as T, etag }
    : { ok: false, status: res.status, body: body as Problem | null, etag };
}
