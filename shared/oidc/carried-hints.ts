/**
 * Codes, refresh tokens and opaque access tokens carry their issued hint (issued-hints.ts: the grant,
 * the user, the grant's broker session, the OP session's row) in their own value, sealed, so that a
 * token or userinfo request reads those rows beside the artifact's own at whichever instance it
 * reaches (a token request: not only at the one that issued the code): one sequential round trip
 * fewer.
 *
 * The value is `<the library's random id>.<sealed hint>`. The random part is the library's own, with
 * its bits of randomness unchanged; the row is keyed by the whole value, as before. The sealed part
 * is AES-256-GCM under a key derived (HKDF-SHA256) from the OP's cookie keys, which every instance
 * loads with its provider: no Key Vault call, and it rotates with them (a value sealed under a key
 * no instance holds any more simply has no hint). Sealed, because it names the username and the
 * broker session; authenticated, with the random part as associated data, so that nobody else can
 * make an instance read rows of their choosing. The kind of artifact is associated data too, and the
 * hint carries its issue time: it opens only as the kind it was sealed for and only within that
 * kind's lifetime, so a used code, or an expired access token sent to userinfo, makes no instance
 * read more than the value's own row. The plaintext is padded (to 320 bytes, then to a
 * multiple of 64), so a value's length shows little of what it names. Random 96-bit IVs: a key
 * seals at most about 2^32 values before the cookie keys must rotate (far beyond their use here).
 * Still only a hint: the rows read decide, exactly as when there is none.
 */
import { createHash, hkdfSync, randomBytes } from 'node:crypto';
import { AEAD_IV_BYTES, AEAD_TAG_BYTES, aeadOpen, aeadSeal } from '../core/aead.ts';
import type { IssuedHint } from './issued-hints.ts';
import { sessionRowOf } from './store-keys.ts';

const INFO = 'broker artifact hint v2';
const SEPARATOR = '.';
const KEY_ID_CHARS = 4;
const IV_BYTES = AEAD_IV_BYTES;
const TAG_BYTES = AEAD_TAG_BYTES;
/** The plaintext is padded to at least this many bytes, then to a multiple of PAD_STEP. */
const PAD_MIN = 320;
const PAD_STEP = 64;
/** Longest plaintext (bytes) sealed; a hint that needs more is not carried. */
const MAX_PLAIN_BYTES = 512;
/** Longest sealed part (characters): with the 43-character random part a value stays below 800. */
export const MAX_SEALED_HINT_CHARS =
  KEY_ID_CHARS + Math.ceil(((IV_BYTES + MAX_PLAIN_BYTES + TAG_BYTES) * 4) / 3);
/** Row keys are base64url SHA-256 (store-keys.ts); uids are the library's nanoids. */
const ROW_KEY = /^[A-Za-z0-9_-]{43}$/;
const UID = /^[A-Za-z0-9_-]{1,64}$/;
const MAX_FIELD_CHARS = 512;

/** Issue time (epoch seconds), grant id, sub, username, broker session id, OP session uid, row key. */
type Fields = [string, string, string, string, string, string, string];

/** The kinds of artifact that carry a hint, with the longest each lives (seconds). */
export type CarryingModel = (typeof CARRYING_MODELS)[number];
export type HintLifetimes = Record<CarryingModel, number>;

export class HintSeal {
  private readonly keys: { id: string; key: Buffer }[];

