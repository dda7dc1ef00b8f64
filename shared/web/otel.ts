/**
 * The OpenTelemetry side of the broker's telemetry, built into a file of its own (telemetry.cjs,
 * scripts/build.ts) that main.cjs loads before registering the functions, and only when
 * APPLICATIONINSIGHTS_CONNECTION_STRING is set: what the Azure Functions Node.js docs recommend for the
 * v4 model with `"telemetryMode": "OpenTelemetry"` in host.json (the Azure Monitor OpenTelemetry
 * distro plus the Azure Functions instrumentation, registered before anything else loads).
 */

import type { Instrumenter } from '@azure/core-tracing';
import type * as AzureFunctions from '@azure/functions';
import { AzureFunctionsInstrumentation } from '@azure/functions-opentelemetry-instrumentation';
import { ManagedIdentityCredential, type TokenCredential } from '@azure/identity';
import { useAzureMonitor } from '@azure/monitor-opentelemetry';
import { AzureSdkInstrumentation } from '@azure/opentelemetry-instrumentation-azure-sdk';
import { type Attributes, isSpanContextValid, SpanStatusCode, type Tracer, trace } from '@opentelemetry/api';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { SpanAttributes, Tracing } from '../core/tracing.ts';
import type { Telemetry } from './telemetry.ts';

const TRACER = 'identity-broker';

function defined(attributes: SpanAttributes): Attributes {
  const out: Attributes = {};
  for (const [k, v] of Object.entries(attributes)) if (v !== undefined) out[k] = v;
  return out;
}

/** URL attributes of dependency spans (Azure SDK and HTTP instrumentation, old and new conventions). */
const URL_ATTRIBUTES = ['http.url', 'url.full', 'http.target', 'url.path', 'url.query'];

/**
 * A Table Storage URL names the row it reads: `Users(PartitionKey='u8',RowKey='<username>')`, and a
 * query's `$filter` holds key values too. Dependency spans keep the host, table and operation; the
 * keys and the query become `(…)` and `?…`, so no username, address hash or Entra object id leaves.
 */
export function redactUrl(url: string): string {
  return url.replace(/\?.*$/s, '?…').replace(/\([^)]*\)/g, '(…)');
}

function redact(attributes: Record<string, unknown>, set: (key: string, value: string) => void): void {
  for (const key of URL_ATTRIBUTES) {
    const value = attributes[key];
    if (typeof value === 'string') set(key, redactUrl(value));
  }
}

/** Redacts row keys and queries from every span's URL attributes before any exporter sees them. */
export const redactingSpanProcessor: SpanProcessor = {
  onStart: (span: Span) => redact(span.attributes, (k, v) => span.setAttribute(k, v)),
  onEnd: (span: ReadableSpan) =>
    // Attributes set after the start (a response's URL) are redacted in place: the span is final.
    redact(span.attributes, (k, v) => {
      (span.attributes as Record<string, unknown>)[k] = v;
    }),
  forceFlush: async () => {},
  shutdown: async () => {},
};

/** The tracing port on OpenTelemetry's API (the globally registered tracer provider). */
export function otelTracing(tracer: Tracer = trace.getTracer(TRACER)): Tracing {
  return {
    inSpan: (name, attributes, fn) =>
      tracer.startActiveSpan(name, { attributes: defined(attributes) }, async (span) => {
        try {
          return await fn();
        } catch (err) {
          // No exception event: an error's message can carry request data.
          span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.name : 'error' });
          throw err;
        } finally {
          span.end();
        }
      }),
    annotate: (attributes) => {
      trace.getActiveSpan()?.setAttributes(defined(attributes));
    },
    fail: (reason) => {
      trace.getActiveSpan()?.setStatus({ code: SpanStatusCode.ERROR, message: reason });
    },
    traceId: () => {
      const ctx = trace.getActiveSpan()?.spanContext();
      return ctx && isSpanContextValid(ctx) ? ctx.traceId : undefined;
    },
  };
}

/**
 * The instrumenter the distro's Azure SDK instrumentation gives @azure/core-tracing, taken from that
 * instrumentation itself (not enabled: it only hands the instrumenter to the module it patches).
 */
function azureSdkInstrumenter(): Instrumenter {
  let instrumenter: Instrumenter | undefined;
  const capture = {
    useInstrumenter: (i: Instrumenter) => {
      instrumenter = i;
    },
  };
  for (const definition of new AzureSdkInstrumentation({ enabled: false }).getModuleDefinitions())
    definition.patch?.(capture);
  if (!instrumenter) throw new Error('the Azure SDK instrumentation gave no instrumenter');
  return instrumenter;
}

/** What the app needs once a tracer provider is registered: the port and the Azure SDKs' instrumenter. */
export function otelTelemetry(): Telemetry {
  return { tracing: otelTracing(), azureSdkInstrumenter: azureSdkInstrumenter() };
}

/**
 * Application Insights has local authentication off: the exporter signs in with the app's managed
 * identity, named by APPLICATIONINSIGHTS_AUTHENTICATION_STRING (`ClientId=…;Authorization=AAD`) as
 * the Functions host reads it.
 */
export function exporterCredential(env: NodeJS.ProcessEnv): TokenCredential | undefined {
  const parts = new Map(
    (env.APPLICATIONINSIGHTS_AUTHENTICATION_STRING ?? '')
      .split(';')
      .map((pair) => pair.split('=').map((s) => s.trim()))
      .filter((kv): kv is [string, string] => kv.length === 2)
      .map(([k, v]) => [k.toLowerCase(), v]),
  );
  if (parts.get('authorization')?.toUpperCase() !== 'AAD') return undefined;
  const clientId = parts.get('clientid') ?? env.AZURE_CLIENT_ID;
  return clientId ? new ManagedIdentityCredential({ clientId }) : new ManagedIdentityCredential();
}

/**
 * `fetch` (Node's undici): the Entra tenant discovery and ID-token key requests (jose) use it, and the
 * distro's HTTP instrumentation sees only the `http`/`https` modules (MSAL's token requests). It hooks
 * Node's diagnostics channels, not `require`, so it works from inside a bundle.
 */
export function fetchInstrumentation(): UndiciInstrumentation {
  return new UndiciInstrumentation();
}

/**
 * Starts the distro and instruments the given `@azure/functions` (main.cjs's own copy: a require
 * hook cannot reach a package inside a bundle, so it is patched here directly). Call before any
 * function is registered: it tells the host that this worker exports its own telemetry.
 */
export function startTelemetry(azureFunctions: typeof AzureFunctions, env = process.env): Telemetry {
  // An Azure SDK call is one dependency: the HTTP request under it would only repeat it.
  env.AZURE_HTTP_TRACING_CHILDREN_DISABLED ??= 'true';
  const credential = exporterCredential(env);
  useAzureMonitor({
    azureMonitorExporterOptions: {
      connectionString: env.APPLICATIONINSIGHTS_CONNECTION_STRING,
      ...(credential ? { credential } : {}),
    },
    spanProcessors: [redactingSpanProcessor],
    // Table Storage, Key Vault (their SDKs) and Entra (MSAL's HTTPS calls; `fetch` below).
    instrumentationOptions: {
      azureSdk: { enabled: true },
      http: { enabled: true },
      mongoDb: { enabled: false },
      mySql: { enabled: false },
      postgreSql: { enabled: false },
      redis: { enabled: false },
      redis4: { enabled: false },
    },
  });
  fetchInstrumentation();
  const functions = new AzureFunctionsInstrumentation();
  for (const definition of functions.getModuleDefinitions()) definition.patch?.(azureFunctions);
  return otelTelemetry();
}
