/**
 * The console's script is TypeScript (./client, type-checked with its own tsconfig: DOM, no Node)
 * compiled to one browser file by esbuild with these options: by `npm run build` into the bundle's
 * folder (scripts/build.ts), and in the sources (tests, `npm start`) once per process, in memory, so
 * a fresh clone needs no build step before it serves the console.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import type * as esbuild from 'esbuild';

/** The script's entry, relative to the repository root. */
export const CONSOLE_SCRIPT_ENTRY = path.join('shared', 'web', 'console', 'client', 'main.ts');

export function consoleScriptOptions(root: string): esbuild.BuildOptions {
  return {
    entryPoints: [path.join(root, CONSOLE_SCRIPT_ENTRY)],
    absWorkingDir: root,
    bundle: true,
    // One classic script: the shell loads it with `defer`, and the CSP allows 'self' only.
    format: 'iife',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    charset: 'utf8',
    legalComments: 'none',
    logLevel: 'silent',
  };
}

/**
 * Compiles the script from the sources under `root`. esbuild is a devDependency, required here at
 * run time (not imported) so the deployed bundle, which reads the compiled file, does not hold it.
 */
export function compileConsoleScript(root: string): Buffer {
  // esbuild's synchronous API otherwise hands the call to a worker thread and waits for it with no
  // time limit (Atomics.wait): a worker that never answers (seen once in a loaded test run) holds the
  // process forever. Without worker threads it runs the esbuild binary as a child process for the call.
  // Read when esbuild is first loaded in a process.
  process.env.ESBUILD_WORKER_THREADS ??= '0';
  const { buildSync } = createRequire(path.join(root, 'package.json'))('esbuild') as typeof esbuild;
  const [output] = buildSync({ ...consoleScriptOptions(root), write: false }).outputFiles;
  if (!output) throw new Error('esbuild produced no console script');
  return Buffer.from(output.contents);
}
