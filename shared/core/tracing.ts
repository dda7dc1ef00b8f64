/**
 * The tracing port: what the broker tells a trace about its own work, without knowing which tracing
 * system (if any) records it. The web layer opens a span per sign-in leg and names its outcome; the
 * composition root annotates it from the ports the domain services already call. Attributes carry
 * ids, methods and stable reason codes only: never a username, address, code or token.
 */

export type SpanAttributes = Record<string, string | number | boolean | undefined>;

export interface Tracing {
  /** Runs `fn` inside a new span, child of the active one; the span ends when `fn` settles. */
  inSpan<T>(name: string, attributes: SpanAttributes, fn: () => Promise<T>): Promise<T>;
  /** Adds attributes to the active span (none active: nothing happens). */
  annotate(attributes: SpanAttributes): void;
  /** Marks the active span as failed with a stable reason code (shown as the failure's message). */
  fail(reason: string): void;
  /** The active trace's id (32 lower-case hex digits), if a trace is being recorded. */
  traceId(): string | undefined;
}

/** Telemetry off: every call is free and records nothing. */
export const noTracing: Tracing = {
  inSpan: (_name, _attributes, fn) => fn(),
  annotate: () => {},
  fail: () => {},
  traceId: () => undefined,
};

const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/;

/**
 * The trace id of a W3C `traceparent` value (what the Functions host hands every invocation), or
 * undefined when it is missing or invalid (the all-zero id is invalid).
 */
export function traceIdOfTraceparent(traceparent: string | undefined | null): string | undefined {
  const id = TRACEPARENT.exec(traceparent?.trim().toLowerCase() ?? '')?.[1];
  return id && !/^0+$/.test(id) ? id : undefined;
}
