import {
  BrokerError,
  ConflictError,
  PayloadTooLargeError,
  UnsupportedMediaTypeError,
  ValidationError,
} from '../core/errors.ts';
import { ScimError, type ScimErrorBody, scimErrorBody, toScimErrorBody } from '../scim/index.ts';

/**
 * Any error of a SCIM request as RFC 7644's error body: the broker's own refusals keep their status
 * and say it in SCIM's words (a value the management API's rules refuse is a 400 invalidValue naming
 * the field; a name, email, identity or externalId held by another user is a 409 uniqueness).
 */
export function scimErrorOf(err: unknown): { status: number; body: ScimErrorBody } {
  if (err instanceof ScimError) return { status: err.status, body: err.toBody() };
  if (err instanceof ValidationError) {
    const issues = (err.extras.errors as { field: string; message: string }[] | undefined) ?? [];
    const detail = issues.map((i) => `${i.field}: ${i.message}`).join('; ') || err.message;
    return { status: 400, body: scimErrorBody(400, 'invalidValue', detail) };
  }
  if (err instanceof ConflictError) {
    return { status: 409, body: scimErrorBody(409, 'uniqueness', err.message) };
  }
  if (err instanceof PayloadTooLargeError)
    return { status: 413, body: scimErrorBody(413, undefined, err.message) };
  if (err instanceof UnsupportedMediaTypeError) {
    return { status: 415, body: scimErrorBody(415, undefined, err.message) };
  }
  const body = toScimErrorBody(err);
  return { status: err instanceof BrokerError ? err.status : 500, body };
}

/** A short outcome for the console and the audit: `201`, `400 invalidValue`, `409 uniqueness`. */
export function outcomeOf(status: number, body?: ScimErrorBody): string {
  return body?.scimType ? `${status} ${body.scimType}` : String(status);
}
