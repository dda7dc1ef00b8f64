/**
 * `npm run build`: bundles the app with esbuild into two files.
 *
 * - dist/app.cjs: the app (functions/index.ts and everything it imports), with `@azure/functions`
 *   replaced by a recorder: `app.http(name, options)` / `app.timer(...)` only note the function.
 * - dist/main.cjs, the file package.json `main` names and the Functions host loads: `@azure/functions`
 *   and every function's registration (name, route, methods, schedule: read from app.cjs at build
 *   time), each with a handler that requires app.cjs on the instance's first invocation and then
 *   calls the app's own handler. Loading main.cjs is what the worker waits for before the host
 *   knows the functions; the app's code is read, compiled and initialised once, on first use.
 *
 * - dist/telemetry.cjs: the OpenTelemetry distro and the Azure Functions instrumentation
 *   (shared/web/otel.ts), which main.cjs loads before it registers the functions, and only when
 *   APPLICATIONINSIGHTS_CONNECTION_STRING is set (in Azure); main.cjs then hands the app its tracing.
 *
 * `@azure/functions-core` stays external: the host provides it.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';
import { ASSET_SOURCE_DIR, CONSOLE_ASSET_FILES } from '../shared/web/console/assets.ts';
import { consoleScriptOptions } from '../shared/web/console/script.ts';
import { repoRoot } from './standins/ca.ts';

export const bundlePath = path.join(repoRoot, 'dist', 'main.cjs');

/** The app's code, next to the bundle, required by main.cjs on the first invocation. */
export const APP_FILE = 'app.cjs';
/**
 * Script text that lets a plain Node process (`node -e`) require main.cjs outside the Functions host:
 * `@azure/functions-core`, which only the host's worker provides, resolves to the local host's stand-in.
 */
export const FUNCTIONS_CORE_SHIM = `
  const Module = require('node:module');
  const original = Module._resolveFilename;
  Module._resolveFilename = function (request, ...rest) {
    if (request === '@azure/functions-core') return ${JSON.stringify(path.join(repoRoot, 'scripts/host/functions-core.cjs'))};
    return original.call(this, request, ...rest);
  };`;
export const appBundlePath = path.join(path.dirname(bundlePath), APP_FILE);

/** The telemetry side (shared/web/otel.ts), required by main.cjs at start-up when telemetry is on. */
export const TELEMETRY_FILE = 'telemetry.cjs';
const TELEMETRY_SOURCE = 'shared/web/otel.ts';

/**
 * Native modules cannot be bundled. Azure Functions Flex Consumption runs Linux x64 (glibc), so the
 * argon2 binding's binary for that platform is copied next to the bundle and required directly.
 */
export const NATIVE_FILES = ['argon2.linux-x64-gnu.node'];

/**
 * Data files the app reads from the bundle's folder (shared/passwords looks next to the bundle): the
 * common-password list and the admin console's stylesheet are copied, its script is compiled.
 */
export const BUNDLE_DATA_FILES = ['common-passwords.txt', ...CONSOLE_ASSET_FILES];
const COMPILED_DATA_FILES = ['console.js'];

const nativeArgon2: esbuild.Plugin = {
  name: 'native-argon2',
  setup(b) {
    b.onResolve({ filter: /^@node-rs\/argon2$/ }, () => ({ path: 'argon2', namespace: 'native-argon2' }));
    b.onLoad({ filter: /.*/, namespace: 'native-argon2' }, () => ({
      contents: "module.exports = require('./argon2.linux-x64-gnu.node');",
      loader: 'js',
    }));
    b.onResolve({ filter: /\.node$/ }, (args) => ({ path: args.path, external: true }));
  },
};

/**
 * zod's `locales` namespace export pulls every translation (~260 KiB) into the bundle; the broker
 * uses the default English messages only, which zod imports directly.
 */
const englishOnlyZod: esbuild.Plugin = {
  name: 'english-only-zod',
  setup(b) {
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) => {
      if (!args.importer.includes(`${path.sep}node_modules${path.sep}zod${path.sep}`)) return undefined;
      return { path: path.join(path.dirname(args.importer), '..', 'locales', 'en.js'), namespace: 'zod-en' };
    });
    b.onLoad({ filter: /.*/, namespace: 'zod-en' }, (args) => ({
      contents: `export { default as en } from ${JSON.stringify(args.path)};`,
      loader: 'js',
      resolveDir: path.dirname(args.path),
    }));
  },
};

