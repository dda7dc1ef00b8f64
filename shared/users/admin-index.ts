import type { TableClient } from '@azure/data-tables';
import { deleteEntityIfExists, odataString } from '../storage/tables.ts';

export const ADMIN_PARTITION = 'admin';

/**
 * The admin index (`admin`/<username>), so the lock-out guard reads the few admins, not every user.
 * Callers re-check each user row: a row left by a crash is harmless.
 */
export class AdminIndex {
  constructor(private readonly table: TableClient) {}

  async add(username: string): Promise<void> {
    await this.table.upsertEntity({ partitionKey: ADMIN_PARTITION, rowKey: username }, 'Replace');
  }

  async remove(username: string): Promise<void> {
    await deleteEntityIfExists(this.table, ADMIN_PARTITION, username);
  }

  /** Usernames in the index (a small partition). */
  async usernames(): Promise<string[]> {
    const out: string[] = [];
    const filter = `PartitionKey eq ${odataString(ADMIN_PARTITION)}`;
    for await (const e of this.table.listEntities({ queryOptions: { filter, select: ['RowKey'] } })) {
      out.push(e.rowKey as string);
    }
    return out;
  }
}
