import type { TableClient, TableEntityResult } from '@azure/data-tables';

/**
 * Reads several partitions' key-ordered query results as one stream in RowKey order (a k-way merge),
 * so a listing over hashed or sharded partitions (users, audit events) never reads the whole table.
 * Each partition is read page by page, a page only when its next row is needed; all partitions whose
 * buffer ran dry are read in parallel.
 */
export class PartitionMerge<T extends object> {
  private readonly streams: {
    pages: AsyncIterator<TableEntityResult<T>[]>;
    buf: TableEntityResult<T>[];
    done: boolean;
  }[];

  constructor(
    table: TableClient,
    partitions: readonly string[],
    filterFor: (pk: string) => string,
    pageSize: number,
  ) {
    this.streams = partitions.map((pk) => ({
      pages: table
        .listEntities<T>({ queryOptions: { filter: filterFor(pk) } })
        .byPage({ maxPageSize: pageSize })
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

  /** The next row in RowKey order, or undefined at the end of every partition. */
  async next(): Promise<TableEntityResult<T> | undefined> {
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
    return best?.buf.shift();
  }

  /** The next `count` rows in RowKey order (fewer at the end of every partition). */
  async take(count: number): Promise<TableEntityResult<T>[]> {
    const out: TableEntityResult<T>[] = [];
    while (out.length < count) {
      const row = await this.next();
      if (!row) break;
      out.push(row);
    }
    return out;
  }
}
