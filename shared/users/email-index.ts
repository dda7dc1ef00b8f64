import type { TableClient } from '@azure/data-tables';
import { ConflictError } from '../core/errors.ts';
import {
  deleteIfOwned,
  getEntityOrUndefined,
  isConflict,
  isNotFound,
  isPreconditionFailed,
} from '../storage/tables.ts';
import type { UserRecord } from './records.ts';

export const EMAIL_PARTITION = 'email';

export const emailKey = (email: string) => encodeURIComponent(email.trim().toLowerCase());

/**
 * The email index (`email`/<encoded lower-case email> → username), so `findByEmail` is a point read
 * and an email belongs to one user at most. Written before the user row and removed after it; an
 * index row whose user no longer has the email (left by a crash) is taken over.
 */
export class EmailIndex {
  constructor(
    private readonly table: TableClient,
    private readonly users: { get(username: string): Promise<UserRecord | undefined> },
  ) {}

  async owner(email: string): Promise<string | undefined> {
    const e = await getEntityOrUndefined<{ username: string }>(this.table, EMAIL_PARTITION, emailKey(email));
    return e?.username;
  }

  /** Points `email` at `username`; 409 `email_taken` when another user really has that email. */
  async claim(email: string, username: string): Promise<void> {
    const key = emailKey(email);
    try {
      await this.table.createEntity({ partitionKey: EMAIL_PARTITION, rowKey: key, username });
      return;
    } catch (err) {
      if (!isConflict(err)) throw err;
    }
    const row = await getEntityOrUndefined<{ username: string }>(this.table, EMAIL_PARTITION, key);
    if (!row) return this.claim(email, username);
    if (row.username === username) return;
    const owner = await this.users.get(row.username);
    if (owner?.email && emailKey(owner.email) === key) {
      throw new ConflictError('Another user already has this email address.', 'email_taken');
    }
    try {
      await this.table.updateEntity({ partitionKey: EMAIL_PARTITION, rowKey: key, username }, 'Replace', {
        etag: row.etag,
      });
    } catch (err) {
      if (isPreconditionFailed(err) || isNotFound(err)) {
        throw new ConflictError('Another user already has this email address.', 'email_taken');
      }
      throw err;
    }
  }

  /** Removes the index row if it still points at `username`. */
  async release(email: string, username: string): Promise<void> {
    await deleteIfOwned<{ username: string }>(
      this.table,
      EMAIL_PARTITION,
      emailKey(email),
      (r) => r.username === username,
    );
  }
}