/**
 * msal-node signs client assertions (its `clientCertificate` option) with `jsonwebtoken`, which
 * brings semver, jws and lodash (~60 KiB). The broker makes its assertions itself (federated ones
 * with its OP key, certificate ones through Key Vault: shared/entra/client-assertion.ts) and hands
 * them to MSAL as `clientAssertion`, so the bundle gets a stand-in that refuses to sign.
 */
const noCertificateAssertions: esbuild.Plugin = {
  name: 'no-certificate-assertions',
  setup(b) {
    b.onResolve({ filter: /^jsonwebtoken$/ }, (args) =>
      args.importer.includes(`${path.sep}@azure${path.sep}msal-node${path.sep}`)
        ? { path: 'jsonwebtoken', namespace: 'no-jwt' }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'no-jwt' }, () => ({
      contents:
        "const refuse = () => { throw new Error('certificate credentials are not supported by this build'); };\n" +
        'module.exports = { sign: refuse, verify: refuse, decode: refuse };',
      loader: 'js',
    }));
  },
};

/**
 * `@azure/data-tables` hands an XML parser to its pipeline for the service's access-policy and
 * service-property operations, which the broker never calls (entities and errors are JSON with the
 * `Accept` header the SDK sends). The bundle gets a stand-in (~75 KiB of fast-xml-parser less): an XML
 * body is refused, and the SDK reports that as a parse error carrying the response's status code.
 */
const noTableXml: esbuild.Plugin = {
  name: 'no-table-xml',
  setup(b) {
    b.onResolve({ filter: /^@azure\/core-xml$/ }, (args) =>
      args.importer.includes(`${path.sep}@azure${path.sep}data-tables${path.sep}`)
        ? { path: 'core-xml', namespace: 'no-xml' }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'no-xml' }, () => ({
      contents:
        "const refuse = async () => { throw new Error('XML bodies are not used by the broker'); };\n" +
        "export const parseXML = refuse;\nexport const stringifyXML = () => { throw new Error('XML bodies are not used by the broker'); };",
      loader: 'js',
    }));
  },
};

/**
 * The Azure SDK's HTTP pipeline (@typespec/ts-http-runtime) builds an HTTP(S) proxy agent only when a
 * proxy is configured (HTTPS_PROXY / HTTP_PROXY or a client's proxyOptions); the broker's deployment
 * has none. The bundle gets a stand-in for the two agent packages (and so no agent-base or debug): a
 * configured proxy fails every SDK request with a clear error instead of being bypassed.
 */
const noProxyAgents: esbuild.Plugin = {
  name: 'no-proxy-agents',
  setup(b) {
    b.onResolve({ filter: /^https?-proxy-agent$/ }, (args) =>
      /[\\/]@typespec[\\/]ts-http-runtime[\\/]|[\\/]@azure[\\/]core-rest-pipeline[\\/]/.test(args.importer)
        ? { path: args.path, namespace: 'no-proxy' }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'no-proxy' }, () => ({
      contents:
        "class NoProxy { constructor() { throw new Error('HTTP proxies are not supported by this build (scripts/build.ts)'); } }\n" +
        'export { NoProxy as HttpsProxyAgent, NoProxy as HttpProxyAgent };',
      loader: 'js',
    }));
  },
};

/**
 * Packages the app uses only on some routes, built into files of their own next to the bundle and
 * required by the bundle the first time such a route runs (the modules that import them are only
 * reached through a dynamic `import()`), so an instance's start-up neither reads nor compiles them.
 * Each must not share module state with the bundle (neither imports zod, for instance).
 */
export const LAZY_VENDOR_FILES: Record<string, string> = {
  '@asteasolutions/zod-to-openapi': 'vendor-openapi.cjs',
  // The OpenID Provider engine: loaded on the first /api/oidc request (shared/oidc/provider.ts).
  'oidc-provider': 'oidc-provider.cjs',
  // MSAL: loaded on the first sign-in callback or connection test (shared/entra/msal.ts).
  '@azure/msal-node': 'msal-node.cjs',
  // Managed identity: loaded on the first token request, never with dev credentials
  // (shared/secrets/client.ts). Its MSAL is msal-node.cjs (one MSAL, the app's msal-node 7).
  '@azure/identity': 'azure-identity.cjs',
  // Key Vault keys: loaded when a certificate credential is created or signs (shared/secrets/keys.ts).
  '@azure/keyvault-keys': 'keyvault-keys.cjs',
};

/** Imports of a lazily loaded package become a require of its file (except inside that file). */
function lazyVendors(except?: string): esbuild.Plugin {
  return {
    name: 'lazy-vendors',
    setup(b) {
      b.onResolve({ filter: /.*/ }, (args) => {
        const file = LAZY_VENDOR_FILES[args.path];
        return file && args.path !== except ? { path: `./${file}`, external: true } : undefined;
      });
    },
  };
}

