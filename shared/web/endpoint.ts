import { randomUUID } from 'node:crypto';
import type {
  HttpFunctionOptions,
  HttpMethod,
  HttpRequest,
  HttpResponseInit,
  InvocationContext,
} from '@azure/functions';
import { InvalidAdminTokenError, type Principal } from '../admin/auth.ts';
import type { ChangeContext } from '../audit/log.ts';
import {
  BrokerError,
  DEPENDENCY_RETRY_AFTER_SECONDS,
  DependencyError,
  TooManyRequestsError,
  toProblem,
} from '../core/errors.ts';
import { type Logger, rootLogger, withLogFields } from '../core/log.ts';
import { type SpanAttributes, type Tracing, traceIdOfTraceparent } from '../core/tracing.ts';
import { addressBucket, type FailurePolicy, type RatePolicy } from '../limits/throttle.ts';
import { toCookie } from './cookies.ts';
import { securityHeaders } from './headers.ts';
import type { Services } from './services.ts';

export interface RequestContext {
  request: HttpRequest;
  context: InvocationContext;
  services: Services;
  correlationId: string;
  log: Logger;
  /** The caller's address as the platform's front end reports it (X-Forwarded-For), or "unknown". */
  clientAddress: string;
  /** Set on every /api/manage route: the authenticated admin. */
  principal?: Principal;
  /** The instance's tracing: a leg's handler adds what only it knows (ids, method) to the leg's span. */
  tracing: Tracing;
}

export type EndpointHandler = (rc: RequestContext) => Promise<HttpResponseInit>;

/** The audit actor of an admin change: the admin's name (token or session). */
export const actorOf = (rc: RequestContext): string => rc.principal?.name ?? 'unknown';

/** The request details recorded with a change's audit event. */
export const changeContextOf = (rc: RequestContext): ChangeContext => ({
  correlationId: rc.correlationId,
  clientAddress: rc.clientAddress,
});

export interface EndpointOptions {
  /** Route template without the `api/` prefix, e.g. `manage/tokens/{id}`. */
  route: string;
  methods: HttpMethod[];
  handler: EndpointHandler;
  /** Response may be cached by clients (public keys); everything else is `no-store`. */
  cacheable?: boolean;
  /** Renders errors for browser pages; APIs answer problem+json. */
  renderError?: (status: number, correlationId: string, err: unknown, rc: RequestContext) => HttpResponseInit;
  /**
   * A sign-in leg: the invocation runs in a span of this name (per request, or none) with these
   * attributes, and its outcome (status, reason code) is added when it ends.
   */
  leg?: { name: string | ((request: HttpRequest) => string | undefined); attributes?: SpanAttributes };
}

/** Routes under this prefix are the management API: admin authentication is enforced here, for all of them. */
export const MANAGE_PREFIX = 'manage/';

/** Failed admin authentications per client address, or per presented token, before backing off (docs/security.md RL1). */
export const ADMIN_AUTH_FAILURES: FailurePolicy = {
  freeAttempts: 50,
  windowMs: 10 * 60_000,
  baseBlockMs: 10_000,
  maxBlockMs: 15 * 60_000,
};
/** Management API requests per admin (token or user) per minute (docs/security.md RL1). */
export const ADMIN_RATE: RatePolicy = { limit: 3000, windowMs: 60_000 };

/**
 * Admin authentication with the shared-store limits of docs/security.md RL1: presented-but-wrong credentials are
 * counted, and past the free attempts refused with 429 for a while; each admin has a generous request
 * budget. A wrong secret for an existing token counts against that token; a credential that names no
 * known token counts against the caller's address. A valid credential is never refused for failures:
 * the check comes after authentication, so a shared address (NAT) full of wrong guesses, or someone
 * guessing at a token's secret, cannot lock an admin out. A refusal while blocked writes nothing.
 */
