/**
 * Test helpers: services wired to the suite's Azurite and stand-ins (real SDK clients), isolated by
 * a table prefix per test app, and the real app served by the local host on a free port.
 */
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import {
  type LocalHost,
  loadApp,
  type RegisteredRoute,
  startLocalHost,
} from '../../scripts/host/local-host.ts';
import { freePort } from '../../scripts/standins/azurite.ts';
import { type Clock, systemClock } from '../../shared/core/clock.ts';
import { type Config, loadConfig } from '../../shared/core/config.ts';
import { createLogger, type LogRecord, setLogSink } from '../../shared/core/log.ts';
import { createAzureCredential, createSecretClient } from '../../shared/secrets/client.ts';
import { createTables, ensureTables } from '../../shared/storage/tables.ts';
import { runWithServices } from '../../shared/web/runtime.ts';
import { createServices, type ServiceOverrides, type Services } from '../../shared/web/services.ts';

export function stack() {
  return inject('stack');
}

export function testEnv(overrides: Record<string, string> = {}): Record<string, string> {
  const s = stack();
  return {
    BROKER_PUBLIC_BASE_URL: 'http://localhost:7071',
    BROKER_TABLE_ENDPOINT: s.tableEndpoint,
    BROKER_KEY_VAULT_URI: s.keyVaultUrl,
    BROKER_DEV_CREDENTIALS: 'true',
    BROKER_ENTRA_PUBLIC_AUTHORITY_HOST: s.entraHost,
    // The suite's Azurite serves many test files and 200-request bursts at once on a small machine:
    // attempts may queue for seconds. The fault tests set the production default back.
    BROKER_DEPENDENCY_TIMEOUT_MS: '15000',
    ...overrides,
  };
}

export function testConfig(overrides: Record<string, string> = {}): Config {
  return loadConfig(testEnv(overrides));
}

export function uniquePrefix(): string {
  return `t${randomBytes(5).toString('hex')}`;
}

export interface TestServicesOptions extends ServiceOverrides {
  env?: Record<string, string>;
  clock?: Clock;
  prefix?: string;
}

/** Services on fresh tables (unique prefix) against the suite's Azurite and Key Vault stand-in. */
export async function testServices(opts: TestServicesOptions = {}): Promise<Services> {
  const config = testConfig(opts.env);
  const credential = createAzureCredential(config);
  const tables = opts.tables ?? createTables(config, credential, { prefix: opts.prefix ?? uniquePrefix() });
  await ensureTables(tables);
  return createServices(config, {
    ...opts,
    clock: opts.clock ?? systemClock,
    credential,
    tables,
    secrets: opts.secrets ?? createSecretClient(config, credential),
  });
}

let routesPromise: Promise<RegisteredRoute[]> | undefined;
/** The app's registered routes (functions/index.ts loaded once per test file). */
export function appRoutes(): Promise<RegisteredRoute[]> {
  routesPromise ??= loadApp();
  return routesPromise;
}

export interface TestApp {
  url: string;
  services: Services;
  /** A valid admin API token. */
  token: string;
  host: LocalHost;
  close(): Promise<void>;
  /** fetch against the app with the admin token. */
  admin(path: string, init?: RequestInit & { json?: unknown }): Promise<Response>;
}

/** The real app on the local host (free port), with its own services and an admin token. */
export async function startTestApp(opts: TestServicesOptions = {}): Promise<TestApp> {
  // The app's public base URL is the host's own, so redirect URIs and Origin checks line up.
  const port = await freePort();
  const services = await testServices({
    ...opts,
    env: { BROKER_PUBLIC_BASE_URL: `http://localhost:${port}`, ...opts.env },
  });
  const routes = await appRoutes();
  const host = await startLocalHost({ routes, port, around: (invoke) => runWithServices(services, invoke) });
  const created = await services.adminTokens.create({ name: 'test-admin' }, 'test');
  const admin = (path: string, init: RequestInit & { json?: unknown } = {}) => {
    const { json, ...rest } = init;
    const headers = new Headers(rest.headers);
    if (!headers.has('authorization')) headers.set('authorization', `Bearer ${created.token}`);
    if (json !== undefined) headers.set('content-type', 'application/json');
    return fetch(`${host.url}${path}`, {
      ...rest,
      headers,
      ...(json !== undefined ? { body: JSON.stringify(json) } : {}),
    });
  };
  return {
    url: host.url,
    services,
    token: created.token,
    host,
    admin,
    close: async () => {
      await host.close();
      await services.shutdown();
    },
  };
}

/** Captures every log line written through shared/log.ts until `stop()`. */
export function captureLogs(): { lines: string[]; records: LogRecord[]; stop(): void } {
  const lines: string[] = [];
  const records: LogRecord[] = [];
  const stop = setLogSink((line, record) => {
    lines.push(line);
    records.push(record);
  });
  return { lines, records, stop };
}

export const quietLogger = () => createLogger({ app: 'test' });
