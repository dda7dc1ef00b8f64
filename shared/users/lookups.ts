import type { UserRecord } from './records.ts';
import type { UserStore } from './store.ts';

/** A tenant or object id as Entra writes it; also keeps table keys safe. */
export const ENTRA_ID_PART = /^[A-Za-z0-9-]{1,100}$/;

/**
 * The sign-in path's reads: point reads only, each index answer re-checked against the user row (an
 * index row left behind by a crash points at a user who no longer matches).
 */

/** The user's internal record (with the password hash), or undefined. Case-insensitive username. */
export function getByUsername(store: UserStore, username: string): Promise<UserRecord | undefined> {
  return store.get(username.toLowerCase());
}

/**
 * The user with this immutable id (the OP's `sub`): one point read of the id index plus the user's
 * row; undefined for an unknown id or a deleted user. The record carries `sessionsRevokedAt`: a token
 * issued before it must be refused (see `issuedBeforeRevocation`).
 */
export async function getById(store: UserStore, id: string): Promise<UserRecord | undefined> {
  if (typeof id !== 'string') return undefined;
  return store.getById(id.toLowerCase());
}

/** The user bound to Entra identity (tid, oid): one point read in UserBindings plus the user's row. */
export async function findByBinding(
  store: UserStore,
  tenantId: string,
  objectId: string,
): Promise<UserRecord | undefined> {
  if (!ENTRA_ID_PART.test(tenantId) || !ENTRA_ID_PART.test(objectId)) return undefined;
  const username = await store.bindingOwner(tenantId.toLowerCase(), objectId.toLowerCase());
  if (!username) return undefined;
  const user = await store.get(username);
  const b = user?.entraBinding;
  return b && b.tenantId === tenantId.toLowerCase() && b.objectId === objectId.toLowerCase()
    ? user
    : undefined;
}

/** The username whose email this is (ignoring case), through the email index. */
export async function findByEmail(store: UserStore, email: string): Promise<string | undefined> {
  if (email.length === 0 || email.length > 254) return undefined;
  const username = await store.emailOwner(email);
  if (!username) return undefined;
  const user = await store.get(username);
  return user?.email && user.email.toLowerCase() === email.trim().toLowerCase() ? username : undefined;
}
