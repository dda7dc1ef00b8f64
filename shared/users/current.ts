import { NotFoundError } from '../core/errors.ts';
import type { UserRecord } from './records.ts';
import type { UserStore } from './store.ts';

/** The stored record an admin operation starts from: 404 `user_not_found` when there is none. */
export async function requireRecord(store: UserStore, username: string): Promise<UserRecord> {
  const r = await store.get(username.toLowerCase());
  if (!r) throw new NotFoundError('No such user.', 'user_not_found');
  return r;
}