  /**
   * `secrets`: the OP's cookie keys, the current one first; `lifetimes`: how long each kind of
   * artifact lives, past which its hint no longer opens; `now`: the clock (ms).
   */
  constructor(
    secrets: readonly string[],
    private readonly lifetimes: HintLifetimes,
    private readonly now: () => number = Date.now,
  ) {
    this.keys = secrets.map((secret) => {
      const key = Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), INFO, 32));
      return { id: createHash('sha256').update(key).digest('base64url').slice(0, KEY_ID_CHARS), key };
    });
  }

  /**
   * `id` (an artifact of kind `model`) with `hint` sealed onto it; `id` alone when there is no key or
   * the hint would be too long.
   */
  attach(model: CarryingModel, id: string, hint: IssuedHint): string {
    const current = this.keys[0];
    if (!current || id.includes(SEPARATOR)) return id;
    // An OP session's row is carried by its key alone (its partition follows from it).
    const op = hint.opSession;
    const opCarried = op && sessionRowOf(op.rk).pk === op.pk ? op : undefined;
    const fields: Fields = [
      String(Math.floor(this.now() / 1000)),
      hint.grantId,
      hint.sub ?? '',
      hint.brokerSession?.u ?? '',
      hint.brokerSession?.s ?? '',
      opCarried?.uid ?? '',
      opCarried?.rk ?? '',
    ];
    if (fields.some((f) => f.length > MAX_FIELD_CHARS)) return id;
    const json = Buffer.from(JSON.stringify(fields), 'utf8');
    const size = Math.max(PAD_MIN, Math.ceil(json.length / PAD_STEP) * PAD_STEP);
    if (size > MAX_PLAIN_BYTES) return id;
    // JSON text never holds a NUL byte: the padding ends at the first one.
    const plain = Buffer.concat([json, Buffer.alloc(size - json.length)]);
    const iv = randomBytes(IV_BYTES);
    const sealed = Buffer.concat([iv, aeadSeal(current.key, iv, plain, associated(model, id))]);
    return `${id}${SEPARATOR}${current.id}${sealed.toString('base64url')}`;
  }

  /**
   * The hint `value` carries, when it carries one sealed under a key this instance holds, for an
   * artifact of kind `model`, and issued no longer ago than that kind lives.
   */
  open(model: CarryingModel, value: string): IssuedHint | undefined {
    const at = value.lastIndexOf(SEPARATOR);
    if (at < 1) return undefined;
    const id = value.slice(0, at);
    const text = value.slice(at + 1);
    if (text.length > MAX_SEALED_HINT_CHARS || !/^[A-Za-z0-9_-]+$/.test(text)) return undefined;
    const encoded = text.slice(KEY_ID_CHARS);
    const sealed = Buffer.from(encoded, 'base64url');
    // One spelling per value: trailing bits that decode the same are refused.
    if (sealed.length <= IV_BYTES + TAG_BYTES || sealed.toString('base64url') !== encoded) return undefined;
    const aad = associated(model, id);
    // Key ids are short: should two held keys share one, each is tried.
    for (const key of this.keys) {
      if (key.id !== text.slice(0, KEY_ID_CHARS)) continue;
      const fields = openWith(key.key, sealed, aad);
      if (fields === undefined) continue;
      const issuedAt = Array.isArray(fields) ? Number(fields[0]) : Number.NaN;
      const age = this.now() / 1000 - issuedAt;
      // A little early is a clock between instances; too late, the artifact has expired.
      if (!Number.isInteger(issuedAt) || age < -300 || age > this.lifetimes[model]) return undefined;
      return hintOf(fields);
    }
    return undefined;
  }
}

/** What the seal binds a hint to: the kind of artifact and its random id. */
const associated = (model: CarryingModel, id: string) => Buffer.from(`${model}\n${id}`, 'utf8');

/** The fields `sealed` (IV ‖ ciphertext ‖ tag) holds under `key`, or undefined. */
function openWith(key: Buffer, sealed: Buffer, aad: Buffer): unknown {
  const plain = aeadOpen(key, sealed.subarray(0, IV_BYTES), sealed.subarray(IV_BYTES), aad);
  if (!plain) return undefined;
  try {
    const end = plain.indexOf(0);
    return JSON.parse(plain.subarray(0, end === -1 ? plain.length : end).toString('utf8'));
  } catch {
    return undefined;
  }
}