async function authenticateAdmin(rc: RequestContext): Promise<Principal> {
  const { throttle, adminAuth } = rc.services;
  let principal: Principal;
  try {
    principal = await adminAuth.authenticate(rc.request, rc.clientAddress);
  } catch (err) {
    // Only presented-but-wrong credentials count (docs/security.md RL2): a call with none at all is no guess, and
    // counting it would let anonymous traffic from a shared address lock its admins out.
    if (err instanceof BrokerError && err.status === 401) {
      const [kind, value] =
        err instanceof InvalidAdminTokenError && err.knownTokenId
          ? ['admin-auth-token', err.knownTokenId]
          : ['admin-auth', addressBucket(rc.clientAddress)];
      // Refused either way; while its counter is blocked, with 429 and without a write.
      const state = await throttle.state(kind, value);
      if (state.blocked) throw new TooManyRequestsError(state.retryAfterSeconds);
      if (err.code !== 'missing_credentials') {
        const after = await throttle.recordFailure(kind, value, ADMIN_AUTH_FAILURES);
        if (after.blocked) throw new TooManyRequestsError(after.retryAfterSeconds);
      }
    }
    throw err;
  }
  const key = principal.kind === 'token' ? `token:${principal.id}` : `user:${principal.username}`;
  const budget = await throttle.hit('admin-rate', key, ADMIN_RATE);
  if (budget.blocked) throw new TooManyRequestsError(budget.retryAfterSeconds);
  return principal;
}

export function clientAddressOf(request: HttpRequest): string {
  // The platform's front end appends the address it saw; earlier entries come from the client and
  // can be forged, so only the last one is trusted.
  const forwarded = request.headers.get('x-forwarded-for');
  const last = forwarded?.split(',').at(-1)?.trim();
  if (!last) return 'unknown';
  // Azure's front ends may append the client port ("203.0.113.9:51234", "[2001:db8::1]:443").
  const bracketed = /^\[([0-9a-fA-F:.]+)\](?::\d+)?$/.exec(last);
  const address = bracketed?.[1] ?? last;
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (mapped?.[1]) return mapped[1];
  if (bracketed?.[1]) return bracketed[1];
  const v4WithPort = /^(\d{1,3}(?:\.\d{1,3}){3})(?::\d+)?$/.exec(last);
  if (v4WithPort?.[1]) return v4WithPort[1];
  if (/^[0-9a-fA-F:]+$/.test(last) && last.length <= 45) return last;
  return 'unknown';
}

/**
 * The section J defaults overlaid with the handler's own headers. Names compare case-insensitively:
 * a handler's `content-security-policy` (bridged responses use lower case) replaces the default
 * instead of going out as a second header, which browsers would enforce as well.
 */
export function mergeHeaders(
  base: Record<string, string>,
  own: Record<string, string> | undefined,
): Record<string, string> {
  const ownNames = new Set(Object.keys(own ?? {}).map((k) => k.toLowerCase()));
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) if (!ownNames.has(k.toLowerCase())) out[k] = v;
  return { ...out, ...own };
}

function problemResponse(status: number, body: unknown, headers: Record<string, string>): HttpResponseInit {
  return {
    status,
    jsonBody: body,
    headers: { ...headers, 'Content-Type': 'application/problem+json' },
  };
}

/**
 * A leg's outcome on its span: the status, and for a failure (an error page or a 4xx/5xx answer) a
 * stable reason code as the span's failure: the problem's code, or the status where the handler
 * answered the failure itself (one page for every wrong password).
 */
function recordOutcome(tracing: Tracing, status: number, problemCode: string | undefined): void {
  const ok = status < 400;
  tracing.annotate({ 'http.response.status_code': status, 'broker.outcome': ok ? 'success' : 'failure' });
  if (!ok) {
    const reason = problemCode ?? `status_${status}`;
    tracing.annotate({ 'broker.reason': reason });
    tracing.fail(reason);
  }
}

