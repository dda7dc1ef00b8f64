/**
 * `npm run package`: builds the app and writes the deployment package dist/package/broker.zip:
 * host.json, a trimmed package.json and the esbuild bundle dist/main.cjs with the files it loads on
 * first use (dist/app.cjs, the lazy vendor files) and any native `.node` addon beside it. No node_modules: the bundle carries its dependencies.
 *
 * The same files are staged unzipped in dist/package/app/, the folder azure.yaml names as the api
 * service's `dist`, so `azd deploy` ships exactly what this script zips.
 *
 * The zip is reproducible: entries sorted, fixed timestamps, deflate at level 9.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { crc32, deflateRawSync } from 'node:zlib';
import { APP_FILE, BUNDLE_DATA_FILES, LAZY_VENDOR_FILES } from './build.ts';

/** Code main.cjs requires by path on first use: the app itself and the lazily loaded vendor files. */
const LAZY_FILES = [APP_FILE, ...Object.values(LAZY_VENDOR_FILES)];

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

/** Builds (unless `build: false`), stages dist/package/app/ and writes dist/package/broker.zip. */
export function createPackage(opts: { root?: string; build?: boolean } = {}): PackageResult {
  const root = opts.root ?? path.resolve(import.meta.dirname, '..');
  if (opts.build !== false)
    execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
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
