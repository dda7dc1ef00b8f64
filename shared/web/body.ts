import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import type { z } from 'zod';
import {
  BadRequestError,
  type FieldIssue,
  PayloadTooLargeError,
  UnsupportedMediaTypeError,
  ValidationError,
} from '../core/errors.ts';

export const DEFAULT_JSON_LIMIT = 16 * 1024;

/** zod issues → `[{field, message}]`, one per failing field path. */
export function fieldIssues(error: z.ZodError, prefix = ''): FieldIssue[] {
  return error.issues.map((issue) => {
    let field = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      field = [field, ...issue.keys].filter(Boolean).join('.');
      return { field: prefix + field, message: 'is not a known field' };
    }
    return { field: prefix + (field || '(body)'), message: issue.message };
  });
}

/** Validates any value against a schema, throwing a 400 that names each failing field. */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown, prefix = ''): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw new ValidationError(fieldIssues(result.error, prefix));
  return result.data;
}

async function readBytes(request: HttpRequest, limit: number): Promise<Buffer> {
  const declared = Number(request.headers.get('content-length') ?? '0');
  if (Number.isFinite(declared) && declared > limit) throw new PayloadTooLargeError(limit);
  const buf = Buffer.from(await request.arrayBuffer());
  if (buf.length > limit) throw new PayloadTooLargeError(limit);
  return buf;
}

/** Reads a JSON body (`application/json` only, size-capped) and validates it with a strict zod schema. */
export async function readJson<S extends z.ZodType>(
  request: HttpRequest,
  schema: S,
  limit = DEFAULT_JSON_LIMIT,
): Promise<z.output<S>> {
  const type = (request.headers.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json') throw new UnsupportedMediaTypeError('application/json');
  const bytes = await readBytes(request, limit);
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw new BadRequestError('The request body is not valid JSON.', 'invalid_json');
  }
  return parseWith(schema, value);
}

/** Reads an `application/x-www-form-urlencoded` body (sign-in forms), size-capped. */
export async function readForm(request: HttpRequest, limit = 8 * 1024): Promise<URLSearchParams> {
  const type = (request.headers.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') {
    throw new UnsupportedMediaTypeError('application/x-www-form-urlencoded');
  }
  const bytes = await readBytes(request, limit);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new BadRequestError('The form is not valid UTF-8.', 'invalid_form');
  }
  return new URLSearchParams(text);
}

/** Query parameters as a plain object (the last value wins), for zod validation. */
export function queryObject(request: HttpRequest): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of request.query.entries()) out[k] = v;
  return out;
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): HttpResponseInit {
  return {
    status,
    jsonBody: body,
    headers: { 'Content-Type': 'application/json; charset=utf-8', ...headers },
  };
}

/** A JSON resource with its version: the body's `etag` is also the ETag header (If-Match takes it back). */
export function jsonWithEtag(
  status: number,
  body: { etag: string },
  headers: Record<string, string> = {},
): HttpResponseInit {
  return json(status, body, { ETag: body.etag, ...headers });
}

export function noContent(headers: Record<string, string> = {}): HttpResponseInit {
  return { status: 204, headers };
}

/** Parses an `If-Match` header: undefined when absent, `*` or the single etag otherwise. */
export function ifMatch(request: HttpRequest): string | undefined {
  const raw = request.headers.get('if-match')?.trim();
  if (!raw) return undefined;
  if (raw.length > 200) throw new BadRequestError('If-Match is too long.', 'invalid_if_match');
  return raw;
}
