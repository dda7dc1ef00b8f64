/**
 * Bundle figures for `npm run bench`: the broker bundle (scripts/build.ts `build()`: dist/main.cjs,
 * which the host loads, and dist/app.cjs, which main.cjs loads on the first invocation) and the
 * Auth.js comparison app bundled with the same esbuild options; `require` time of each in a fresh
 * Node process (median of 7), and the broker's cold start as the Functions worker would see it:
 * load the bundle, then serve the first request — median of 7 fresh processes for each of
 * GET /api/health, GET /api/auth/login (the sign-in page) and POST /api/auth/login (the username
 * step of an Entra user: the first sign-in start, answered with the redirect to Entra).
 *
 * `tsx scripts/bench/bundle.ts` measures these alone (Azurite and the stand-ins started for it);
 * `BENCH_NODE=/path/to/node` measures with another Node binary (e.g. the deployed runtime's major).
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';
import {
  APP_FILE,
  appBundlePath,
  build,
  bundleOptions,
  bundlePath,
  FUNCTIONS_CORE_SHIM,
  LAZY_VENDOR_FILES,
} from '../build.ts';
import { repoRoot } from '../standins/ca.ts';
import { createBenchIntegration } from './seed.ts';

const RUNS = 7;
const MARK = '@@bench@@';
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] ?? Number.NaN;

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

/** As runNode, without blocking this process (the stand-ins answering the child may live here). */
async function runNodeAsync(script: string, env: Record<string, string>): Promise<string> {
  return await new Promise((resolve, reject) => {
    execFile(
      process.env.BENCH_NODE || process.execPath,
      ['-e', script],
      { cwd: '/', env: { PATH: process.env.PATH ?? '', ...env }, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) reject(Object.assign(err, { stderr }));
        else resolve(String(stdout));
      },
    );
  });
}

function requireMs(files: string[], shim: boolean): number[] {
  const script = `${shim ? FUNCTIONS_CORE_SHIM : ''}
    const t = process.hrtime.bigint();
    for (const file of ${JSON.stringify(files)}) require(file);
    process.stdout.write(String(Number(process.hrtime.bigint() - t) / 1e6));`;
  return Array.from({ length: RUNS }, () => Number(runNode(script)));
}

/** A first request of a cold instance: the function's name and the request the worker hands it. */
export interface FirstRequest {
  function: string;
  method: 'GET' | 'POST';
  /** Path under the public base URL, e.g. `/api/health`. */
  path: string;
  /** Form body (POST). */
  form?: Record<string, string>;
}

export const FIRST_REQUESTS: FirstRequest[] = [
  { function: 'health', method: 'GET', path: '/api/health' },
  { function: 'auth-login-page', method: 'GET', path: '/api/auth/login' },
];

/** The first sign-in start: the username step of `username` (an Entra user), answered with a 302. */
export function firstSignInStart(username: string): FirstRequest {
  return { function: 'auth-login-submit', method: 'POST', path: '/api/auth/login', form: { username } };
}

export interface ColdStart {
  request: string;
  /** Load the bundle and answer the first request (median). */
  ms: number;
  /** Of which loading main.cjs (median). */
  loadMs: number;
  status: number;
}

