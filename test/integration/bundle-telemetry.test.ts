/**
 * The built main.cjs starts OpenTelemetry (telemetry.cjs) only where Application Insights is
 * configured: without APPLICATIONINSIGHTS_CONNECTION_STRING nothing is loaded or registered; with it,
 * the distro's tracer provider is registered before the functions are, the host is told the worker
 * exports its own telemetry, and the app gets its tracing on its first load.
 */
import { execFile } from 'node:child_process';
import { statSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { build, bundlePath, FUNCTIONS_CORE_SHIM, TELEMETRY_FILE } from '../../scripts/build.ts';

const run = promisify(execFile);

/** Loads main.cjs as the host would, then the app (as its first invocation would), and reports. */
const probe = `${FUNCTIONS_CORE_SHIM}
  require(${JSON.stringify(bundlePath)});
  const loaded = (f) => Object.keys(require.cache).some((k) => k.endsWith('/' + f));
  const api = () => globalThis[Symbol.for('opentelemetry.js.api.1')];
  const atStart = { telemetry: loaded(${JSON.stringify(TELEMETRY_FILE)}), otel: !!api(), trace: !!api()?.trace };
  const reg = globalThis.__brokerFunctionRegistrations.find((r) => r.metadata.name === 'health');
  setTimeout(() => {
    const app = loaded('app.cjs');
    // The distro's HTTP instrumentation wraps https.request (MSAL's calls to Entra) from the bundle too.
    const https = !!require('node:https').request.__wrapped;
    process.stdout.write('@@' + JSON.stringify({ atStart, app, registered: !!reg, https }));
    process.exit(0);
  }, 300);`;

async function runProbe(env: Record<string, string>) {
  const { stdout, stderr } = await run(process.execPath, ['-e', probe], {
    cwd: '/',
    env: { PATH: process.env.PATH ?? '', ...env },
    timeout: 30_000,
  });
  return { ...JSON.parse(String(stdout).split('@@').at(-1) ?? ''), stderr: String(stderr) };
}

describe('telemetry in the bundle', () => {
  beforeAll(async () => {
    await build({ quiet: true });
  }, 120_000);

  it('is off without a connection string: telemetry.cjs is not loaded, nothing is registered', async () => {
    expect(await runProbe({})).toEqual({
      atStart: { telemetry: false, otel: false, trace: false },
      app: true,
      registered: true,
      https: false,
      stderr: '',
    });
  });

  it('starts before the registrations with a connection string', async () => {
    const out = await runProbe({
      // A closed local port: nothing is sent anywhere.
      APPLICATIONINSIGHTS_CONNECTION_STRING:
        'InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=http://127.0.0.1:9/',
    });
    expect(out).toMatchObject({
      atStart: { telemetry: true, otel: true, trace: true },
      app: true,
      registered: true,
      https: true,
    });
    // The distro starts cleanly from inside the bundle (no failed start, no config file error).
    expect(out.stderr).not.toMatch(/start_failed|Failed to load|Error/);
    const size = statSync(path.join(path.dirname(bundlePath), TELEMETRY_FILE)).size;
    console.log(`${TELEMETRY_FILE}: ${(size / 1024).toFixed(0)} KiB`);
  }, 60_000);
});
