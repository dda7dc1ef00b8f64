/**
 * The broker's telemetry with OpenTelemetry on (an in-memory exporter in place of Application
 * Insights): each sign-in leg is a span with its integration, method and outcome, the Table Storage
 * calls under it are dependency spans of the same trace, and that trace's id is the correlation id of
 * the request's log lines and problem answers. With telemetry off nothing is recorded.
 *
 * The local host stands in for the Functions host with `telemetryMode: OpenTelemetry`: each
 * invocation runs in the host's (remote) trace context, as the Azure Functions instrumentation binds it.
 */
import { randomBytes } from 'node:crypto';
import { type Context, context, ROOT_CONTEXT, TraceFlags, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startLocalHost } from '../../scripts/host/local-host.ts';
import { freePort } from '../../scripts/standins/azurite.ts';
import { fetchInstrumentation, otelTelemetry, redactingSpanProcessor } from '../../shared/web/otel.ts';
import { runWithServices } from '../../shared/web/runtime.ts';
import { instanceTracing, stopTelemetry, useTelemetry } from '../../shared/web/telemetry.ts';
import { BrokerBrowser, createDemoIntegration, createUser, demoAccount } from '../helpers/signin.ts';
import { appRoutes, captureLogs, stack, type TestApp, testServices } from '../helpers/stack.ts';

const exporter = new InMemorySpanExporter();
// The distro's processors, in its order: ours (redaction), then the exporter's.
const provider = new BasicTracerProvider({
  spanProcessors: [redactingSpanProcessor, new SimpleSpanProcessor(exporter)],
});
const contextManager = new AsyncLocalStorageContextManager();

/** The host's trace of each invocation, in order (undefined: the host sent none). */
const hostTraces: ({ traceId: string; spanId: string } | undefined)[] = [];
let hostSendsTraces = true;

function hostContext(): Context {
  if (!hostSendsTraces) {
    hostTraces.push(undefined);
    return ROOT_CONTEXT;
  }
  const parent = { traceId: randomBytes(16).toString('hex'), spanId: randomBytes(8).toString('hex') };
  hostTraces.push(parent);
  return trace.setSpanContext(ROOT_CONTEXT, { ...parent, traceFlags: TraceFlags.SAMPLED, isRemote: true });
}

let app: TestApp;
const fetches = fetchInstrumentation();
let integrationId: string;

beforeAll(async () => {
  context.setGlobalContextManager(contextManager.enable());
  trace.setGlobalTracerProvider(provider);
  useTelemetry(otelTelemetry());
  fetches.setTracerProvider(provider);
  const port = await freePort();
  const services = await testServices({ env: { BROKER_PUBLIC_BASE_URL: `http://localhost:${port}` } });
  const host = await startLocalHost({
    routes: await appRoutes(),
    port,
    around: (invoke) => context.with(hostContext(), () => runWithServices(services, invoke)),
  });
  const created = await services.adminTokens.create({ name: 'telemetry-test' }, 'test');
  app = {
    url: host.url,
    services,
    token: created.token,
    host,
    close: () => host.close(),
    admin: (path, init = {}) => {
      const { json, ...rest } = init;
      const headers = new Headers(rest.headers);
      headers.set('authorization', `Bearer ${created.token}`);
      if (json !== undefined) headers.set('content-type', 'application/json');
      return fetch(`${host.url}${path}`, {
        ...rest,
        headers,
        ...(json !== undefined ? { body: JSON.stringify(json) } : {}),
      });
    },
  };
  integrationId = (await createDemoIntegration(app)).id;
  await createUser(app, {
    username: 'otel-pw',
    verifyType: 'password',
    password: 'a long telemetry passphrase',
  });
  await createUser(app, {
    username: 'oteluser',
    email: demoAccount('oteluser'),
    verifyType: { integrationId },
  });
}, 60_000);

afterAll(async () => {
  stopTelemetry();
  fetches.disable();
  await app?.close();
  trace.disable();
  context.disable();
});

