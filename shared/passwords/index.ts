import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Passwords (docs/security.md PW3, PW6; OWASP ASVS 5.0 §6.2, §11.4.2).
 *
 * - Hashing: argon2id, m=19456 KiB, t=2, p=1 (OWASP's minimum), 32-byte output, 16-byte random salt,
 *   stored as a PHC string `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`.
 * - Normalisation: every password is normalised to Unicode NFC before it is counted, checked or
 *   hashed (the same characters typed on different systems give the same hash). Nothing is ever
 *   truncated: argon2 hashes the whole UTF-8 input.
 * - Policy: 8–256 characters, counted as Unicode code points after NFC; no composition rules; the
 *   common-password list (data/common-passwords.txt) and the username itself are refused, ignoring case.
 */

export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 256;
/** Raw input cap (UTF-16 code units) before normalisation: generous for 256 code points, bounds the work. */
export const PASSWORD_INPUT_MAX = 1024;

const ARGON2ID = 2; // Algorithm.Argon2id (a const enum in the binding's types)
const VERSION_0x13 = 1; // Version.V0x13
export const HASH_OPTIONS = {
  algorithm: ARGON2ID,
  version: VERSION_0x13,
  memoryCost: 19456,
  timeCost: 2,
  parallelism: 1,
  outputLen: 32,
} as const;
export const PHC_PREFIX = '$argon2id$v=19$m=19456,t=2,p=1$';

/** A hash of a random password nobody knows, with the current parameters (for `dummyVerify`). */
const DUMMY_HASH =
  '$argon2id$v=19$m=19456,t=2,p=1$tRRtfIhrn5mJq3fCejufSw$bZM4/RtKec2tlEOgd7z2MdGbO7sTQq1nXp98dvLG8HQ';

const normalize = (pw: string) => pw.normalize('NFC');

/**
 * The native argon2 binding, loaded on the first hash or verification rather than at instance start
 * (loading the shared library is a sizeable part of a cold start that serves no password).
 */
let binding: Promise<typeof import('@node-rs/argon2')> | undefined;
const argon2 = () => {
  binding ??= import('@node-rs/argon2');
  return binding;
};

export async function hashPassword(password: string): Promise<string> {
  // biome-ignore lint/suspicious/noExplicitAny: the binding's enums are `const enum`s (not importable with isolatedModules).
  return (await argon2()).hash(normalize(password), HASH_OPTIONS as any);
}

/** Constant-time comparison inside the binding. False (never a throw) for a malformed stored hash. */
export async function verifyPassword(phc: string, password: string): Promise<boolean> {
  try {
    return await (await argon2()).verify(phc, normalize(password));
  } catch {
    return false;
  }
}

/** Verifies against a fixed hash so an unknown user costs about as much time as a known one. Always false. */
export async function dummyVerify(password: string): Promise<false> {
  await verifyPassword(DUMMY_HASH, password);
  return false;
}

/** PHC string of argon2: `$argon2id$v=19$m=19456,t=2,p=1$<salt b64>$<hash b64>` (no padding). */
const PHC = /^\$(argon2(?:id|i|d))\$v=(\d+)\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;
const b64Bytes = (s: string) => Math.floor((s.length * 3) / 4);

/** True when `phc` is not argon2id v19 or its parameters are weaker than the current ones. */
export function needsRehash(phc: string): boolean {
  const m = PHC.exec(phc);
  if (!m) return true;
  const [, algorithm, version, memory, time, parallelism, salt = '', hashed = ''] = m;
  return (
    algorithm !== 'argon2id' ||
    Number(version) !== 19 ||
    Number(memory) < HASH_OPTIONS.memoryCost ||
    Number(time) < HASH_OPTIONS.timeCost ||
    Number(parallelism) < HASH_OPTIONS.parallelism ||
    b64Bytes(hashed) < HASH_OPTIONS.outputLen ||
    b64Bytes(salt) < 16
  );
}

let common: Set<string> | undefined;

/**
 * Where data/common-passwords.txt may be: under the working directory (the repo root for tests and
 * `npm start`; the package root, /home/site/wwwroot, on Azure Functions) or beside the bundle.
 * (No `import.meta.url`: the bundle is CommonJS.)
 */
function commonListCandidates(): string[] {
  const out: string[] = [];
  out.push(path.join(process.cwd(), 'data', 'common-passwords.txt'));
  if (typeof __dirname === 'string') {
    out.push(path.join(__dirname, 'common-passwords.txt'));
    out.push(path.join(__dirname, '..', 'data', 'common-passwords.txt'));
  }
  return out;
}

/**
 * The common-password list, lower-cased, loaded once per instance. Fails closed: a missing list is
 * an error, never a silently weaker policy.
 */
export function commonPasswords(): Set<string> {
  if (common) return common;
  const file = commonListCandidates().find((p) => existsSync(p));
  if (!file) throw new Error('data/common-passwords.txt was not found next to the app');
  const set = new Set<string>();
  for (const line of readFileSync(file, 'utf8').split(/\r?\n/)) {
    if (line.length > 0) set.add(normalize(line).toLowerCase());
  }
  common = set;
  return set;
}

export function isCommonPassword(password: string): boolean {
  return commonPasswords().has(normalize(password).toLowerCase());
}

/** Number of Unicode code points after NFC (what the length rule counts). */
export function passwordLength(password: string): number {
  let n = 0;
  for (const _ of normalize(password)) n++;
  return n;
}

/** The policy's problems with `password` (empty when it is acceptable). Messages never echo the password. */
export function validatePasswordPolicy(password: string, ctx: { username?: string } = {}): string[] {
  const problems: string[] = [];
  if (password.length > PASSWORD_INPUT_MAX) {
    return [`must be at most ${PASSWORD_MAX_LENGTH} characters`];
  }
  const length = passwordLength(password);
  if (length < PASSWORD_MIN_LENGTH) problems.push(`must be at least ${PASSWORD_MIN_LENGTH} characters`);
  if (length > PASSWORD_MAX_LENGTH) problems.push(`must be at most ${PASSWORD_MAX_LENGTH} characters`);
  const lower = normalize(password).toLowerCase();
  if (isCommonPassword(password)) problems.push('is too common (it is on the list of most used passwords)');
  if (ctx.username && lower === normalize(ctx.username).toLowerCase()) {
    problems.push('must not be the username');
  }
  return problems;
}