/** The hint that sealed fields name; undefined for anything `attach` would not have sealed. */
export function hintOf(fields: unknown): IssuedHint | undefined {
  if (
    !Array.isArray(fields) ||
    fields.length !== 7 ||
    !fields.every((f) => typeof f === 'string' && f.length <= MAX_FIELD_CHARS)
  )
    return undefined;
  const [, grantId, sub, u, s, uid, rk] = fields as Fields;
  if (!grantId) return undefined;
  return {
    grantId,
    ...(sub ? { sub } : {}),
    ...(u && s ? { brokerSession: { u, s } } : {}),
    // Only ever a row of the OP sessions' own partitions.
    ...(UID.test(uid) && ROW_KEY.test(rk) ? { opSession: { uid, ...sessionRowOf(rk) } } : {}),
  };
}

type Provider = import('oidc-provider').default;

/** What the provider's models hold when their id is made (at their first save). */
export interface IssuingArtifact {
  format?: unknown;
  grantId?: unknown;
  accountId?: unknown;
  sessionUid?: unknown;
  expiresWithSession?: unknown;
}

/**
 * The models whose values carry their hint: those a token request redeems, and opaque access tokens,
 * which userinfo reads (a JWT access token for an API is never read back: its id stays the library's).
 */
export const CARRYING_MODELS = ['AuthorizationCode', 'RefreshToken', 'AccessToken'] as const;
const CARRYING = new Set<unknown>(CARRYING_MODELS);

/** The library's default randomness of opaque values (bits). */
export const OPAQUE_RANDOMNESS_BITS = 256;

/** The OP session each artifact is issued in, noted while its id is made (see below). */
const issuedIn = new WeakMap<object, string>();

/**
 * The provider's `formats.bitsOfOpaqueRandomness`: the library's default, unchanged. The library
 * calls it with the request's context while it makes an artifact's id, so for a code it also notes
 * the id the request's OP session will be saved under. That id is final by then (a session the
 * request re-identifies got its new id before the code is made) while its row may not be written
 * yet: the code's hint names the row the session will have, not the one it had.
 */
export function bitsOfOpaqueRandomness(ctx: unknown, token: unknown): number {
  if (token && typeof token === 'object' && CARRYING.has((token as { kind?: unknown }).kind)) {
    const sessionId = (ctx as { oidc?: { session?: { id?: unknown } } } | undefined)?.oidc?.session?.id;
    if (typeof sessionId === 'string') issuedIn.set(token, sessionId);
  }
  return OPAQUE_RANDOMNESS_BITS;
}

/**
 * Makes the provider's codes, refresh tokens and opaque access tokens carry their hint: `hintFor` says what the artifact
 * will name (undefined: nothing to carry; `opSessionId`: the OP session of the request issuing it,
 * when it has one), `seal` seals it onto the library's own id. Anything going wrong here leaves the
 * library's id as it is: issuing never fails for a hint.
 */
export function carryHints(
  provider: Provider,
  seal: HintSeal,
  hintFor: (artifact: IssuingArtifact, opSessionId: string | undefined) => IssuedHint | undefined,
): void {
  for (const model of CARRYING_MODELS) {
    const proto = (provider as unknown as Record<string, { prototype: { generateTokenId?: () => string } }>)[
      model
    ]?.prototype;
    const original = proto?.generateTokenId;
    if (!proto || typeof original !== 'function')
      throw new Error(`oidc-provider: ${model}.prototype.generateTokenId not found`);
    Object.defineProperty(proto, 'generateTokenId', {
      configurable: true,
      writable: true,
      value(this: IssuingArtifact) {
        const id = original.call(this);
        const opSessionId = issuedIn.get(this);
        issuedIn.delete(this);
        // The library decides an access token's format while it makes the id.
        if (this.format === 'jwt') return id;
        try {
          const hint = hintFor(this, opSessionId);
          return hint ? seal.attach(model, id, hint) : id;
        } catch {
          return id;
        }
      },
    });
  }
}
