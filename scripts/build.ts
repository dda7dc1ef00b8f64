/**
 * `npm run build`: bundles the app (functions/index.ts and everything it imports) into
 * dist/main.cjs with esbuild — the file package.json `main` names and the Functions host loads.
 * `@azure/functions-core` stays external: the host provides it.
 */
import { copyFileSync, mkdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';
import { ASSET_SOURCE_DIR, CONSOLE_ASSET_FILES } from '../shared/console/assets.ts';
import { repoRoot } from './standins/ca.ts';

export const bundlePath = path.join(repoRoot, 'dist', 'main.cjs');

/**
 * Native modules cannot be bundled. Azure Functions Flex Consumption runs Linux x64 (glibc), so the
 * argon2 binding's binary for that platform is copied next to the bundle and required directly.
 */
export const NATIVE_FILES = ['argon2.linux-x64-gnu.node'];

/** Data files the app reads from the bundle's folder (shared/passwords looks next to the bundle). */
export const BUNDLE_DATA_FILES = ['common-passwords.txt', ...CONSOLE_ASSET_FILES];

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

function copyNativeFiles(): void {
  const require = createRequire(path.join(repoRoot, 'package.json'));
  const pkgDir = path.dirname(require.resolve('@node-rs/argon2-linux-x64-gnu/package.json'));
  for (const file of NATIVE_FILES)
    copyFileSync(path.join(pkgDir, file), path.join(path.dirname(bundlePath), file));
  for (const file of BUNDLE_DATA_FILES) {
    // The admin console's script and stylesheet live with its sources (shared/console/assets).
    const dir = (CONSOLE_ASSET_FILES as readonly string[]).includes(file) ? ASSET_SOURCE_DIR : 'data';
    copyFileSync(path.join(repoRoot, dir, file), path.join(path.dirname(bundlePath), file));
  }
}

export async function build(opts: { quiet?: boolean } = {}): Promise<{ bytes: number; ms: number }> {
  const started = performance.now();
  mkdirSync(path.dirname(bundlePath), { recursive: true });
  const result = await esbuild.build({
    entryPoints: [path.join(repoRoot, 'functions', 'index.ts')],
    outfile: bundlePath,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    minify: true,
    keepNames: true,
    sourcemap: 'linked',
    legalComments: 'none',
    external: ['@azure/functions-core'],
    logLevel: opts.quiet ? 'silent' : 'warning',
    metafile: false,
    plugins: [nativeArgon2],
  });
  copyNativeFiles();
  if (result.errors.length > 0) throw new Error('esbuild failed');
  const bytes = statSync(bundlePath).size;
  const ms = Math.round(performance.now() - started);
  if (!opts.quiet)
    console.log(`built ${path.relative(repoRoot, bundlePath)}: ${(bytes / 1024).toFixed(0)} KiB in ${ms} ms`);
  return { bytes, ms };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  build().catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
