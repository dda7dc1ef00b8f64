import { createHash } from 'node:crypto';
import type { TableClient, TableEntityResult } from '@azure/data-tables';
import { getEntityOrUndefined, isConflict, isNotFound, isPreconditionFailed } from '../storage/tables.ts';

/**
 * Where the Users table's hot rows live (issue 12: no single partition on the sign-in path may cap the
 * product below the storage account's limit).
 *
 * - User rows: `u` + the first hex digit of sha256(username), 16 partitions `u0`..`uf`. Azure's target
 *   is 2,000 entities/s per partition, so 16 × 2,000 = 32,000/s, above the account's 20,000 requests/s.
 * - Id index rows: `id-` + the first hex digit of the (random UUID) id, 16 partitions `id-0`..`id-f`
 *   (not `i<h>`: `i` + `d` would be the legacy `id` partition itself).
 *
 * Rows written before this lived in one partition each (`user`, `id`): they are moved on first read
 * (`moveRow`) and by the maintenance timer, which writes the `meta`/`users-migrated` marker once both
 * legacy partitions are empty.
 */

export const LEGACY_USER_PARTITION = 'user';
export const LEGACY_ID_PARTITION = 'id';
export const META_PARTITION = 'meta';
export const MIGRATED_ROW = 'users-migrated';

const HEX = '0123456789abcdef';
export const USER_PARTITIONS: readonly string[] = [...HEX].map((h) => `u${h}`);
export const ID_PARTITIONS: readonly string[] = [...HEX].map((h) => `id-${h}`);

/** The partition of a user row: `u` + one hex digit of sha256(username). Pure; the username as stored. */
export function userPartition(username: string): string {
  return `u${createHash('sha256').update(username, 'utf8').digest('hex')[0]}`;
}

/** The partition of an id index row: `id-` + the first hex digit of the (lower-case UUID) id. */
export function idPartition(id: string): string {
  return `id-${id[0] ?? '0'}`;
}

export type Row<T> = T & { partitionKey: string; rowKey: string; etag: string; timestamp?: string };

/** The row's own columns: keys, etag, timestamp and OData annotations left out. */
export function columnsOf(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) {
    if (k === 'partitionKey' || k === 'rowKey' || k === 'etag' || k === 'timestamp') continue;
    if (k.startsWith('odata.') || k.includes('@odata')) continue;
    out[k] = v;
  }
  return out;
}

/**
 * Moves one legacy row (as read, with its etag) into `toPk`: create there with the same columns, then
 * delete the legacy row conditional on the etag read. Returns the row at its new place, or undefined
 * when the caller should read again:
 * - create answers 409: another instance moved it first; the row at the new place is returned (that
 *   instance deletes the legacy row; the maintenance timer cleans up after one that crashed);
 * - the legacy delete answers 404/412: the legacy row was removed or changed after we read it (another
 *   mover whose copy has since been deleted, or an old writer): our copy is taken back (conditional on
 *   its etag, so a write made to it meanwhile is never lost) and the caller starts over.
 */
export async function moveRow<T extends object>(
  table: TableClient,
  legacy: Row<T>,
  toPk: string,
): Promise<Row<T> | undefined> {
  const columns = columnsOf(legacy as Record<string, unknown>);
  let etag: string;
  try {
    const res = await table.createEntity({ ...columns, partitionKey: toPk, rowKey: legacy.rowKey });
    etag = res.etag ?? '';
  } catch (err) {
    if (!isConflict(err)) throw err;
    return getEntityOrUndefined<T>(table, toPk, legacy.rowKey);
  }
  try {
    await table.deleteEntity(legacy.partitionKey, legacy.rowKey, { etag: legacy.etag });
  } catch (err) {
    if (!isNotFound(err) && !isPreconditionFailed(err)) throw err;
    try {
      await table.deleteEntity(toPk, legacy.rowKey, { etag });
    } catch (undoErr) {
      if (!isNotFound(undoErr) && !isPreconditionFailed(undoErr)) throw undoErr;
    }
    return undefined;
  }
  return { ...(columns as T), partitionKey: toPk, rowKey: legacy.rowKey, etag };
}

/**
 * Reads several partitions' key-ordered query results as one stream in RowKey order (a k-way merge).
 * Each partition is read page by page, a page only when its next row is needed; all partitions whose
 * buffer ran dry are read in parallel. A RowKey seen in two partitions (a row caught mid-move) is
 * yielded once, from the partition listed first.
 */
export class PartitionMerge<T extends object> {
  private readonly streams: {
    pages: AsyncIterator<TableEntityResult<T>[]>;
    buf: TableEntityResult<T>[];
    done: boolean;
  }[];
  private last: string | undefined;

  constructor(
    table: TableClient,
    partitions: readonly string[],
    filterFor: (pk: string) => string,
    pageSize: number | ((pk: string) => number),
    select?: string[],
  ) {
    this.streams = partitions.map((pk) => ({
      pages: table
        .listEntities<T>({ queryOptions: { filter: filterFor(pk), ...(select ? { select } : {}) } })
        .byPage({ maxPageSize: typeof pageSize === 'number' ? pageSize : pageSize(pk) })
        [Symbol.asyncIterator](),
      buf: [],
      done: false,
    }));
  }

  private async fill(s: (typeof this.streams)[number]): Promise<void> {
    // A filtered query may answer empty pages with a continuation: keep reading until rows or the end.
    while (s.buf.length === 0 && !s.done) {
      const next = await s.pages.next();
      if (next.done) s.done = true;
      else s.buf.push(...next.value);
    }
  }

  /**
   * Reads the first page of partition `index` before any other is read. Rows only ever move out of the
   * legacy partition into the new ones: read first, a row moved meanwhile is found in one or both
   * (listed once), never in neither.
   */
  async prime(index: number): Promise<void> {
    const s = this.streams[index];
    if (s) await this.fill(s);
  }

  /** The next row in RowKey order, or undefined at the end of every partition. */
  async next(): Promise<TableEntityResult<T> | undefined> {
    for (;;) {
      await Promise.all(this.streams.filter((s) => s.buf.length === 0 && !s.done).map((s) => this.fill(s)));
      let best: (typeof this.streams)[number] | undefined;
      for (const s of this.streams) {
        const head = s.buf[0];
        if (
          head &&
          (!best || (head.rowKey as string) < ((best.buf[0] as TableEntityResult<T>).rowKey as string))
        )
          best = s;
      }
      if (!best) return undefined;
      const row = best.buf.shift() as TableEntityResult<T>;
      if (row.rowKey === this.last) continue;
      this.last = row.rowKey as string;
      return row;
    }
  }
}
