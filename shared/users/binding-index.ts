import type { TableClient } from '@azure/data-tables';
import { ConflictError } from '../core/errors.ts';
import {
  deleteIfOwned,
  getEntityOrUndefined,
  isConflict,
  isNotFound,
  isPreconditionFailed,
} from '../storage/tables.ts';
import { bindingPartition } from './partitions.ts';
import type { UserRecord } from './records.ts';

interface BindingEntity {
  username: string;
  boundAt: string;
}

/**
 * The UserBindings table: (tid, oid) → username, PartitionKey `bindingPartition(tid, oid)`, RowKey the
 * object id, so an Entra identity belongs to one user at most and the IdP-first lookup is one point
 * read. Written before the user row's binding columns; a row whose user is no longer bound to the
 * identity (left by a crash) is taken over.
 */
export class BindingIndex {
  constructor(
    private readonly table: TableClient,
    private readonly users: { get(username: string): Promise<UserRecord | undefined> },
  ) {}

  /** The username bound to (tid, oid): one point read (the caller re-checks the user row). */
  async owner(tenantId: string, objectId: string): Promise<string | undefined> {
    const e = await getEntityOrUndefined<BindingEntity>(
      this.table,
      bindingPartition(tenantId, objectId),
      objectId,
    );
    return e?.username;
  }

  /**
   * Inserts the row (tid, oid) → username; 409 `binding_taken` when another user holds it. Returns
   * false when the row already pointed at `username`.
   */
  async claim(tenantId: string, objectId: string, username: string, boundAt: string): Promise<boolean> {
    const pk = bindingPartition(tenantId, objectId);
    try {
      await this.table.createEntity({ partitionKey: pk, rowKey: objectId, username, boundAt });
      return true;
    } catch (err) {
      if (!isConflict(err)) throw err;
    }
    const row = await getEntityOrUndefined<BindingEntity>(this.table, pk, objectId);
    if (!row) return this.claim(tenantId, objectId, username, boundAt);
    if (row.username === username) return false;
    const owner = await this.users.get(row.username);
    const taken = () =>
      new ConflictError('This Entra identity is already bound to another user.', 'binding_taken');
    if (owner?.entraBinding?.tenantId === tenantId && owner.entraBinding.objectId === objectId) throw taken();
    try {
      await this.table.updateEntity({ partitionKey: pk, rowKey: objectId, username, boundAt }, 'Replace', {
        etag: row.etag,
      });
      return true;
    } catch (err) {
      if (isPreconditionFailed(err) || isNotFound(err)) throw taken();
      throw err;
    }
  }

  /** Removes the row if it still points at `username`. */
  async release(tenantId: string, objectId: string, username: string): Promise<void> {
    await deleteIfOwned<BindingEntity>(
      this.table,
      bindingPartition(tenantId, objectId),
      objectId,
      (r) => r.username === username,
    );
  }
}
