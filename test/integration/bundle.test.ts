/**
 * The deployable bundle (npm run build) registers every function the sources register, as the
 * Functions host sees it: through `@azure/functions-core.registerFunction`.
 */
import { execFile, execFileSync } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import type * as esbuild from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';
import { APP_FILE, build, bundlePath, FUNCTIONS_CORE_SHIM } from '../../scripts/build.ts';
import { repoRoot } from '../../scripts/standins/ca.ts';
import { createAzureCredential } from '../../shared/secrets/client.ts';
import { createTables, ensureTables } from '../../shared/storage/tables.ts';
import { appRoutes, testConfig, testEnv } from '../helpers/stack.ts';

describe('esbuild bundle', () => {
  let mainMetafile: esbuild.Metafile;
  beforeAll(async () => {
    ({ mainMetafile } = await build({ quiet: true }));
  }, 120_000);

  it('is what package.json main names', async () => {
    const pkg = (await import('../../package.json', { with: { type: 'json' } })).default;
    expect(path.resolve(repoRoot, pkg.main)).toBe(bundlePath);
  });

  it('registers every function with the host, with the same routes and methods', async () => {
    const loader = `
      const Module = require('node:module');
      const original = Module._resolveFilename;
      Module._resolveFilename = function (request, ...rest) {
        if (request === '@azure/functions-core') return ${JSON.stringify(path.join(repoRoot, 'scripts/host/functions-core.cjs'))};
        return original.call(this, request, ...rest);
      };
      require(${JSON.stringify(bundlePath)});
      const out = globalThis.__brokerFunctionRegistrations.map(({ metadata }) => {
        const t = Object.values(metadata.bindings).find((b) => /Trigger$/.test(b.type));
        return t.type === 'httpTrigger'
          ? { name: metadata.name, route: t.route, methods: t.methods, authLevel: t.authLevel }
          : { name: metadata.name, type: t.type, schedule: t.schedule };
      });
      process.stdout.write(JSON.stringify(out));
    `;
    // Run from outside the repo so nothing but the bundle can be resolved.
    const out = execFileSync(process.execPath, ['-e', loader], {
      cwd: '/',
      env: { PATH: process.env.PATH ?? '' },
    });
    const all = JSON.parse(String(out)) as {
      name: string;
      route?: string;
      type?: string;
      schedule?: string;
    }[];
    expect(all.filter((r) => r.type)).toEqual([
      { name: 'maintenance-purge', type: 'timerTrigger', schedule: '0 */30 * * * *' },
    ]);
    const registered = all.filter((r) => !r.type);
    const expected = (await appRoutes()).map((r) => ({
      name: r.name,
      route: r.route,
      methods: r.methods,
      authLevel: r.authLevel,
    }));
    expect(registered.length).toBeGreaterThan(0);
    expect(registered.sort((a, b) => a.name.localeCompare(b.name))).toEqual(
      expected.sort((a, b) => a.name.localeCompare(b.name)),
    );
  });

  it('holds only @azure/functions and the registrations: the app is in a file of its own', () => {
    const inputs = Object.keys(mainMetafile.inputs);
    expect(
      inputs.filter(
        (f) => !/node_modules\/(@azure\/functions|@azure\/functions-extensions-base|cookie)\//.test(f),
      ),
    ).toEqual(['main-entry.js']);
    expect(Object.keys(mainMetafile.outputs).filter((f) => f.endsWith('.cjs'))).toEqual(['dist/main.cjs']);
  });

  it('loads the app on the first invocation, not at start-up, and answers through it', async () => {
    // The instance's tables (production names), as deployment creates them.
    await ensureTables(createTables(testConfig(), createAzureCredential(testConfig())));
    const functions = path.join(repoRoot, 'node_modules', '@azure', 'functions');
    const script = `${FUNCTIONS_CORE_SHIM}
      const { HttpRequest, InvocationContext } = require(${JSON.stringify(functions)});
      const appLoaded = () => Object.keys(require.cache).some((f) => f.endsWith(${JSON.stringify(`/${APP_FILE}`)}));
      require(${JSON.stringify(bundlePath)});
      const atStart = appLoaded();
      const reg = globalThis.__brokerFunctionRegistrations.find((r) => r.metadata.name === 'health');
      const request = new HttpRequest({ method: 'GET', url: 'http://localhost:7071/api/health', headers: {}, query: {}, params: {} });
      const context = new InvocationContext({ invocationId: 'first', functionName: 'health', logHandler: () => {} });
      reg.callback(request, context).then(async (res) => {
        const body = JSON.parse(typeof res.body === 'string' ? res.body : JSON.stringify(res.jsonBody));
        // The host's appTerminate hook, as it calls it before stopping the worker.
        const terminate = globalThis.__brokerFunctionHooks.filter((h) => h.hookName === 'appTerminate');
        for (const h of terminate) await h.callback({});
        process.stdout.write('\\n@@' + JSON.stringify({ atStart, afterFirst: appLoaded(), status: res.status, body, terminateHooks: terminate.length }));
      });`;
    const { stdout } = await promisify(execFile)(process.execPath, ['-e', script], {
      cwd: '/',
      env: {
        PATH: process.env.PATH ?? '',
        NODE_EXTRA_CA_CERTS: process.env.NODE_EXTRA_CA_CERTS ?? '',
        ...testEnv(),
      },
    });
    const out = JSON.parse(String(stdout).split('@@').at(-1) ?? '');
    expect(out).toMatchObject({
      atStart: false,
      afterFirst: true,
      status: 200,
      body: { status: 'ok' },
      terminateHooks: 1,
    });
  }, 60_000);
});
