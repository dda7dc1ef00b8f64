import { createHash } from 'node:crypto';
import type { TableClient, TableEntityResult } from '@azure/data-tables';
import {
  getEntityOrUndefined,
  isConflict,
  isNotFound,
  isPreconditionFailed,
  odataString,
} from '../storage/tables.ts';

/**
 * Where the Users table's hot rows live (issue 12: no single partition on the sign-in path may cap the
 * product below the storage account's limit).
 *
 * - User rows: `u` + the first hex digit of sha256(username), 16 partitions `u0`..`uf`. Azure's target
 *   is 2,000 entities/s per partition, so 16 × 2,000 = 32,000/s, above the account's 20,000 requests/s.
 * - Id index rows: `id-` + the first hex digit of the (random UUID) id, 16 partitions `id-0`..`id-f`
 *   (not `i<h>`: `i` + `d` would be the legacy `id` partition itself).
 *
 * - UserBindings rows ((tid, oid) → username): `~` + the first hex digit of sha256(lower-case oid) +
 *   `-` + the tenant id, 16 partitions per tenant (`bindingPartition`), so one tenant's first and
 *   IdP-first sign-ins spread over 16 × 2,000 = 32,000 entities/s. The `~` in front: every legacy key
 *   (the bare tenant id, `[a-z0-9-]` — `ID_PART` in service.ts, lower-cased) sorts below `~` and every
 *   new key at or above it, so ONE key range holds every legacy row however many tenants there are
 *   (`LEGACY_BINDINGS_FILTER`: one keys-only query of one row tells whether any is left). The hash
 *   digit before the tenant id also places one tenant's 16 partitions in 16 distant key ranges (Azure
 *   serves adjacent partition keys from one range server until it splits it).
 *
 * Rows written before this lived in one partition each (`user`, `id`; UserBindings: one per tenant):
 * they are moved on first read (`moveRow`, `LegacyMigration.read`) and by the maintenance timer
 * (`LegacyMigration.run`), which writes the `meta`/`users-migrated` (`meta`/`bindings-migrated`, in the
 * Users table) marker once the legacy rows are gone.
 */

export const LEGACY_USER_PARTITION = 'user';
export const LEGACY_ID_PARTITION = 'id';
export const META_PARTITION = 'meta';
export const MIGRATED_ROW = 'users-migrated';
/** The UserBindings migration's marker, in the Users table's `meta` partition (not in UserBindings: every
 * key there below `~` is a legacy row). */
export const BINDINGS_MIGRATED_ROW = 'bindings-migrated';
/** Every new UserBindings partition key starts with this; every legacy one (a tenant id) sorts below it. */
export const BINDING_PREFIX = '~';
/** The legacy UserBindings rows: one key range, whatever the number of tenants. */
export const LEGACY_BINDINGS_FILTER = `PartitionKey lt ${odataString(BINDING_PREFIX)}`;
/** How long an instance trusts its "not migrated yet" answer before reading the marker again. */
export const MIGRATION_CHECK_MS = 5 * 60_000;
/** A legacy row whose copy exists at the new place is deleted by the timer once the copy is this old. */
const STRANDED_MS = 5 * 60_000;

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

/**
 * The partition of the UserBindings row of Entra identity (tid, oid): `~<h>-<tid>`, h = the first hex
 * digit of sha256(lower-case oid). Pure and deterministic: a binding lookup stays one point read.
 */
