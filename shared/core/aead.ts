/**
 * AES-256-GCM, the broker's one way of sealing a value it hands out and reads back (a login
 * transaction's cookie, the hint a code or token carries): the ciphertext with its 16-byte tag
 * appended, bound to `aad`. Opening answers undefined for anything not sealed so, never throws.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';

export const AEAD_IV_BYTES = 12;
export const AEAD_TAG_BYTES = 16;

/** `plain` sealed under `key` (32 bytes) with `iv` (12 bytes, never reused with the key): ciphertext ‖ tag. */
export function aeadSeal(key: Buffer, iv: Buffer, plain: Buffer, aad: Buffer): Buffer {
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(aad);
  return Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
}

/** The plaintext of `sealed` (ciphertext ‖ tag), or undefined when it is not authentic. */
export function aeadOpen(key: Buffer, iv: Buffer, sealed: Buffer, aad: Buffer): Buffer | undefined {
  if (sealed.length < AEAD_TAG_BYTES) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, iv);
    decipher.setAAD(aad);
    decipher.setAuthTag(sealed.subarray(sealed.length - AEAD_TAG_BYTES));
    return Buffer.concat([
      decipher.update(sealed.subarray(0, sealed.length - AEAD_TAG_BYTES)),
      decipher.final(),
    ]);
  } catch {
    return undefined;
  }
}