/** Builds the LAZY_VENDOR_FILES into `dir` (the bundle's folder, or a test probe's). */
export async function buildLazyVendors(dir: string, opts: { quiet?: boolean } = {}): Promise<void> {
  const options = bundleOptions(opts);
  for (const [pkg, file] of Object.entries(LAZY_VENDOR_FILES)) {
    await esbuild.build({
      ...options,
      stdin: { contents: `export * from ${JSON.stringify(pkg)};`, resolveDir: repoRoot, loader: 'js' },
      outfile: path.join(dir, file),
      plugins: [noCertificateAssertions, noProxyAgents, lazyVendors(pkg)],
    });
  }
}

function copyNativeFiles(): void {
  const require = createRequire(path.join(repoRoot, 'package.json'));
  const pkgDir = path.dirname(require.resolve('@node-rs/argon2-linux-x64-gnu/package.json'));
  for (const file of NATIVE_FILES)
    copyFileSync(path.join(pkgDir, file), path.join(path.dirname(bundlePath), file));
  for (const file of BUNDLE_DATA_FILES) {
    if (COMPILED_DATA_FILES.includes(file)) continue;
    // The admin console's stylesheet lives with its sources (shared/web/console/assets).
    const dir = (CONSOLE_ASSET_FILES as readonly string[]).includes(file) ? ASSET_SOURCE_DIR : 'data';
    copyFileSync(path.join(repoRoot, dir, file), path.join(path.dirname(bundlePath), file));
  }
}

/** The admin console's script, compiled from its TypeScript beside the bundle (shared/web/console/script.ts). */
async function buildConsoleScript(): Promise<void> {
  await esbuild.build({
    ...consoleScriptOptions(repoRoot),
    outfile: path.join(path.dirname(bundlePath), 'console.js'),
  });
}

/** esbuild options shared by the bundle, its lazy vendor files and test probes built like it. */
export function bundleOptions(opts: { quiet?: boolean } = {}): esbuild.BuildOptions {
  return {
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    minify: true,
    keepNames: true,
    legalComments: 'none',
    external: ['@azure/functions-core'],
    logLevel: opts.quiet ? 'silent' : 'warning',
    plugins: [
      nativeArgon2,
      englishOnlyZod,
      noCertificateAssertions,
      noTableXml,
      noProxyAgents,
      lazyVendors(),
    ],
  };
}

/**
 * In app.cjs, `@azure/functions` is a recorder: the functions' files register as they always do, and
 * main.cjs (with the real `@azure/functions`) registers the same functions with the host. Only
 * `app.http` and `app.timer` are recorded (all the app uses); anything else fails the build.
 */
const recordFunctions: esbuild.Plugin = {
  name: 'record-functions',
  setup(b) {
    b.onResolve({ filter: /^@azure\/functions$/ }, () => ({
      path: 'recorder',
      namespace: 'record-functions',
    }));
    b.onLoad({ filter: /.*/, namespace: 'record-functions' }, () => ({
      contents: `
        export const registrations = [];
        const record = (kind) => (name, options) => {
          if (typeof name !== 'string' || typeof options?.handler !== 'function')
            throw new Error('app.' + kind + '(' + name + '): expected a name and options with a handler');
          registrations.push({ kind, name, options });
        };
        export const app = new Proxy({ http: record('http'), timer: record('timer') }, {
          get(target, prop) {
            if (prop in target) return target[prop];
            throw new Error('app.' + String(prop) + ' is not supported by the split bundle (scripts/build.ts)');
          },
        });`,
      loader: 'js',
    }));
  },
};

export interface RecordedFunction {
  kind: 'http' | 'timer';
  name: string;
  /** The function's options without its handler (route, methods, authLevel; schedule). */
  options: Record<string, unknown>;
}

/** Loads app.cjs in a fresh Node process (outside the repo) and returns what it registered. */
export function recordedFunctions(appFile = appBundlePath): RecordedFunction[] {
  const script = `
    const { registrations } = require(${JSON.stringify(appFile)});
    process.stdout.write(JSON.stringify(registrations.map(({ kind, name, options }) => {
      const { handler, ...rest } = options;
      for (const [key, value] of Object.entries(rest))
        if (typeof value === 'function' || typeof value === 'symbol')
          throw new Error(name + ': option ' + key + ' cannot be written into main.cjs');
      return { kind, name, options: rest };
    })));`;
  const out = execFileSync(process.execPath, ['-e', script], {
    cwd: '/',
    env: { PATH: process.env.PATH ?? '' },
  });
  return JSON.parse(String(out)) as RecordedFunction[];
}