/** Load the bundle, then call the function's handler as the worker would; ms to the answer. */
async function coldStart(
  env: Record<string, string>,
  first: FirstRequest,
  bundle = bundlePath,
): Promise<ColdStart> {
  const functions = path.join(repoRoot, 'node_modules', '@azure', 'functions');
  const script = `${FUNCTIONS_CORE_SHIM}
    const { HttpRequest, InvocationContext } = require(${JSON.stringify(functions)});
    const first = ${JSON.stringify(first)};
    const t0 = process.hrtime.bigint();
    require(${JSON.stringify(bundle)});
    const t1 = process.hrtime.bigint();
    const reg = globalThis.__brokerFunctionRegistrations.find((r) => r.metadata.name === first.function);
    const base = process.env.BROKER_PUBLIC_BASE_URL;
    const headers = { 'x-forwarded-for': '127.0.0.1' };
    if (first.form) Object.assign(headers, { origin: new URL(base).origin, 'content-type': 'application/x-www-form-urlencoded' });
    const request = new HttpRequest({ method: first.method, url: base + first.path, headers, query: {}, params: {},
      body: first.form ? { string: new URLSearchParams(first.form).toString() } : undefined });
    const context = new InvocationContext({ invocationId: 'cold', functionName: first.function, logHandler: () => {} });
    Promise.resolve(reg.callback(request, context)).then(async (res) => {
      if (res && typeof res.arrayBuffer === 'function') await res.arrayBuffer();
      const t2 = process.hrtime.bigint();
      // After a marker: the app's own log lines go to stdout too.
      process.stdout.write('\\n' + ${JSON.stringify(MARK)} + JSON.stringify({ load: Number(t1 - t0) / 1e6, first: Number(t2 - t0) / 1e6, status: res?.status ?? 200 }));
      process.exit(0);
    }, (err) => { console.error(err); process.exit(1); });`;
  const runs: { load: number; first: number; status: number }[] = [];
  for (let i = 0; i < RUNS; i++)
    runs.push(JSON.parse((await runNodeAsync(script, env)).split(MARK).at(-1) ?? ''));
  return {
    request: `${first.method} ${first.path}`,
    ms: median(runs.map((c) => c.first)),
    loadMs: median(runs.map((c) => c.load)),
    status: runs[0]?.status ?? 0,
  };
}

export interface BundleFigures {
  broker: {
    /** main.cjs + app.cjs: the code an instance reads before it answers its first request. */
    bytes: number;
    /** main.cjs: what the host loads at start-up. */
    mainBytes: number;
    /** app.cjs: the app's code, loaded by main.cjs on the first invocation. */
    appBytes: number;
    /** `require` of main.cjs. */
    requireMs: number;
    /** `require` of main.cjs and then app.cjs (everything the first invocation loads). */
    fullRequireMs: number;
    /** The first of `coldStarts` (GET /api/auth/login unless another list was given). */
    coldStartMs: number;
    coldStartLoadMs: number;
    firstStatus: number;
    coldStarts: ColdStart[];
  };
  authjs: { bytes: number; requireMs: number };
  /** Files loaded on first use (app.cjs on the first invocation, oidc-provider on the first /api/oidc request). */
  lazy: { file: string; bytes: number; requireMs: number }[];
}

export async function measureBundles(
  env: Record<string, string>,
  firstRequests: FirstRequest[] = [FIRST_REQUESTS[1] as FirstRequest],
): Promise<BundleFigures> {
  const { bytes, appBytes } = await build({ quiet: true });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-authjs-'));
  const authJsBundle = path.join(dir, 'authjs.cjs');
  // The same esbuild options as scripts/build.ts (without the broker's own plugins).
  await esbuild.build({
    ...bundleOptions({ quiet: true }),
    plugins: [],
    entryPoints: [path.join(import.meta.dirname, 'authjs-app.ts')],
    outfile: authJsBundle,
    sourcemap: 'linked',
  });
  const coldStarts: ColdStart[] = [];
  for (const first of firstRequests) coldStarts.push(await coldStart(env, first));
  return {
    broker: {
      bytes: bytes + appBytes,
      mainBytes: bytes,
      appBytes,
      requireMs: median(requireMs([bundlePath], true)),
      fullRequireMs: median(requireMs([bundlePath, appBundlePath], true)),
      coldStartMs: coldStarts[0]?.ms ?? Number.NaN,
      coldStartLoadMs: coldStarts[0]?.loadMs ?? Number.NaN,
      firstStatus: coldStarts[0]?.status ?? 0,
      coldStarts,
    },
    authjs: { bytes: statSync(authJsBundle).size, requireMs: median(requireMs([authJsBundle], false)) },
    lazy: [APP_FILE, ...Object.values(LAZY_VENDOR_FILES)].map((file) => {
      const full = path.join(path.dirname(bundlePath), file);
      return { file, bytes: statSync(full).size, requireMs: median(requireMs([full], false)) };
    }),
  };
}

