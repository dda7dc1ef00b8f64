/**
 * `npm run package`: builds the app and writes the deployment package dist/package/broker.zip:
 * host.json, a trimmed package.json and the esbuild bundle dist/main.cjs with the files it loads on
 * first use (dist/app.cjs, the lazy vendor files) and any native `.node` addon beside it. No node_modules: the bundle carries its dependencies.
 *
 * The same files are staged unzipped in dist/package/app/, the folder azure.yaml names as the api
 * service's `dist`, so `azd deploy` ships exactly what this script zips.
 *
 * The zip is reproducible: entries sorted, fixed timestamps, deflate at level 9.
 *
 * Flex Consumption runs Linux x64 (glibc), so the package carries argon2's binary for that platform
 * whatever machine builds it. npm installs that binary (an optional dependency limited to Linux x64)
 * only on such a machine; anywhere else this script fetches the version and integrity package-lock.json
 * pins with `npm pack` into .local/native/ and lets the build resolve it from there (NODE_PATH).
 */
import { type ExecFileSyncOptions, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { crc32, deflateRawSync, gunzipSync } from 'node:zlib';
import { APP_FILE, BUNDLE_DATA_FILES, LAZY_VENDOR_FILES, TELEMETRY_FILE } from './build.ts';

/**
 * Code main.cjs requires by path: the app itself and the lazily loaded vendor files on first use, the
 * telemetry at start-up where Application Insights is configured.
 */
const LAZY_FILES = [APP_FILE, ...Object.values(LAZY_VENDOR_FILES), TELEMETRY_FILE];

export interface PackageEntry {
  /** Path inside the zip, with forward slashes. */
  name: string;
  data: Buffer;
}

export interface PackageResult {
  zipPath: string;
  stagingDir: string;
  bytes: number;
  files: string[];
}

/** package.json fields the Functions host and Node need at run time; scripts and dependencies stay behind. */
const KEPT_PACKAGE_FIELDS = ['name', 'version', 'private', 'description', 'type', 'main', 'engines'] as const;

export function trimPackageJson(pkg: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of KEPT_PACKAGE_FIELDS) if (pkg[key] !== undefined) out[key] = pkg[key];
  return out;
}