/**
 * Wraps a handler with what every endpoint needs: a correlation id, admin authentication for the
 * management API (deny by default: a route under `manage/` cannot opt out), one catch-all that turns
 * any error into problem+json (or the page's error renderer), and the security headers.
 */
/** What every endpoint is given: the instance's services and its tracing (runtime.ts passes them). */
export interface EndpointHost {
  services(): Services;
  tracing(): Tracing;
}

/** The `endpoint()` of a host: every route of the app is built with the host's services passed in. */
export function endpointsFor(host: EndpointHost) {
  return (opts: EndpointOptions) => endpointOf(host, opts);
}

function endpointOf(host: EndpointHost, opts: EndpointOptions): HttpFunctionOptions & { route: string } {
  const isManage = opts.route.startsWith(MANAGE_PREFIX);
  const handler = (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
    const tracing = host.tracing();
    const leg = typeof opts.leg?.name === 'function' ? opts.leg.name(request) : opts.leg?.name;
    // The correlation id is the operation id: the trace the host started for this invocation (or the
    // leg's own trace), so a user's "Reference" finds the request, its dependencies and its lines.
    const invoke = () => {
      const correlationId =
        tracing.traceId() ?? traceIdOfTraceparent(context.traceContext?.traceParent) ?? randomUUID();
      return withLogFields({ operationId: correlationId }, () =>
        invocation(request, context, tracing, correlationId, leg !== undefined),
      );
    };
    return leg ? tracing.inSpan(leg, { 'broker.leg': leg, ...opts.leg?.attributes }, invoke) : invoke();
  };
  const invocation = async (
    request: HttpRequest,
    context: InvocationContext,
    tracing: Tracing,
    correlationId: string,
    isLeg: boolean,
  ): Promise<HttpResponseInit> => {
    let rc: RequestContext | undefined;
    let failure: string | undefined;
    let response: HttpResponseInit;
    try {
      const services = host.services();
      rc = {
        request,
        context,
        services,
        correlationId,
        log: services.log.child({ correlationId, route: opts.route }),
        clientAddress: clientAddressOf(request),
        tracing,
      };
      if (isManage) rc.principal = await authenticateAdmin(rc);
      response = await opts.handler(rc);
      const p = rc.principal;
      // A re-issued session token goes back only if the handler left the session alive (it may have
      // just revoked it, e.g. "sign me out everywhere" or a change of the caller's own roles).
      if (
        p?.kind === 'session' &&
        p.refreshedCookie &&
        (await services.sessions.get(p.username, p.sessionId))
      ) {
        response.cookies = [...(response.cookies ?? []), toCookie(p.refreshedCookie)];
      }
    } catch (err) {
      const { status, problem, headers: errorHeaders } = toProblem(err, correlationId);
      failure = problem.code;
      const headers = { ...errorHeaders };
      if (status >= 500) {
        (rc?.log ?? rootLogger).error('request.failed', {
          status,
          problemCode: problem.code,
          error: err,
          correlationId,
          // Which dependency failed, how and where (status, code, operation, table) — never data.
          ...(err instanceof DependencyError ? { dependencyFailure: err.failure } : {}),
        });
      }
      // Every 503 tells the client when to come back.
      if (status === 503 && !headers['Retry-After']) {
        headers['Retry-After'] = String(DEPENDENCY_RETRY_AFTER_SECONDS);
      }
      response =
        opts.renderError && rc
          ? opts.renderError(status, correlationId, err, rc)
          : problemResponse(status, problem, headers);
      response.headers = { ...headers, ...(response.headers as Record<string, string>) };
    }
    const base = securityHeaders(opts.cacheable ? { cacheable: true } : {});
    response.headers = mergeHeaders(base, response.headers as Record<string, string> | undefined);
    if (isLeg) recordOutcome(tracing, response.status ?? 200, failure);
    return response;
  };
  return { methods: opts.methods, authLevel: 'anonymous', route: opts.route, handler };
}
