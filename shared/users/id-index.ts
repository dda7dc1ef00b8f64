import { randomUUID } from 'node:crypto';
import type { TableClient } from '@azure/data-tables';
import { deleteIfOwned, getEntityOrUndefined, isConflict } from '../storage/tables.ts';
import { idPartition } from './partitions.ts';

export const USER_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The id index (`id-<h>`/<user id> → username, see `idPartition`), so a lookup by the immutable id
 * (the OP's `sub`) is a point read. Ids are random UUIDs made once per user and never reused. Written
 * before the user row and removed after it; readers re-check the user row, so a row left by a crash
 * is ignored.
 */
export class IdIndex {
  constructor(private readonly table: TableClient) {}

  /** The username the index points at for `id` (the caller re-checks the user row). */
  async owner(id: string): Promise<string | undefined> {
    if (!USER_ID_PATTERN.test(id)) return undefined;
    const row = await getEntityOrUndefined<{ username: string }>(this.table, idPartition(id), id);
    return row?.username;
  }

  /** Inserts the index row for a new id; false when the id is taken (never in practice: UUIDs). */
  async claim(id: string, username: string): Promise<boolean> {
    try {
      await this.table.createEntity({ partitionKey: idPartition(id), rowKey: id, username });
      return true;
    } catch (err) {
      if (isConflict(err)) return false;
      throw err;
    }
  }

  /** A fresh id with its index row. */
  async newId(username: string): Promise<string> {
    for (;;) {
      const id = randomUUID();
      if (await this.claim(id, username)) return id;
    }
  }

  /** Points the id at the user's new name (a rename). */
  async move(id: string, username: string): Promise<void> {
    await this.table.upsertEntity({ partitionKey: idPartition(id), rowKey: id, username }, 'Replace');
  }

  async release(id: string, username: string): Promise<void> {
    if (!id) return;
    await deleteIfOwned<{ username: string }>(
      this.table,
      idPartition(id),
      id,
      (r) => r.username === username,
    );
  }
}
