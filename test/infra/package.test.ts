/**
 * `npm run package` (scripts/package.ts): the deployment zip holds the bundle, host.json and a trimmed
 * package.json, nothing else; it is a valid, reproducible zip; azd's staging folder holds the same files.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { crc32, inflateRawSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { APP_FILE, LAZY_VENDOR_FILES, TELEMETRY_FILE } from '../../scripts/build.ts';
import { createPackage } from '../../scripts/package.ts';

/** Reads every entry of a zip through its central directory, checking sizes and CRCs. */
function readZip(zip: Buffer): Map<string, Buffer> {
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  expect(eocd).toBeGreaterThan(-1);
  const count = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  const files = new Map<string, Buffer>();
  for (let i = 0; i < count; i++) {
    expect(zip.readUInt32LE(at)).toBe(0x02014b50);
    const method = zip.readUInt16LE(at + 10);
    const crc = zip.readUInt32LE(at + 16);
    const compressedSize = zip.readUInt32LE(at + 20);
    const size = zip.readUInt32LE(at + 24);
    const nameLength = zip.readUInt16LE(at + 28);
    const extraLength = zip.readUInt16LE(at + 30);
    const commentLength = zip.readUInt16LE(at + 32);
    const localOffset = zip.readUInt32LE(at + 42);
    const name = zip.subarray(at + 46, at + 46 + nameLength).toString('utf8');
    expect(zip.readUInt32LE(localOffset)).toBe(0x04034b50);
    const dataStart =
      localOffset + 30 + zip.readUInt16LE(localOffset + 26) + zip.readUInt16LE(localOffset + 28);
    const raw = zip.subarray(dataStart, dataStart + compressedSize);
    const data = method === 8 ? inflateRawSync(raw) : Buffer.from(raw);
    expect(data.length, name).toBe(size);
    expect(crc32(data) >>> 0, name).toBe(crc);
    files.set(name, data);
    at += 46 + nameLength + extraLength + commentLength;
  }
  return files;
}

function stagedFiles(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) =>
      e.isDirectory() ? stagedFiles(path.join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`],
    )
    .sort();
}

const temps: string[] = [];
afterAll(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

/** A built project with everything a repo has lying around that must stay out of the package. */
function fixtureProject(): string {
  const root = mkdtempSync(path.join(tmpdir(), 'broker-package-'));
  temps.push(root);
  const write = (file: string, content: string | Buffer) => {
    mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    writeFileSync(path.join(root, file), content);
  };
  write(
    'package.json',
    JSON.stringify({
      name: 'fixture',
      version: '1.2.3',
      private: true,
      type: 'module',
      main: 'dist/main.cjs',
      engines: { node: '>=20' },
      scripts: { build: 'x' },
      dependencies: { zod: '^4' },
      devDependencies: { vitest: '^4' },
    }),
  );
  write('host.json', '{"version":"2.0"}');
  write('dist/main.cjs', `'use strict';\n${'module.exports = {};\n'.repeat(200)}`);
  write('dist/main.cjs.map', '{}');
  write('dist/argon2.linux-x64-gnu-ABC123.node', Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  write('node_modules/zod/index.js', '');
  write('functions/index.ts', '');
  write('local.settings.json', '{"Values":{"SECRET":"x"}}');
  return root;
}

describe('scripts/package.ts', () => {
  it('zips the bundle, its native addons, host.json and a trimmed package.json, nothing else', () => {
    const root = fixtureProject();
    const result = createPackage({ root, build: false });
    const files = readZip(readFileSync(result.zipPath));
    expect([...files.keys()]).toEqual([
      'dist/argon2.linux-x64-gnu-ABC123.node',
      'dist/main.cjs',
      'host.json',
      'package.json',
    ]);
    expect(result.files).toEqual([...files.keys()]);
    expect(files.get('dist/main.cjs')).toEqual(readFileSync(path.join(root, 'dist/main.cjs')));
    expect(files.get('host.json')!.toString()).toBe('{"version":"2.0"}');
    expect(JSON.parse(files.get('package.json')!.toString())).toEqual({
      name: 'fixture',
      version: '1.2.3',
      private: true,
      type: 'module',
      main: 'dist/main.cjs',
      engines: { node: '>=20' },
    });
    // azd zips this folder (azure.yaml `dist`): the same files, byte for byte.
    expect(stagedFiles(result.stagingDir)).toEqual([...files.keys()]);
    for (const [name, data] of files)
      expect(readFileSync(path.join(result.stagingDir, name)), name).toEqual(data);
  });

  it('is reproducible: the same inputs give the same bytes', () => {
    const root = fixtureProject();
    const first = readFileSync(createPackage({ root, build: false }).zipPath);
    const second = readFileSync(createPackage({ root, build: false }).zipPath);
    expect(second.equals(first)).toBe(true);
  });

  it('refuses to package a project that was not built', () => {
    const root = fixtureProject();
    rmSync(path.join(root, 'dist'), { recursive: true });
    expect(() => createPackage({ root, build: false })).toThrow(/dist\/main\.cjs is missing/);
  });

  it('packages this repository after `npm run build`', { timeout: 120_000 }, () => {
    const result = createPackage();
    const files = readZip(readFileSync(result.zipPath));
    const names = [...files.keys()];
    expect(names.filter((n) => !n.endsWith('.node'))).toEqual(
      [
        // The app's code, required by main.cjs on the first invocation (scripts/build.ts APP_FILE).
        `dist/${APP_FILE}`,
        'dist/common-passwords.txt',
        'dist/console.css',
        'dist/console.js',
        'dist/main.cjs',
        // Loaded on first use (scripts/build.ts LAZY_VENDOR_FILES): OpenAPI generator, oidc-provider,
        // MSAL, @azure/identity.
        ...Object.values(LAZY_VENDOR_FILES).map((f) => `dist/${f}`),
        // Loaded by main.cjs at start-up where Application Insights is configured (OpenTelemetry).
        `dist/${TELEMETRY_FILE}`,
        'host.json',
        'package.json',
      ].sort((a, b) => a.localeCompare(b)),
    );
    expect(names.some((n) => n.includes('node_modules') || n.endsWith('.map') || n.endsWith('.ts'))).toBe(
      false,
    );
    const pkg = JSON.parse(files.get('package.json')!.toString()) as Record<string, unknown>;
    expect(pkg.main).toBe('dist/main.cjs');
    expect(pkg).not.toHaveProperty('devDependencies');
    expect(pkg).not.toHaveProperty('scripts');
    console.log(`broker.zip: ${result.bytes} bytes, ${names.length} files`);
  });
});
