/**
 * The admin console's two static files (one script, one stylesheet), read once per instance and
 * served under a fingerprinted name (`console.<sha256-prefix>.js`) so they can be cached for a year
 * (immutable) while the HTML that names them is never cached.
 *
 * Where the files are: in the sources (tests, `npm start`) the stylesheet is under the working
 * directory and the script is compiled from its TypeScript (./script.ts); in a deployment both are
 * beside the bundle (scripts/build.ts puts them there, like data/common-passwords.txt).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { CONSOLE_SCRIPT_ENTRY, compileConsoleScript } from './script.ts';

export const CONSOLE_ASSET_FILES = ['console.js', 'console.css'] as const;
export type ConsoleAssetFile = (typeof CONSOLE_ASSET_FILES)[number];

export interface ConsoleAsset {
  /** Fingerprinted file name, e.g. `console.3f2a9c1b0d4e.js`. */
  name: string;
  body: Buffer;
  /** The same bytes gzip-compressed once per instance (for `Accept-Encoding: gzip`). */
  gzipped: Buffer;
  contentType: string;
}

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

export const ASSET_SOURCE_DIR = path.join('shared', 'web', 'console', 'assets');

function locate(file: string): string {
  const candidates = [path.join(process.cwd(), ASSET_SOURCE_DIR, file)];
  if (typeof __dirname === 'string') candidates.push(path.join(__dirname, file));
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`console asset ${file} was not found next to the app`);
  return found;
}

function read(file: ConsoleAssetFile): Buffer {
  const root = process.cwd();
  if (file === 'console.js' && existsSync(path.join(root, CONSOLE_SCRIPT_ENTRY)))
    return compileConsoleScript(root);
  return readFileSync(locate(file));
}

let cache: Map<ConsoleAssetFile, ConsoleAsset> | undefined;

export function consoleAssets(): Map<ConsoleAssetFile, ConsoleAsset> {
  if (cache) return cache;
  const out = new Map<ConsoleAssetFile, ConsoleAsset>();
  for (const file of CONSOLE_ASSET_FILES) {
    const body = read(file);
    const hash = createHash('sha256').update(body).digest('hex').slice(0, 16);
    const ext = path.extname(file);
    out.set(file, {
      name: `${path.basename(file, ext)}.${hash}${ext}`,
      body,
      gzipped: gzipSync(body, { level: 9 }),
      contentType: TYPES[ext] ?? 'application/octet-stream',
    });
  }
  cache = out;
  return out;
}

/** The asset served under this (fingerprinted) name, or undefined. */
export function assetByName(name: string): ConsoleAsset | undefined {
  for (const asset of consoleAssets().values()) if (asset.name === name) return asset;
  return undefined;
}

export function assetUrl(file: ConsoleAssetFile): string {
  const asset = consoleAssets().get(file);
  if (!asset) throw new Error(`unknown console asset ${file}`);
  return `/api/admin/assets/${asset.name}`;
}