/** The source of main.cjs: the registrations, each handing its invocations to app.cjs. */
export function mainEntrySource(functions: RecordedFunction[]): string {
  return `
    import * as azureFunctions from '@azure/functions';
    const { app } = azureFunctions;
    const functions = ${JSON.stringify(functions)};
    // Telemetry before anything else (the Functions docs' order: the distro's hooks must see every
    // module load, and the host must learn before start-up that this worker exports its own), and
    // only where Application Insights is configured. A failure costs the telemetry, not the app.
    let telemetry;
    if (process.env.APPLICATIONINSIGHTS_CONNECTION_STRING) {
      try {
        telemetry = require('./${TELEMETRY_FILE}').startTelemetry(azureFunctions);
      } catch (err) {
        console.error('telemetry.start_failed', err && err.name);
      }
    }
    let appModule;
    function loadApp() {
      appModule = require('./${APP_FILE}');
      if (telemetry) appModule.useTelemetry(telemetry);
      return new Map(appModule.registrations.map((r) => [r.name, r.options.handler]));
    }
    let handlers;
    function appHandler(name) {
      // The instance's first invocation reads, compiles and initialises the app.
      handlers ??= loadApp();
      const handler = handlers.get(name);
      if (!handler) throw new Error('function ' + name + ' is not in ${APP_FILE}');
      return handler;
    }
    for (const { kind, name, options } of functions) {
      app[kind](name, { ...options, handler: async (...args) => appHandler(name)(...args) });
    }
    // The host calls appTerminate before it stops the worker (a scale-in, a deployment): a loaded app
    // stops its back-channel logout retry timers (the queue keeps the logouts) and writes the noise
    // counts it holds in memory.
    app.hook.appTerminate(async () => {
      if (appModule) await appModule.shutdownServices();
    });
    // Once the host has the registrations, the app is loaded in the background: an instance that is
    // warmed up before its first request (Flex Consumption's always-ready instances) pays nothing on
    // it; a request that arrives first loads it itself, as without this. A failure here is left to
    // that first invocation, which throws it.
    setTimeout(() => {
      try {
        appHandler(functions[0].name);
      } catch {}
    }, 0).unref();`;
}

const appFileExternal: esbuild.Plugin = {
  name: 'app-file-external',
  setup(b) {
    b.onResolve({ filter: new RegExp(`^\\./${APP_FILE.replace('.', '\\.')}$`) }, (args) => ({
      path: args.path,
      external: true,
    }));
  },
};

const telemetryFileExternal: esbuild.Plugin = {
  name: 'telemetry-file-external',
  setup(b) {
    b.onResolve({ filter: new RegExp(`^\\./${TELEMETRY_FILE.replace('.', '\\.')}$`) }, (args) => ({
      path: args.path,
      external: true,
    }));
  },
};

/**
 * The OpenTelemetry Node SDK (under the distro) imports every exporter it can build from OTEL_*
 * environment variables: OTLP over gRPC (with grpc-js and protobufjs), HTTP and protobuf, Zipkin,
 * Prometheus. The broker exports to Azure Monitor only, through the distro's own processors and
 * readers, so the telemetry file gets a stand-in whose classes refuse to be built (about a third of
 * the file less, and of the start-up time it costs).
 */
const noOtlpExporters: esbuild.Plugin = {
  name: 'no-otlp-exporters',
  setup(b) {
    b.onResolve(
      {
        filter:
          /^@opentelemetry\/exporter-(?:(?:trace|metrics|logs)-otlp-(?:grpc|http|proto)|zipkin|prometheus)$/,
      },
      (args) =>
        /[\\/]@opentelemetry[\\/]sdk-node[\\/]/.test(args.importer)
          ? { path: args.path, namespace: 'no-otlp' }
          : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'no-otlp' }, (args) => ({
      contents: `
        const refused = class { constructor() { throw new Error(${JSON.stringify(args.path)} + ' is not in this build (scripts/build.ts): the broker exports to Azure Monitor'); } };
        module.exports = new Proxy({}, { get: (_, name) => (typeof name === 'string' && /^[A-Z]/.test(name) ? refused : undefined) });`,
      loader: 'js',
    }));
  },
};