beforeEach(() => {
  exporter.reset();
  hostTraces.length = 0;
  hostSendsTraces = true;
});

const spansOf = (traceId: string) =>
  exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;
/** Spans made by the Azure Tables SDK (its operation spans and the HTTP request span under each). */
const tableSpans = (spans: ReadableSpan[]) =>
  spans.filter((s) => s.instrumentationScope.name.startsWith('@azure/data-tables'));

function underSpan(spans: ReadableSpan[], ancestor: ReadableSpan, span: ReadableSpan): boolean {
  const byId = new Map(spans.map((s) => [s.spanContext().spanId, s]));
  for (let p = parentOf(span); p; p = byId.get(p) ? parentOf(byId.get(p) as ReadableSpan) : undefined)
    if (p === ancestor.spanContext().spanId) return true;
  return false;
}

describe('telemetry on', () => {
  it('a password sign-in is one span under the host trace, with its Table dependencies, and its id is the correlation id', async () => {
    const logs = captureLogs();
    const b = new BrokerBrowser(app);
    const res = await b.post('/api/auth/password', {
      username: 'otel-pw',
      password: 'a long telemetry passphrase',
    });
    logs.stop();
    expect(res.status).toBe(303);
    const host = hostTraces.at(-1);
    expect(host).toBeDefined();
    const traceId = host?.traceId ?? '';
    const spans = spansOf(traceId);
    const leg = spans.find((s) => s.name === 'signin.password');
    expect(leg).toBeDefined();
    expect(parentOf(leg as ReadableSpan)).toBe(host?.spanId);
    expect(leg?.attributes).toMatchObject({
      'broker.leg': 'signin.password',
      'broker.signin.method': 'password',
      'broker.outcome': 'success',
      'http.response.status_code': 303,
    });
    // Table Storage: reads and writes of this sign-in, each a dependency under the leg.
    const tables = tableSpans(spans);
    expect(tables.length).toBeGreaterThan(1);
    for (const s of tables) expect(underSpan(spans, leg as ReadableSpan, s), s.name).toBe(true);
    // No span of this sign-in carries the username (a row key in Table URLs) or the password.
    const attributeText = JSON.stringify(spans.map((s) => [s.name, s.attributes]));
    expect(attributeText).not.toContain('otel-pw');
    expect(attributeText).not.toContain('passphrase');
    expect(attributeText).toContain('Users(…)');
    // The audit line and every line of the request carry the trace id as correlation and operation id.
    const audit = logs.records.find(
      (r) => r.event === 'audit' && (r.audit as { type?: string }).type === 'signin.succeeded',
    );
    expect((audit?.audit as { correlationId?: string } | undefined)?.correlationId).toBe(traceId);
    expect(audit?.operationId).toBe(traceId);
  });

  it('an Entra sign-in: start and callback are legs with the integration, with their Table calls and the Entra key fetch', async () => {
    const b = new BrokerBrowser(app);
    const { callback } = await b.signInWithEntra('oteluser', 'oteluser');
    expect(callback.status).toBe(302);
    const legs = exporter.getFinishedSpans().filter((s) => s.name.startsWith('signin.'));
    const start = legs.find((s) => s.name === 'signin.start');
    const done = legs.find((s) => s.name === 'signin.callback');
    expect(start?.attributes).toMatchObject({
      'broker.integration.id': integrationId,
      'broker.signin.method': 'entra',
      'broker.outcome': 'success',
    });
    expect(done?.attributes).toMatchObject({
      'broker.integration.id': integrationId,
      'broker.signin.method': 'entra',
      'broker.outcome': 'success',
      'http.response.status_code': 302,
    });
    for (const leg of [start, done] as ReadableSpan[]) {
      const spans = spansOf(leg.spanContext().traceId);
      expect(hostTraces.map((t) => t?.traceId)).toContain(leg.spanContext().traceId);
      expect(tableSpans(spans).length).toBeGreaterThan(0);
    }
    // Entra: the callback fetched the tenant's signing keys (jose's fetch), a dependency of its trace.
    const entraHost = new URL(stack().entraHost).host;
    const entraCalls = spansOf(done?.spanContext().traceId ?? '').filter((s) =>
      String(s.attributes['url.full'] ?? '').includes(entraHost),
    );
    expect(entraCalls.length).toBeGreaterThan(0);
    for (const s of entraCalls)
      expect(underSpan(spansOf(s.spanContext().traceId), done as ReadableSpan, s)).toBe(true);
    // Two requests, two traces: the callback is not a child of the start.
    expect(start?.spanContext().traceId).not.toBe(done?.spanContext().traceId);
  });

  it('a failed leg names its reason; the problem answer and the error page carry the trace id', async () => {
    const b = new BrokerBrowser(app);
    const wrong = await b.post('/api/auth/password', { username: 'otel-pw', password: 'not the passphrase' });
    expect(wrong.status).toBe(401);
    const leg = exporter.getFinishedSpans().find((s) => s.name === 'signin.password');
    expect(leg?.attributes).toMatchObject({ 'broker.outcome': 'failure', 'http.response.status_code': 401 });
    expect(leg?.status).toMatchObject({ code: 2, message: 'status_401' });

    const callback = await b.get('/api/auth/callback?error=access_denied&state=nothing');
    expect(callback.status).toBeGreaterThanOrEqual(400);
    const cbTrace = hostTraces.at(-1)?.traceId ?? '';
    expect(await callback.text()).toContain(cbTrace);
    const failed = spansOf(cbTrace).find((s) => s.name === 'signin.callback');
    expect(failed?.attributes['broker.outcome']).toBe('failure');
    expect(typeof failed?.attributes['broker.reason']).toBe('string');

    // Not a leg, still the host's trace: the problem's instance is the operation id.
    const session = await b.get('/api/auth/session');
    expect(session.status).toBe(401);
    const problem = await session.json();
    expect(problem.instance).toBe(`urn:broker:correlation:${hostTraces.at(-1)?.traceId}`);
  });

  it('without a host trace, the leg starts one and the correlation id is its id', async () => {
    hostSendsTraces = false;
    const logs = captureLogs();
    const b = new BrokerBrowser(app);
    const res = await b.post('/api/auth/password', {
      username: 'otel-pw',
      password: 'a long telemetry passphrase',
    });
    logs.stop();
    expect(res.status).toBe(303);
    const leg = exporter.getFinishedSpans().find((s) => s.name === 'signin.password');
    expect(leg?.parentSpanContext).toBeUndefined();
    const traceId = leg?.spanContext().traceId;
    const audit = logs.records.find((r) => r.event === 'audit');
    expect((audit?.audit as { correlationId?: string } | undefined)?.correlationId).toBe(traceId);
    expect(tableSpans(spansOf(traceId ?? '')).length).toBeGreaterThan(1);
  });
});

describe('telemetry off', () => {
  it('records nothing, and the correlation id is a random one', async () => {
    stopTelemetry();
    fetches.disable();
    try {
      hostSendsTraces = false;
      expect(instanceTracing().traceId()).toBeUndefined();
      const logs = captureLogs();
      const b = new BrokerBrowser(app);
      const res = await b.post('/api/auth/password', {
        username: 'otel-pw',
        password: 'a long telemetry passphrase',
      });
      logs.stop();
      expect(res.status).toBe(303);
      expect(exporter.getFinishedSpans()).toEqual([]);
      const audit = logs.records.find((r) => r.event === 'audit');
      expect((audit?.audit as { correlationId?: string } | undefined)?.correlationId).toMatch(
        /^[0-9a-f-]{36}$/,
      );
    } finally {
      useTelemetry(otelTelemetry());
      fetches.enable();
    }
  });
});
