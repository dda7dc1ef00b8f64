/**
 * Bundle figures for `npm run bench`: the broker bundle (scripts/build.ts `build()`, dist/main.cjs) and
 * the Auth.js comparison app bundled with the same esbuild options; `require` time of each in a fresh
 * Node process (median of 7), and the broker's cold start as the Functions worker would see it: load
 * the bundle, then serve the first request (GET /api/auth/login, the sign-in page: settings read,
 * services created) — median of 7 fresh processes.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as esbuild from 'esbuild';
import { build, bundlePath, LAZY_VENDOR_FILES } from '../build.ts';
import { repoRoot } from '../standins/ca.ts';

const RUNS = 7;
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] ?? Number.NaN;

const SHIM = `
  const Module = require('node:module');
  const original = Module._resolveFilename;
  Module._resolveFilename = function (request, ...rest) {
    if (request === '@azure/functions-core') return ${JSON.stringify(path.join(repoRoot, 'scripts/host/functions-core.cjs'))};
    return original.call(this, request, ...rest);
  };`;

function runNode(script: string, env: Record<string, string> = {}): string {
  // From outside the repo, so nothing but the bundle (and what the script names) can be resolved.
  return String(
    // BENCH_NODE: another Node binary to measure with (e.g. the deployed runtime's major version).
    execFileSync(process.env.BENCH_NODE || process.execPath, ['-e', script], {
      cwd: '/',
      env: { PATH: process.env.PATH ?? '', ...env },
    }),
  );
}

function requireMs(file: string, shim: boolean): number[] {
  const script = `${shim ? SHIM : ''}
    const t = process.hrtime.bigint();
    require(${JSON.stringify(file)});
    process.stdout.write(String(Number(process.hrtime.bigint() - t) / 1e6));`;
  return Array.from({ length: RUNS }, () => Number(runNode(script)));
}

/** Load the bundle, then call the GET /api/auth/login handler as the worker would; ms to the answer. */
function coldStartMs(env: Record<string, string>): { load: number; first: number; status: number }[] {
  const functions = path.join(repoRoot, 'node_modules', '@azure', 'functions');
  const script = `${SHIM}
    const { HttpRequest, InvocationContext } = require(${JSON.stringify(functions)});
    const t0 = process.hrtime.bigint();
    require(${JSON.stringify(bundlePath)});
    const t1 = process.hrtime.bigint();
    const reg = globalThis.__brokerFunctionRegistrations.find((r) => r.metadata.name === 'auth-login-page');
    const request = new HttpRequest({ method: 'GET', url: process.env.BROKER_PUBLIC_BASE_URL + '/api/auth/login',
      headers: { 'x-forwarded-for': '127.0.0.1' }, query: {}, params: {} });
    const context = new InvocationContext({ invocationId: 'cold', functionName: 'auth-login-page', logHandler: () => {} });
    Promise.resolve(reg.callback(request, context)).then(async (res) => {
      if (res && typeof res.arrayBuffer === 'function') await res.arrayBuffer();
      const t2 = process.hrtime.bigint();
      process.stdout.write(JSON.stringify({ load: Number(t1 - t0) / 1e6, first: Number(t2 - t0) / 1e6, status: res?.status ?? 200 }));
      process.exit(0);
    }, (err) => { console.error(err); process.exit(1); });`;
  return Array.from({ length: RUNS }, () => JSON.parse(runNode(script, env)));
}

export interface BundleFigures {
  broker: {
    bytes: number;
    requireMs: number;
    coldStartMs: number;
    coldStartLoadMs: number;
    firstStatus: number;
  };
  authjs: { bytes: number; requireMs: number };
  lazy: { file: string; bytes: number; requireMs: number }[];
}

export async function measureBundles(env: Record<string, string>): Promise<BundleFigures> {
  const { bytes } = await build({ quiet: true });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-authjs-'));
  const authJsBundle = path.join(dir, 'authjs.cjs');
  // The same esbuild options as scripts/build.ts.
  await esbuild.build({
    entryPoints: [path.join(import.meta.dirname, 'authjs-app.ts')],
    outfile: authJsBundle,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    minify: true,
    keepNames: true,
    sourcemap: 'linked',
    legalComments: 'none',
    logLevel: 'silent',
  });
  const cold = coldStartMs(env);
  return {
    broker: {
      bytes,
      requireMs: median(requireMs(bundlePath, true)),
      coldStartMs: median(cold.map((c) => c.first)),
      coldStartLoadMs: median(cold.map((c) => c.load)),
      firstStatus: cold[0]?.status ?? 0,
    },
    authjs: { bytes: statSync(authJsBundle).size, requireMs: median(requireMs(authJsBundle, false)) },
    // Files the bundle loads on first use only (oidc-provider on the first /api/oidc request).
    lazy: Object.values(LAZY_VENDOR_FILES).map((file) => {
      const full = path.join(path.dirname(bundlePath), file);
      return { file, bytes: statSync(full).size, requireMs: median(requireMs(full, false)) };
    }),
  };
}