/** Builds TELEMETRY_FILE into `dir`: the distro with what it loads, in one file of its own. */
export async function buildTelemetry(dir: string, opts: { quiet?: boolean } = {}): Promise<void> {
  const options = bundleOptions(opts);
  await esbuild.build({
    ...options,
    entryPoints: [path.join(repoRoot, TELEMETRY_SOURCE)],
    outfile: path.join(dir, TELEMETRY_FILE),
    // The distro finds its optional applicationinsights.json next to its own file (import.meta.url).
    define: { 'import.meta.url': '__telemetryFileUrl' },
    banner: { js: 'var __telemetryFileUrl = require("node:url").pathToFileURL(__filename).href;' },
    plugins: [noOtlpExporters, ...(options.plugins ?? [])],
  });
}

function mergeMetafiles(...files: esbuild.Metafile[]): esbuild.Metafile {
  return {
    inputs: Object.assign({}, ...files.map((f) => f.inputs)),
    outputs: Object.assign({}, ...files.map((f) => f.outputs)),
  };
}

export async function build(opts: { quiet?: boolean; analyze?: boolean } = {}): Promise<{
  /** main.cjs, what the host loads at start-up. */
  bytes: number;
  /** app.cjs, loaded on the first invocation. */
  appBytes: number;
  ms: number;
  /** Both files' metafiles merged (inputs and outputs of main.cjs and app.cjs). */
  metafile: esbuild.Metafile;
  /** main.cjs's alone. */
  mainMetafile: esbuild.Metafile;
  functions: RecordedFunction[];
}> {
  const started = performance.now();
  mkdirSync(path.dirname(bundlePath), { recursive: true });
  const options = bundleOptions(opts);
  const appResult = await esbuild.build({
    ...options,
    stdin: {
      contents:
        "import './functions/index.ts';\nexport { registrations } from '@azure/functions';\n" +
        "export { useTelemetry } from './shared/web/telemetry.ts';\n" +
        "export { shutdownServices } from './shared/web/runtime.ts';",
      resolveDir: repoRoot,
      sourcefile: 'app-entry.js',
      loader: 'js',
    },
    outfile: appBundlePath,
    sourcemap: 'linked',
    metafile: true,
    plugins: [recordFunctions, ...(options.plugins ?? [])],
  });
  copyNativeFiles();
  await buildConsoleScript();
  const functions = recordedFunctions();
  const mainResult = await esbuild.build({
    ...options,
    stdin: {
      contents: mainEntrySource(functions),
      resolveDir: repoRoot,
      sourcefile: 'main-entry.js',
      loader: 'js',
    },
    outfile: bundlePath,
    sourcemap: 'linked',
    metafile: true,
    plugins: [appFileExternal, telemetryFileExternal],
  });
  if (appResult.errors.length > 0 || mainResult.errors.length > 0) throw new Error('esbuild failed');
  await buildLazyVendors(path.dirname(bundlePath), opts);
  await buildTelemetry(path.dirname(bundlePath), opts);
  const bytes = statSync(bundlePath).size;
  const appBytes = statSync(appBundlePath).size;
  const ms = Math.round(performance.now() - started);
  if (!opts.quiet)
    console.log(
      `built ${path.relative(repoRoot, bundlePath)}: ${(bytes / 1024).toFixed(0)} KiB (${functions.length} functions)` +
        ` + ${path.relative(repoRoot, appBundlePath)}: ${(appBytes / 1024).toFixed(0)} KiB in ${ms} ms`,
    );
  if (opts.analyze) {
    console.log(`${path.basename(bundlePath)}:\n${sizeByPackage(mainResult.metafile)}`);
    console.log(`${APP_FILE}:\n${sizeByPackage(appResult.metafile)}`);
  }
  return {
    bytes,
    appBytes,
    ms,
    metafile: mergeMetafiles(mainResult.metafile, appResult.metafile),
    mainMetafile: mainResult.metafile,
    functions,
  };
}

/** Bytes in the bundle per package (or per source folder), largest first: `npm run build -- --analyze`. */
export function sizeByPackage(metafile: esbuild.Metafile, top = 25): string {
  const sizes = new Map<string, number>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [file, { bytesInOutput }] of Object.entries(output.inputs)) {
      const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)(?!.*node_modules)/.exec(file)?.[1];
      const key = pkg ?? file.replace(/^([^/]+\/[^/]+)\/.*$/, '$1');
      sizes.set(key, (sizes.get(key) ?? 0) + bytesInOutput);
    }
  }
  return [...sizes]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([k, v]) => `${(v / 1024).toFixed(1).padStart(8)} KiB  ${k}`)
    .join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  build({ analyze: process.argv.includes('--analyze') }).catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