/** The files of the deployment package, read from a built project at `root`. */
export function packageEntries(root: string): PackageEntry[] {
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as Record<string, unknown>;
  const main = typeof pkg.main === 'string' ? pkg.main.replace(/^\.\//, '') : 'dist/main.cjs';
  const mainPath = path.join(root, main);
  if (!existsSync(mainPath)) throw new Error(`${main} is missing: run \`npm run build\` first`);
  const entries: PackageEntry[] = [
    { name: 'host.json', data: readFileSync(path.join(root, 'host.json')) },
    { name: 'package.json', data: Buffer.from(`${JSON.stringify(trimPackageJson(pkg), null, 2)}\n`) },
    { name: main, data: readFileSync(mainPath) },
  ];
  // Files scripts/build.ts puts next to the bundle: native addons (required by path) and data files
  // (BUNDLE_DATA_FILES, read from the bundle's folder).
  const mainDir = path.dirname(main);
  for (const file of readdirSync(path.join(root, mainDir)).sort()) {
    if (file.endsWith('.node') || BUNDLE_DATA_FILES.includes(file) || LAZY_FILES.includes(file)) {
      entries.push({
        name: path.posix.join(mainDir, file),
        data: readFileSync(path.join(root, mainDir, file)),
      });
    }
  }
  return entries.sort((a, b) => a.name.localeCompare(b.name));
}

/** A zip archive (deflate, fixed 1980-01-01 timestamps, regular files mode 0644) of `entries`. */
export function zipEntries(entries: PackageEntry[]): Buffer {
  const DOS_TIME = 0;
  const DOS_DATE = (0 << 9) | (1 << 5) | 1; // 1980-01-01
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = Buffer.from(entry.name, 'utf8');
    const compressed = deflateRawSync(entry.data, { level: 9 });
    const crc = crc32(entry.data) >>> 0;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed: 2.0
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(8, 8); // deflate
    local.writeUInt16LE(DOS_TIME, 10);
    local.writeUInt16LE(DOS_DATE, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(compressed.length, 18);
    local.writeUInt32LE(entry.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4); // made by: Unix, 2.0
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(8, 10);
    central.writeUInt16LE(DOS_TIME, 12);
    central.writeUInt16LE(DOS_DATE, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(compressed.length, 20);
    central.writeUInt32LE(entry.data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(((0o100644 << 16) >>> 0) as number, 38); // external attributes: regular file, 0644
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, compressed);
    centrals.push(central, name);
    offset += local.length + name.length + compressed.length;
  }
  const centralSize = centrals.reduce((n, b) => n + b.length, 0);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(centralSize, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, ...centrals, end]);
}

/** Runs npm: the npm running this script when there is one (`npm run package`), else `npm` on the PATH. */
export function runNpm(args: string[], opts: ExecFileSyncOptions = {}): Buffer {
  const cli = process.env.npm_execpath;
  if (cli && /\.c?js$/.test(cli)) return execFileSync(process.execPath, [cli, ...args], opts) as Buffer;
  // On Windows npm is npm.cmd, which Node starts only through a shell.
  const windows = process.platform === 'win32';
  return execFileSync(windows ? 'npm.cmd' : 'npm', args, { ...opts, shell: windows }) as Buffer;
}

/** The argon2 binding for the platform the package runs on (Flex Consumption: Linux x64, glibc). */
export const ARGON2_LINUX_PACKAGE = '@node-rs/argon2-linux-x64-gnu';
const ARGON2_LINUX_BINARY = 'argon2.linux-x64-gnu.node';

/** The regular files of a tar archive (npm's package tarballs: ustar, GNU long names). */
export function untar(tar: Buffer): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  let longName: string | undefined;
  for (let at = 0; at + 512 <= tar.length; ) {
    const header = tar.subarray(at, at + 512);
    if (header.every((b) => b === 0)) break;
    const field = (start: number, length: number) =>
      header
        .subarray(start, start + length)
        .toString('utf8')
        .replace(/\0[\s\S]*$/, '');
    const size = Number.parseInt(field(124, 12).trim() || '0', 8);
    const type = String.fromCharCode(header[156] ?? 0);
    const prefix = field(345, 155);
    const name = longName ?? (prefix ? `${prefix}/${field(0, 100)}` : field(0, 100));
    const data = tar.subarray(at + 512, at + 512 + size);
    longName = undefined;
    if (type === 'L') longName = data.toString('utf8').replace(/\0[\s\S]*$/, '');
    else if (type === '0' || type === '\0') files.set(name, Buffer.from(data));
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return files;
}

/** True for an ELF shared object built for x86-64: what Linux x64 loads. */
export function isLinuxX64Binary(data: Buffer): boolean {
  const ELF = data.subarray(0, 4).equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  return ELF && data.length > 20 && data[4] === 2 && data.readUInt16LE(18) === 0x3e; // 64-bit, EM_X86_64
}

/**
 * Makes `@node-rs/argon2-linux-x64-gnu` resolvable by the build. Returns undefined when npm installed it
 * (a Linux x64 machine), else the folder to add to NODE_PATH: .local/native/<version>/node_modules,
 * filled once from `npm pack` of the version package-lock.json pins, checked against its integrity.
 */
export function ensureLinuxArgon2(root: string): string | undefined {
  try {
    createRequire(path.join(root, 'package.json')).resolve(`${ARGON2_LINUX_PACKAGE}/package.json`);
    return undefined;
  } catch {
    // Not installed on this platform: fetched below.
  }
  const lock = JSON.parse(readFileSync(path.join(root, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { version?: string; integrity?: string }>;
  };
  const pinned = lock.packages[`node_modules/${ARGON2_LINUX_PACKAGE}`];
  if (!pinned?.version || !pinned.integrity?.startsWith('sha512-')) {
    throw new Error(`package-lock.json pins no version and sha512 integrity of ${ARGON2_LINUX_PACKAGE}`);
  }
  const nodePath = path.join(root, '.local', 'native', pinned.version, 'node_modules');
  const target = path.join(nodePath, ...ARGON2_LINUX_PACKAGE.split('/'));
  if (existsSync(path.join(target, ARGON2_LINUX_BINARY))) return nodePath;

  mkdirSync(path.join(root, '.local'), { recursive: true });
  const tmp = mkdtempSync(path.join(root, '.local', 'native-pack-'));
  try {
    const out = runNpm(
      ['pack', `${ARGON2_LINUX_PACKAGE}@${pinned.version}`, '--pack-destination', tmp, '--json', '--silent'],
      { cwd: tmp, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const [packed] = JSON.parse(String(out)) as { filename: string }[];
    const tarball = readFileSync(path.join(tmp, packed!.filename));
    const integrity = `sha512-${createHash('sha512').update(tarball).digest('base64')}`;
    if (integrity !== pinned.integrity) {
      throw new Error(
        `${ARGON2_LINUX_PACKAGE}@${pinned.version}: integrity ${integrity} is not the lockfile's`,
      );
    }
    const files = untar(gunzipSync(tarball));
    const binary = files.get(`package/${ARGON2_LINUX_BINARY}`);
    if (!binary || !isLinuxX64Binary(binary)) {
      throw new Error(`${ARGON2_LINUX_PACKAGE}@${pinned.version} holds no Linux x64 ${ARGON2_LINUX_BINARY}`);
    }
    mkdirSync(target, { recursive: true });
    for (const [name, data] of files) {
      if (!name.startsWith('package/') || name.includes('..')) continue;
      const file = path.join(target, name.slice('package/'.length));
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, data);
    }
    return nodePath;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Builds (unless `build: false`), stages dist/package/app/ and writes dist/package/broker.zip. */
export function createPackage(opts: { root?: string; build?: boolean } = {}): PackageResult {
  const root = opts.root ?? path.resolve(import.meta.dirname, '..');
  if (opts.build !== false) {
    const nativePath = ensureLinuxArgon2(root);
    const NODE_PATH = [nativePath, process.env.NODE_PATH].filter(Boolean).join(path.delimiter);
    runNpm(['run', '--silent', 'build'], {
      cwd: root,
      stdio: 'inherit',
      env: { ...process.env, ...(NODE_PATH ? { NODE_PATH } : {}) },
    });
  }
  const entries = packageEntries(root);
  const outDir = path.join(root, 'dist', 'package');
  const stagingDir = path.join(outDir, 'app');
  rmSync(outDir, { recursive: true, force: true });
  for (const entry of entries) {
    const target = path.join(stagingDir, entry.name);
    mkdirSync(path.dirname(target), { recursive: true });
    writeFileSync(target, entry.data);
  }
  const zip = zipEntries(entries);
  const zipPath = path.join(outDir, 'broker.zip');
  writeFileSync(zipPath, zip);
  return { zipPath, stagingDir, bytes: zip.length, files: entries.map((e) => e.name) };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  try {
    const started = performance.now();
    const result = createPackage({ build: !process.argv.includes('--no-build') });
    const root = path.resolve(import.meta.dirname, '..');
    console.log(
      `packaged ${path.relative(root, result.zipPath)}: ${(result.bytes / 1024).toFixed(1)} KiB, ` +
        `${result.files.length} files (${result.files.join(', ')}) in ${Math.round(performance.now() - started)} ms`,
    );
  } catch (err) {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  }
}
