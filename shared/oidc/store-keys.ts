/**
 * Where OidcStore keeps a row (store.ts): partition `<model>:xx`, xx the first byte of the row key,
 * which is the base64url SHA-256 of the artifact's id (no bearer value is ever a key).
 */
import { createHash } from 'node:crypto';

export const hashId = (id: string) => createHash('sha256').update(id).digest('base64url');

/** The first byte of a row key, in hex: one of 256 partitions per model. */
export const hexPrefix = (h: string) => Buffer.from(h.slice(0, 2), 'base64url').toString('hex').slice(0, 2);

/** The row of an OP session by its row key alone (its partition follows from it). */
export function sessionRowOf(rk: string): { pk: string; rk: string } {
  return { pk: `Session:${hexPrefix(rk)}`, rk };
}