export function bindingPartition(tenantId: string, objectId: string): string {
  const h = createHash('sha256').update(objectId.toLowerCase(), 'utf8').digest('hex')[0];
  return `${BINDING_PREFIX}${h}-${tenantId.toLowerCase()}`;
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

export interface MigrationResult {
  /** Legacy rows moved (or found already moved and cleaned up) in this run. */
  moved: number;
  /** Whether the legacy rows are gone and the marker is written. */
  migrated: boolean;
}

/** Where one kind of legacy row lives and where each one goes. */
export interface LegacySource {
  /** An OData filter selecting exactly the legacy rows (one partition, or one key range). */
  filter: string;
  /** The new partition of a legacy row. */
  target: (row: Row<Record<string, unknown>>) => string;
}

/**
 * The move of one table's legacy rows to their new partitions, without a manual step (issue 12): reads
 * that miss the new place look at the legacy one and move what they find (`read`), the maintenance
 * timer moves the rest (`run`) and then writes a marker row; an instance that has seen the marker never
 * reads a legacy place again. Used for the Users table (`user`, `id`) and UserBindings (one partition
 * per tenant). Assumed: nothing writes legacy rows any more (no instance of the previous version runs).
 */
export class LegacyMigration {
  /** Per instance: whether the marker was seen (then for good), and when it was last read. */
  private migrated = false;
  private checkedAt = Number.NEGATIVE_INFINITY;
  private markerRead: Promise<boolean> | undefined;

  constructor(
    /** The table whose rows move. */
    private readonly table: TableClient,
    /** The table and row (`meta`/`markerRow`) of the marker. */
    private readonly markerTable: TableClient,
    private readonly markerRow: string,
    private readonly sources: readonly LegacySource[],
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether this instance knows the migration is complete. */
  get known(): boolean {
    return this.migrated;
  }

  /**
   * Whether legacy rows may still exist. Cached per instance: "migrated" for good once seen, "not yet"
   * for `MIGRATION_CHECK_MS`. The check reads the marker and, when there is none, looks whether the
   * legacy rows are gone and writes the marker itself (a new deployment, or one the reads and the timer
   * have emptied, needs no timer run to stop paying for legacy reads).
   */
  async mayExist(): Promise<boolean> {
    if (this.migrated) return false;
    if (this.now() - this.checkedAt < MIGRATION_CHECK_MS) return true;
    this.markerRead ??= getEntityOrUndefined(this.markerTable, META_PARTITION, this.markerRow)
      .then(async (row) => {
        if (row) this.migrated = true;
        else await this.markIfEmpty();
        this.checkedAt = this.now();
        return this.migrated;
      })
      .finally(() => {
        this.markerRead = undefined;
      });
    return !(await this.markerRead);
  }

  /**
   * A point read at the new place; until migrated, falls back to the legacy place and moves a row found
   * there. A miss costs 3 reads until the marker (new, legacy, new again: a row moved between the first
   * two is found), 1 after.
   */
  async read<T extends object>(pk: string, legacyPk: string, rk: string): Promise<Row<T> | undefined> {
    for (let attempt = 0; ; attempt++) {
      const row = await getEntityOrUndefined<T>(this.table, pk, rk);
      if (row) return row;
      if (!(await this.mayExist())) return undefined;
      const legacy = await getEntityOrUndefined<T>(this.table, legacyPk, rk);
      if (!legacy) return getEntityOrUndefined<T>(this.table, pk, rk);
      const moved = await moveRow<T>(this.table, legacy, pk);
      if (moved || attempt >= 3) return moved;
    }
  }

  /**
   * Before a writer creates a row at the new place: moves the legacy row of the same key, if any, so the
   * create meets it (409) instead of making a second one beside it. One read until migrated (plus the
   * move on a hit), nothing after. Nothing writes legacy rows, so once absent it stays absent.
   */
  async settle(pk: string, legacyPk: string, rk: string): Promise<void> {
    if (!(await this.mayExist())) return;
    for (let attempt = 0; attempt < 4; attempt++) {
      const legacy = await getEntityOrUndefined<Record<string, unknown>>(this.table, legacyPk, rk);
      if (!legacy || (await moveRow(this.table, legacy, pk))) return;
    }
  }

  /**
   * The maintenance timer's part: moves up to `max` legacy rows (source by source) and, once none is
   * left, writes the marker. A legacy row whose copy already exists at the new place (its mover crashed
   * between create and delete) is deleted once the copy is older than `STRANDED_MS` (so no mover is
   * still on its way to delete it).
   */
  async run(max = 2000): Promise<MigrationResult> {
    let moved = 0;
    let taken = 0;
    for (const { filter, target } of this.sources) {
      const budget = max - taken;
      if (budget <= 0) break;
      const rows: Row<Record<string, unknown>>[] = [];
      const pages = this.table
        .listEntities<Record<string, unknown>>({ queryOptions: { filter } })
        .byPage({ maxPageSize: Math.min(1000, budget) });
      for await (const page of pages) {
        rows.push(...(page as Row<Record<string, unknown>>[]));
        if (rows.length >= budget) break;
      }
      rows.splice(budget);
      taken += rows.length;
      for (let i = 0; i < rows.length; i += 16) {
        const counts = await Promise.all(
          rows.slice(i, i + 16).map((row) => this.migrateRow(row, target(row))),
        );
        moved += counts.reduce((a, b) => a + b, 0);
      }
    }
    return { moved, migrated: await this.markIfEmpty() };
  }

  /**
   * Writes the marker when no legacy row is left (one keys-only query of one row per source, in
   * parallel). Nothing writes legacy rows any more, so once gone they stay gone.
   */
  private async markIfEmpty(): Promise<boolean> {
    const left = await Promise.all(this.sources.map((s) => this.hasRows(s.filter)));
    if (left.some(Boolean)) return false;
    await this.markerTable.upsertEntity(
      { partitionKey: META_PARTITION, rowKey: this.markerRow, at: new Date(this.now()).toISOString() },
      'Replace',
    );
    this.migrated = true;
    return true;
  }

  /**
   * Whether any row matches (keys only). Table Storage may answer an empty page that carries a
   * continuation token, so pages are read until a row or the end.
   */
  private async hasRows(filter: string): Promise<boolean> {
    const pages = this.table
      .listEntities({ queryOptions: { filter, select: ['RowKey'] } })
      .byPage({ maxPageSize: 1 });
    for await (const page of pages) if (page.length > 0) return true;
    return false;
  }

  private async migrateRow(row: Row<Record<string, unknown>>, pk: string): Promise<number> {
    const existing = await getEntityOrUndefined<Record<string, unknown>>(this.table, pk, row.rowKey);
    if (!existing) return (await moveRow(this.table, row, pk)) ? 1 : 0;
    const writtenAt = Date.parse(String(existing.timestamp ?? ''));
    if (!(this.now() - writtenAt > STRANDED_MS)) return 0;
    try {
      await this.table.deleteEntity(row.partitionKey, row.rowKey, { etag: row.etag });
      return 1;
    } catch (err) {
      if (isNotFound(err) || isPreconditionFailed(err)) return 0;
      throw err;
    }
  }
}
