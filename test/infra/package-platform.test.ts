/**
 * `npm run package` on a machine npm treats as macOS on Apple silicon (`npm ci --os=darwin --cpu=arm64`):
 * node_modules then has argon2's darwin binary and not the Linux x64 one Flex Consumption loads, and
 * the package must carry the Linux x64 one all the same. esbuild runs through this machine's own
 * binary (ESBUILD_BINARY_PATH); everything else is what a Mac would have.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ARGON2_LINUX_PACKAGE, isLinuxX64Binary, runNpm, untar } from '../../scripts/package.ts';

const repoRoot = path.resolve(import.meta.dirname, '..', '..');
const BINARY = 'argon2.linux-x64-gnu.node';
const temps: string[] = [];
// A whole node_modules to delete: slow on a busy machine.
afterAll(async () => {
  await Promise.all(temps.map((dir) => rm(dir, { recursive: true, force: true })));
}, 300_000);

/** A copy of the project as git has it: sources, package.json, package-lock.json; no node_modules. */
function checkoutCopy(): string {
  const root = mkdtempSync(path.join(tmpdir(), 'broker-darwin-'));
  temps.push(root);
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: repoRoot,
  })
    .toString()
    .split('\0')
    .filter((f) => f && !f.startsWith('test/') && existsSync(path.join(repoRoot, f)));
  for (const file of files) {
    mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    cpSync(path.join(repoRoot, file), path.join(root, file));
  }
  return root;
}

describe('npm run package on macOS (npm --os=darwin --cpu=arm64)', () => {
  it('packages the Linux x64 argon2 binary that package-lock.json pins', { timeout: 900_000 }, () => {
    const root = checkoutCopy();
    runNpm(
      [
        'ci',
        '--os=darwin',
        '--cpu=arm64',
        '--ignore-scripts',
        '--no-audit',
        '--no-fund',
        '--prefer-offline',
        '--loglevel=error',
      ],
      { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] },
    );
    // The install is a Mac's: the darwin binaries, not the Linux ones.
    const modules = path.join(root, 'node_modules');
    expect(existsSync(path.join(modules, '@node-rs', 'argon2-darwin-arm64'))).toBe(true);
    expect(existsSync(path.join(modules, ...ARGON2_LINUX_PACKAGE.split('/')))).toBe(false);
    expect(existsSync(path.join(modules, '@esbuild', 'darwin-arm64'))).toBe(true);
    expect(existsSync(path.join(modules, '@esbuild', 'linux-x64'))).toBe(false);

    execFileSync(process.execPath, [path.join(modules, 'tsx', 'dist', 'cli.mjs'), 'scripts/package.ts'], {
      cwd: root,
      stdio: ['ignore', 'ignore', 'inherit'],
      env: {
        ...process.env,
        ESBUILD_BINARY_PATH: path.join(repoRoot, 'node_modules', '@esbuild', 'linux-x64', 'bin', 'esbuild'),
      },
    });

    // The binary npm installs on Linux x64, byte for byte, staged for azd and in the zip.
    const expected = readFileSync(
      path.join(repoRoot, 'node_modules', ...ARGON2_LINUX_PACKAGE.split('/'), BINARY),
    );
    const staged = readFileSync(path.join(root, 'dist', 'package', 'app', 'dist', BINARY));
    expect(staged.equals(expected)).toBe(true);
    expect(isLinuxX64Binary(staged)).toBe(true);
    const zip = readFileSync(path.join(root, 'dist', 'package', 'broker.zip'));
    expect(zip.includes(Buffer.from(`dist/${BINARY}`))).toBe(true);
    // Still no node_modules change: the binary came from .local/native, fetched by npm pack.
    expect(existsSync(path.join(modules, ...ARGON2_LINUX_PACKAGE.split('/')))).toBe(false);
    expect(existsSync(path.join(root, '.local', 'native'))).toBe(true);
  });

  it('reads npm package tarballs and recognises a Linux x64 binary', () => {
    const header = (name: string, size: number, type = '0') => {
      const h = Buffer.alloc(512);
      h.write(name, 0);
      h.write(`${size.toString(8).padStart(11, '0')}\0`, 124);
      h.write(type, 156);
      return h;
    };
    const body = Buffer.from('hello');
    const tar = Buffer.concat([header('package/a.txt', 5), body, Buffer.alloc(512 - 5), Buffer.alloc(1024)]);
    expect([...untar(tar)]).toEqual([['package/a.txt', body]]);
    expect(
      isLinuxX64Binary(
        readFileSync(path.join(repoRoot, 'node_modules', ...ARGON2_LINUX_PACKAGE.split('/'), BINARY)),
      ),
    ).toBe(true);
    expect(isLinuxX64Binary(Buffer.from([0x7f, 0x45, 0x4c, 0x46]))).toBe(false);
  });
});
