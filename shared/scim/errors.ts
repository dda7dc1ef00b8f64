/**
 * SCIM errors (RFC 7644 §3.12). A ScimError is a BrokerError, so the broker's own error handling
 * (status, logging, `expose`) applies unchanged; the SCIM routes answer `toBody()` instead of a
 * problem document, because SCIM clients such as Entra's provisioning service read `scimType`.
 */
import { BrokerError } from '../core/errors.ts';
import { ERROR_MESSAGE } from './urns.ts';

/** The `scimType` values of RFC 7644 Table 9 that the broker uses. */
export type ScimType =
  | 'invalidFilter'
  | 'tooMany'
  | 'uniqueness'
  | 'mutability'
  | 'invalidSyntax'
  | 'invalidPath'
  | 'noTarget'
  | 'invalidValue'
  | 'invalidVers'
  | 'sensitive';

export interface ScimErrorBody {
  schemas: [typeof ERROR_MESSAGE];
  /** A JSON string, as RFC 7644 §3.12 defines it (not a number). */
  status: string;
  scimType?: ScimType;
  detail?: string;
}

export class ScimError extends BrokerError {
  readonly scimType: ScimType | undefined;
  readonly detail: string;

  constructor(status: number, scimType: ScimType | undefined, detail: string) {
    super(status, scimType ? `scim_${scimType}` : `scim_${status}`, detail);
    this.scimType = scimType;
    this.detail = detail;
  }

  toBody(): ScimErrorBody {
    return scimErrorBody(this.status, this.scimType, this.detail);
  }
}

export function scimErrorBody(status: number, scimType: ScimType | undefined, detail: string): ScimErrorBody {
  const body: ScimErrorBody = { schemas: [ERROR_MESSAGE], status: String(status) };
  if (scimType) body.scimType = scimType;
  if (detail) body.detail = detail;
  return body;
}

/** 400 with a scimType: what the client sent is not understood or not allowed. */
export function badRequest(scimType: ScimType, detail: string): ScimError {
  return new ScimError(400, scimType, detail);
}

/** 400 invalidValue naming the attribute, the answer to a value the broker refuses. */
export function invalidValue(attribute: string, why: string): ScimError {
  return new ScimError(400, 'invalidValue', `${attribute}: ${why}`);
}

export function notFound(resource: 'User' | 'Group', id: string): ScimError {
  // The id is echoed only when it is short and printable, so the detail never carries a payload.
  const shown = /^[\w.@-]{1,100}$/.test(id) ? ` ${id}` : '';
  return new ScimError(404, undefined, `${resource}${shown} not found`);
}

export function uniqueness(detail: string): ScimError {
  return new ScimError(409, 'uniqueness', detail);
}

/**
 * Any thrown value as a SCIM error body. Broker errors keep their status and, below 500, their
 * message; anything else is a generic 500 whose text never includes an SDK's message.
 */
export function toScimErrorBody(err: unknown): ScimErrorBody {
  if (err instanceof ScimError) return err.toBody();
  if (err instanceof BrokerError) {
    return scimErrorBody(err.status, undefined, err.expose ? err.message : 'Internal error');
  }
  return scimErrorBody(500, undefined, 'Internal error');
}
