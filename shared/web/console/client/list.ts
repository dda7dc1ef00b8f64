/** A page listing what the API pages with a cursor: a filter form, the table, and the pager. */
import type { Result } from './api.ts';
import { problem } from './feedback.ts';
import { show } from './page.ts';
import type { Page } from './types.ts';
import { pager, tableOr } from './widgets.ts';

export function showFilteredList<T>(
  title: string,
  /** What comes above the table: the filter form (and any link beside it). */
  filters: Node,
  r: Result<Page<T>>,
  params: URLSearchParams,
  table: { headers: string[]; row: (item: T) => HTMLTableRowElement; none: string },
): void {
  if (r.ok) {
    const { items, nextCursor } = r.body;
    show(title, filters, tableOr(table.headers, items, table.row, table.none), pager(params, nextCursor));
  } else {
    show(title, filters, problem(r));
  }
}
