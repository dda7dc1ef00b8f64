import { createHash } from 'node:crypto';

/**
 * Where the users' hot rows live: no single partition on the sign-in path may cap the product below
 * the storage account's limit. Azure's target is 2,000 entities/s per partition, so 16 partitions carry
 * 32,000/s, above the account's 20,000 requests/s.
 *
 * - User rows (Users table): `u` + the first hex digit of sha256(username), `u0`..`uf`.
 * - Id index rows (Users table): `id-` + the first hex digit of the (random UUID) id, `id-0`..`id-f`.
 * - UserBindings rows ((tid, oid) → username): `~` + the first hex digit of sha256(lower-case oid) +
 *   `-` + the tenant id, 16 partitions per tenant, so one tenant's first and IdP-first sign-ins spread
 *   over 32,000 entities/s. The hash digit before the tenant id places one tenant's 16 partitions in 16
 *   distant key ranges (Azure serves adjacent partition keys from one range server until it splits it).
 */

const HEX = '0123456789abcdef';
export const USER_PARTITIONS: readonly string[] = [...HEX].map((h) => `u${h}`);
export const ID_PARTITIONS: readonly string[] = [...HEX].map((h) => `id-${h}`);
/** Every UserBindings partition key starts with this. */
export const BINDING_PREFIX = '~';

/** The partition of a user row: `u` + one hex digit of sha256(username). Pure; the username as stored. */
export function userPartition(username: string): string {
  return `u${createHash('sha256').update(username, 'utf8').digest('hex')[0]}`;
}

/** The partition of an id index row: `id-` + the first hex digit of the (lower-case UUID) id. */
export function idPartition(id: string): string {
  return `id-${id[0] ?? '0'}`;
}

/**
 * The partition of the UserBindings row of Entra identity (tid, oid): `~<h>-<tid>`, h = the first hex
 * digit of sha256(lower-case oid). Pure and deterministic: a binding lookup stays one point read.
 */
export function bindingPartition(tenantId: string, objectId: string): string {
  const h = createHash('sha256').update(objectId.toLowerCase(), 'utf8').digest('hex')[0];
  return `${BINDING_PREFIX}${h}-${tenantId.toLowerCase()}`;
}
