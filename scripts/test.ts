/**
 * `npm test`: makes sure the local CA exists, points NODE_EXTRA_CA_CERTS at the system bundle plus
 * that CA (the only way the stand-ins' certificates are trusted), then runs the whole suite with
 * vitest. Extra arguments go to vitest (`npm test -- test/unit`).
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { ensureLocalCa, repoRoot } from './standins/ca.ts';

const ca = ensureLocalCa();
const results = path.join(repoRoot, 'test-output', 'vitest-results.json');
rmSync(results, { force: true });
const vitest = path.join(repoRoot, 'node_modules', 'vitest', 'vitest.mjs');
const child = spawn(process.execPath, [vitest, 'run', ...process.argv.slice(2)], {
  cwd: repoRoot,
  stdio: 'inherit',
  env: { ...process.env, NODE_EXTRA_CA_CERTS: ca.bundlePath },
});
const forward = (signal: NodeJS.Signals) => child.kill(signal);
process.on('SIGINT', forward);
process.on('SIGTERM', forward);
child.on('exit', (code, signal) => {
  // A plain closing line, whatever the reporter printed above it.
  if (existsSync(results)) {
    const r = JSON.parse(readFileSync(results, 'utf8')) as {
      numPassedTests: number;
      numFailedTests: number;
      numPendingTests: number;
      numTodoTests: number;
    };
    console.log(
      `tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`,
    );
  }
  process.exit(code ?? (signal ? 1 : 0));
});
