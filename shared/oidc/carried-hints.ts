/**
 * Codes and refresh tokens carry their issued hint (issued-hints.ts: the grant, the user, the grant's
 * broker session, the OP session's row) in their own value, sealed, so that a token request reads
 * those rows beside the artifact's own at whichever instance it reaches, not only at the one that
 * issued it: one sequential round trip fewer at every other instance.
 *
 * The value is `<the library's random id>.<sealed hint>`. The random part is the library's own, with
 * its bits of randomness unchanged; the row is keyed by the whole value, as before. The sealed part
 * is AES-256-GCM under a key derived (HKDF-SHA256) from the OP's cookie keys, which every instance
 * loads with its provider: no Key Vault call, and it rotates with them (a value sealed under a key
 * no instance holds any more simply has no hint). Sealed, because it names the username and the
 * broker session; authenticated, with the random part as associated data, so that nobody else can
 * make an instance read rows of their choosing. Still only a hint: the rows read decide, exactly as
 * when there is none.
 */
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import type { IssuedHint } from './issued-hints.ts';

const INFO = 'broker artifact hint v1';
const SEPARATOR = '.';
const KEY_ID_CHARS = 4;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Longest sealed part (characters): a value stays far below the token endpoint's parameter cap. */
export const MAX_SEALED_HINT_CHARS = 700;
/** Longest field a hint may name (a username is at most 256 characters). */
const MAX_FIELD_CHARS = 512;

type Fields = [string, string, string, string, string, string, string];

export class HintSeal {
  private readonly keys: { id: string; key: Buffer }[];

  /** `secrets`: the OP's cookie keys, the current one first. */
  constructor(secrets: readonly string[]) {
    this.keys = secrets.map((secret) => {
      const key = Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), INFO, 32));
      return { id: createHash('sha256').update(key).digest('base64url').slice(0, KEY_ID_CHARS), key };
    });
  }

  /** `id` with `hint` sealed onto it; `id` alone when there is no key or the hint would be too long. */
  attach(id: string, hint: IssuedHint): string {
    const current = this.keys[0];
    if (!current || id.includes(SEPARATOR)) return id;
    const fields: Fields = [
      hint.grantId,
      hint.sub ?? '',
      hint.brokerSession?.u ?? '',
      hint.brokerSession?.s ?? '',
      hint.opSession?.uid ?? '',
      hint.opSession?.pk ?? '',
      hint.opSession?.rk ?? '',
    ];
    if (fields.some((f) => f.length > MAX_FIELD_CHARS)) return id;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', current.key, iv);
    cipher.setAAD(Buffer.from(id, 'utf8'));
    const sealed = Buffer.concat([
      iv,
      cipher.update(JSON.stringify(fields), 'utf8'),
      cipher.final(),
      cipher.getAuthTag(),
    ]);
    const text = current.id + sealed.toString('base64url');
    return text.length > MAX_SEALED_HINT_CHARS ? id : `${id}${SEPARATOR}${text}`;
  }

  /** The hint `value` carries, when it carries one sealed under a key this instance holds. */
  open(value: string): IssuedHint | undefined {
    const at = value.lastIndexOf(SEPARATOR);
    if (at < 1) return undefined;
    const id = value.slice(0, at);
    const text = value.slice(at + 1);
    if (text.length > MAX_SEALED_HINT_CHARS || !/^[A-Za-z0-9_-]+$/.test(text)) return undefined;
    const key = this.keys.find((k) => k.id === text.slice(0, KEY_ID_CHARS));
    if (!key) return undefined;
    const sealed = Buffer.from(text.slice(KEY_ID_CHARS), 'base64url');
    if (sealed.length <= IV_BYTES + TAG_BYTES) return undefined;
    let fields: unknown;
    try {
      const decipher = createDecipheriv('aes-256-gcm', key.key, sealed.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(id, 'utf8'));
      decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
      const plain = Buffer.concat([
        decipher.update(sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES)),
        decipher.final(),
      ]);
      fields = JSON.parse(plain.toString('utf8'));
    } catch {
      return undefined;
    }
    return hintOf(fields);
  }
}

function hintOf(fields: unknown): IssuedHint | undefined {
  if (!Array.isArray(fields) || fields.length !== 7 || !fields.every((f) => typeof f === 'string'))
    return undefined;
  const [grantId, sub, u, s, uid, pk, rk] = fields as Fields;
  if (!grantId) return undefined;
  return {
    grantId,
    ...(sub ? { sub } : {}),
    ...(u && s ? { brokerSession: { u, s } } : {}),
    ...(uid && pk && rk ? { opSession: { uid, pk, rk } } : {}),
  };
}

type Provider = import('oidc-provider').default;
/** What the provider's models hold when their id is made (at their first save). */
export interface IssuingArtifact {
  grantId?: unknown;
  accountId?: unknown;
  sessionUid?: unknown;
  expiresWithSession?: unknown;
}

/** The models whose values carry their hint: those a token request redeems. */
export const CARRYING_MODELS = ['AuthorizationCode', 'RefreshToken'] as const;

/**
 * Makes the provider's codes and refresh tokens carry their hint: `hintFor` says what the artifact
 * will name (undefined: nothing to carry), `seal` seals it onto the library's own id.
 */
export function carryHints(
  provider: Provider,
  seal: HintSeal,
  hintFor: (artifact: IssuingArtifact) => IssuedHint | undefined,
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
        const hint = hintFor(this);
        return hint ? seal.attach(id, hint) : id;
      },
    });
  }
}