/** `tsx scripts/bench/bundle.ts`: the bundle figures alone, against Azurite and the stand-ins. */
async function standalone(): Promise<void> {
  const { startAzuriteTables } = await import('../standins/azurite.ts');
  const { startKeyVaultStandIn } = await import('../standins/keyvault.ts');
  const { startEntraStandIn, demoTenant, DEMO_ENTRA } = await import('../standins/entra.ts');
  const { ensureLocalCa } = await import('../standins/ca.ts');
  const { loadConfig } = await import('../../shared/core/config.ts');
  const { createServices } = await import('../../shared/web/services.ts');
  const { ensureTables } = await import('../../shared/storage/tables.ts');
  const { setLogSink } = await import('../../shared/core/log.ts');
  setLogSink(() => {});
  const ca = ensureLocalCa();
  const azurite = await startAzuriteTables();
  const keyVault = await startKeyVaultStandIn();
  const entra = await startEntraStandIn({ tenants: [demoTenant()] });
  try {
    const env = {
      BROKER_PUBLIC_BASE_URL: 'http://localhost:7071',
      BROKER_TABLE_ENDPOINT: azurite.endpoint,
      BROKER_KEY_VAULT_URI: keyVault.url,
      BROKER_DEV_CREDENTIALS: 'true',
      BROKER_ENTRA_PUBLIC_AUTHORITY_HOST: entra.host,
    };
    const seed = createServices(loadConfig(env));
    await ensureTables(seed.tables);
    const created = await createBenchIntegration(seed);
    await seed.users.create(
      { username: 'cold', email: `cold@${DEMO_ENTRA.domain}`, verifyType: { integrationId: created.id } },
      { actor: 'bench' },
    );
    const firsts = [...FIRST_REQUESTS, firstSignInStart('cold')];
    const childEnv = { ...env, NODE_EXTRA_CA_CERTS: ca.bundlePath };
    const kib = (n: number) => `${(n / 1024).toFixed(0)} KiB`;
    const f = (n: number) => n.toFixed(1);
    const at = process.argv.indexOf('--bundle');
    const other = at > 0 ? process.argv[at + 1] : undefined;
    if (other) {
      // Another build's main.cjs (e.g. a previous commit's), measured the same way.
      const file = path.resolve(other);
      console.log(
        `Node ${runNode('process.stdout.write(process.version)')}, medians of ${RUNS} fresh processes`,
      );
      console.log(`${file} ${kib(statSync(file).size)}: require ${f(median(requireMs([file], true)))} ms`);
      for (const first of firsts) {
        const c = await coldStart(childEnv, first, file);
        console.log(
          `cold start, load + first ${c.request}: ${f(c.ms)} ms (load ${f(c.loadMs)} ms), ${c.status}`,
        );
      }
      return;
    }
    const figures = await measureBundles(childEnv, firsts);
    const b = figures.broker;
    console.log(
      `Node ${runNode('process.stdout.write(process.version)')}, medians of ${RUNS} fresh processes`,
    );
    console.log(`main.cjs ${kib(b.mainBytes)}: require ${f(b.requireMs)} ms`);
    console.log(`main.cjs + ${APP_FILE} (${kib(b.appBytes)}): require ${f(b.fullRequireMs)} ms`);
    for (const c of b.coldStarts)
      console.log(
        `cold start, load + first ${c.request}: ${f(c.ms)} ms (load ${f(c.loadMs)} ms), ${c.status}`,
      );
    for (const l of figures.lazy)
      console.log(`  on first use: ${l.file} ${kib(l.bytes)}, require ${f(l.requireMs)} ms`);
    console.log(`Auth.js bundle ${kib(figures.authjs.bytes)}: require ${f(figures.authjs.requireMs)} ms`);
    if (process.argv.includes('--json')) console.log(JSON.stringify(figures));
  } finally {
    await entra.close();
    await keyVault.close();
    await azurite.close();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { ensureLocalCa } = await import('../standins/ca.ts');
  const ca = ensureLocalCa();
  if (process.env.NODE_EXTRA_CA_CERTS !== ca.bundlePath) {
    // Node reads NODE_EXTRA_CA_CERTS only at start-up (the stand-ins' TLS): run again with it.
    const { spawnSync } = await import('node:child_process');
    const child = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
      stdio: 'inherit',
      env: { ...process.env, NODE_EXTRA_CA_CERTS: ca.bundlePath },
    });
    process.exit(child.status ?? 1);
  }
  standalone().then(
    () => process.exit(0),
    (err) => {
      console.error(err instanceof Error ? (err.stack ?? err.message) : err);
      process.exit(1);
    },
  );
}
