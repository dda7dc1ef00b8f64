/**
 * One error taxonomy for the broker (after panva/node-oidc-provider's lib/helpers/errors.js).
 *
 * Each class carries its HTTP status, a stable machine-readable `code`, and whether its message may
 * be shown to the caller (`expose = status < 500`). `toProblem()` turns ANY thrown value into an
 * RFC 9457 problem document; unknown errors become a generic 500 whose text never includes a stack
 * trace or an SDK's message.
 */

export interface ProblemExtras {
  [key: string]: unknown;
}

export class BrokerError extends Error {
  /** HTTP status code. */
  readonly status: number;
  /** Stable, documented code; clients may branch on it. */
  readonly code: string;
  /** Whether `message` may be shown to the caller. */
  readonly expose: boolean;
  /** Extra members for the problem document (must never hold secrets). */
  readonly extras: ProblemExtras;
  /** Headers to add to the response (e.g. Allow, Retry-After). */
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    code: string,
    message: string,
    opts: { extras?: ProblemExtras; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.status = status;
    this.code = code;
    this.expose = status < 500;
    this.extras = opts.extras ?? {};
    this.headers = opts.headers ?? {};
  }
}

export interface FieldIssue {
  field: string;
  message: string;
}

/**
 * 400 — the request body, query or a route parameter failed validation.
 * Likely causes: a missing or misspelled field, an unknown field (inputs are strict), a value
 * outside its allowed length or format. `errors` names each failing field.
 */
export class ValidationError extends BrokerError {
  constructor(issues: FieldIssue[], message = 'The request is not valid.') {
    super(400, 'validation_failed', message, { extras: { errors: issues } });
  }
}

/**
 * 400 — the request could not be read at all (malformed JSON, wrong encoding).
 * Likely causes: a client that does not send JSON, a truncated body.
 */
export class BadRequestError extends BrokerError {
  constructor(message = 'The request could not be read.', code = 'bad_request', extras?: ProblemExtras) {
    super(400, code, message, extras ? { extras } : {});
  }
}

/**
 * 401 — no credentials, or credentials that are not valid (malformed, expired, revoked).
 * Likely causes: a missing `Authorization: Bearer` header, a revoked or expired admin token,
 * an expired session cookie.
 */
export class UnauthorizedError extends BrokerError {
  constructor(message = 'Authentication is required.', code = 'unauthorized') {
    super(401, code, message, { headers: { 'WWW-Authenticate': 'Bearer realm="broker"' } });
  }
}

/**
 * 403 — authenticated but not allowed, or a cross-site request was refused.
 * Likely causes: a non-admin session calling the management API; a missing `X-Broker-Csrf` header;
 * a request from another origin.
 */
export class ForbiddenError extends BrokerError {
  constructor(message = 'You are not allowed to do this.', code = 'forbidden') {
    super(403, code, message);
  }
}

/** 404 — no such resource or route. Likely causes: a typo in the id, a deleted resource. */
export class NotFoundError extends BrokerError {
  constructor(message = 'Not found.', code = 'not_found') {
    super(404, code, message);
  }
}

/**
 * 409 — the change conflicts with the current state.
 * Likely causes: a duplicate title or username, deleting something still in use.
 */
export class ConflictError extends BrokerError {
  constructor(message: string, code = 'conflict', extras?: ProblemExtras) {
    super(409, code, message, extras ? { extras } : {});
  }
}

/**
 * 412 — `If-Match` did not match the resource's current etag.
 * Likely causes: someone else changed the resource since you read it; read it again and retry.
 */
export class PreconditionFailedError extends BrokerError {
  constructor(message = 'The resource was changed by someone else; read it again and retry.') {
    super(412, 'precondition_failed', message);
  }
}

/** 413 — the body is larger than the route accepts. */
export class PayloadTooLargeError extends BrokerError {
  constructor(limitBytes: number) {
    super(413, 'payload_too_large', `The request body is larger than ${limitBytes} bytes.`);
  }
}

/** 415 — the body is not `application/json` (management API) or not a form (sign-in pages). */
export class UnsupportedMediaTypeError extends BrokerError {
  constructor(expected: string) {
    super(415, 'unsupported_media_type', `The request body must be ${expected}.`);
  }
}

/** 429 — too many attempts. `Retry-After` says when to try again. */
export class TooManyRequestsError extends BrokerError {
  constructor(retryAfterSeconds: number, message = 'Too many attempts. Try again later.') {
    const seconds = Math.max(1, Math.ceil(retryAfterSeconds));
    super(429, 'too_many_requests', message, {
      headers: { 'Retry-After': String(seconds) },
      extras: { retryAfter: seconds },
    });
  }
}

/**
 * 503 — a dependency (Table Storage, Key Vault, Entra) did not answer.
 * Likely causes: a network outage, missing role assignments for the managed identity, throttling.
 * The message shown is generic; the cause is only logged (without secrets).
 */
export type Dependency = 'tables' | 'secrets' | 'entra';

/** What the log may say about a failed dependency call: never data, keys, names of rows or values. */
export interface DependencyFailure {
  /** HTTP status the dependency answered, if it answered. */
  status?: number;
  /** Network or SDK error code (ECONNREFUSED, AbortError, …) or the service's x-ms-error-code. */
  errorCode?: string;
  /** What was attempted, e.g. `getEntity`, `submitTransaction`, `getSecret`. */
  operation?: string;
  /** Table Storage: the table the call went to. */
  table?: string;
  /** Key Vault: the vault's host (never a secret's name). */
  vault?: string;
}

/** Seconds a client is asked to wait after a 503 (the SDKs fail within ~3 s; outages last longer). */
export const DEPENDENCY_RETRY_AFTER_SECONDS = 5;

export class DependencyError extends BrokerError {
  /** For the log only (see DependencyFailure); never part of the response. */
  readonly failure: DependencyFailure & { dependency: Dependency };

  constructor(dependency: Dependency, cause?: unknown, failure: DependencyFailure = {}) {
    super(
      503,
      'dependency_unavailable',
      'A service the broker depends on is not available. Try again later.',
      {
        extras: { dependency },
        headers: { 'Retry-After': String(DEPENDENCY_RETRY_AFTER_SECONDS) },
        cause,
      },
    );
    // Re-wrapping keeps what the first classification knew.
    const inner = cause instanceof DependencyError ? cause.failure : {};
    this.failure = {
      ...inner,
      ...failure,
      dependency,
      ...(failure.status === undefined && sdkStatus(cause) !== undefined ? { status: sdkStatus(cause) } : {}),
    };
  }
}

const STATUS_TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  412: 'Precondition Failed',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  instance: string;
  [key: string]: unknown;
}

export interface ProblemResult {
  status: number;
  problem: Problem;
  headers: Record<string, string>;
}

/** Turns any thrown value into a problem document that is safe to send. */
export function toProblem(err: unknown, correlationId: string): ProblemResult {
  const known = err instanceof BrokerError ? err : undefined;
  const status = known?.status ?? 500;
  const code = known?.code ?? 'internal_error';
  const detail =
    known?.expose === true
      ? known.message
      : status === 503
        ? (known?.message ?? 'A service is not available.')
        : 'Something went wrong on our side. Quote the correlation id when you report it.';
  const problem: Problem = {
    ...(known?.expose || status === 503 ? known?.extras : {}),
    type: `urn:broker:problem:${code}`,
    title: STATUS_TITLES[status] ?? 'Error',
    status,
    detail,
    code,
    instance: `urn:broker:correlation:${correlationId}`,
    correlationId,
  };
  return { status, problem, headers: known?.headers ?? {} };
}

/** Reads the HTTP status an Azure SDK error carries (RestError.statusCode), if any. */
export function sdkStatus(err: unknown): number | undefined {
  if (typeof err === 'object' && err !== null && 'statusCode' in err) {
    const s = (err as { statusCode?: unknown }).statusCode;
    return typeof s === 'number' ? s : undefined;
  }
  return undefined;
}
