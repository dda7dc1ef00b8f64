import type { TableClient } from '@azure/data-tables';
import { z } from 'zod';
import { ValidationError } from '../core/errors.ts';
import { PartitionMerge } from '../storage/partition-merge.ts';
import { odataString } from '../storage/tables.ts';
import { AUDIT_SHARDS, auditMonth, auditMonthPartitions, auditRowKey } from './log.ts';

/**
 * Lists audit events newest first (GET /api/manage/audit). A month is 16 shard partitions, all with
 * RowKeys (inverted timestamp + random suffix) that sort newest first and are unique across them.
 * A page walks the months from `to` back to `from` (or to the oldest month that has any event), reads a
 * month's shards in parallel with the RowKey range and type filtered server-side, and merges them by
 * RowKey. The cursor is opaque (base64url JSON: the month and the last RowKey returned).
 */

export const AUDIT_DEFAULT_LIMIT = 100;
export const AUDIT_MAX_LIMIT = 500;
/**
 * Months one request reads at most before answering a (possibly short or empty) page with a cursor: each
 * month is one parallel round of 16 queries (its shards), so a page costs at most 12 rounds / 192
 * queries plus refills of an unevenly filled shard, whatever the data.
 */
export const AUDIT_MAX_MONTHS_PER_PAGE = 12;

const TYPE = /^[A-Za-z0-9_.-]{1,100}$/;

const isoInstant = z
  .string()
  .max(40)
  .refine((v) => z.iso.datetime({ offset: true }).safeParse(v).success || z.iso.date().safeParse(v).success, {
    message: 'must be an ISO 8601 date or date-time',
  });

export const auditQuerySchema = z
  .object({
    from: isoInstant.optional(),
    to: isoInstant.optional(),
    type: z
      .string()
      .regex(
        TYPE,
        'must be an event type such as admin.user.created, or a prefix ending in "." such as admin.',
      )
      .optional(),
    limit: z
      .string()
      .regex(/^\d{1,4}$/, 'must be a whole number')
      .transform(Number)
      .pipe(z.number().int().min(1).max(AUDIT_MAX_LIMIT, `must be at most ${AUDIT_MAX_LIMIT}`))
      .optional(),
    cursor: z.string().max(400, 'is not a valid cursor').optional(),
  })
  .strict();
export type AuditQuery = z.output<typeof auditQuerySchema>;

export const auditEventSchema = z.object({
  id: z.string(),
  time: z.string(),
  type: z.string(),
  actor: z.string(),
  target: z.string(),
  outcome: z.enum(['success', 'failure']),
  changedFields: z.array(z.string()),
  reason: z.string(),
  correlationId: z.string(),
  clientAddress: z.string(),
  securityRelevant: z.boolean(),
  details: z.record(z.string(), z.unknown()),
});
export type AuditEventView = z.output<typeof auditEventSchema>;
export const auditPageSchema = z.object({
  items: z.array(auditEventSchema),
  nextCursor: z.string().nullable(),
});

interface AuditEntity {
  time: string;
  type: string;
  actor: string;
  target: string;
  outcome: string;
  changedFields: string;
  reason: string;
  correlationId: string;
  clientAddress: string;
  securityRelevant: boolean;
  details: string;
}

function parseJson<T>(text: string | undefined, fallback: T): T {
  try {
    return text ? (JSON.parse(text) as T) : fallback;
  } catch {
    return fallback;
  }
}

function toView(e: AuditEntity & { rowKey?: string }): AuditEventView {
  return {
    id: e.rowKey as string,
    time: e.time,
    type: e.type,
    actor: e.actor,
    target: e.target ?? '',
    outcome: e.outcome === 'failure' ? 'failure' : 'success',
    changedFields: parseJson<string[]>(e.changedFields, []),
    reason: e.reason ?? '',
    correlationId: e.correlationId ?? '',
    clientAddress: e.clientAddress ?? '',
    securityRelevant: e.securityRelevant === true,
    details: parseJson<Record<string, unknown>>(e.details, {}),
  };
}

/** A month partition name: `m` + year + month 01–12 (a cursor naming month 00 or 13 is refused). */
const MONTH = /^m(\d{4})(0[1-9]|1[0-2])$/;

/** The month partition before `m` (`m202601` → `m202512`). */
export function previousMonth(m: string): string {
  const match = MONTH.exec(m);
  if (!match) throw new Error('bad month');
  const y = Number(match[1]);
  const mo = Number(match[2]);
  return mo === 1 ? `m${y - 1}12` : `m${y}${String(mo - 1).padStart(2, '0')}`;
}

interface Cursor {
  month: string;
  after: string | null;
}

function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify({ v: 1, m: c.month, a: c.after }), 'utf8').toString('base64url');
}

function decodeCursor(raw: string): Cursor {
  try {
    const v = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as {
      v?: unknown;
      m?: unknown;
      a?: unknown;
    };
    if (
      v.v === 1 &&
      typeof v.m === 'string' &&
      MONTH.test(v.m) &&
      (v.a === null || (typeof v.a === 'string' && /^[0-9a-f-]{1,40}$/.test(v.a)))
    ) {
      return { month: v.m, after: v.a as string | null };
    }
  } catch {
    // fall through
  }
  throw new ValidationError([{ field: 'cursor', message: 'is not a valid cursor' }]);
}

/** The smallest string greater than every string starting with `prefix`. */
function prefixEnd(prefix: string): string {
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}

type AuditRow = AuditEntity & { rowKey?: string };

/** A partition key of the AuditEvents table: the month and its shard (`m202611-7`). */
const AUDIT_PARTITION = /^(m\d{6})-[0-9a-f]$/;

export class AuditQueryService {
  constructor(
    private readonly table: TableClient,
    private readonly now: () => number,
  ) {}

  /**
   * The oldest month that has any event (one keys-only row), or undefined when empty. Partition keys
   * sort by month first (`m202610-f` < `m202611-0`), so the first row's month is the oldest.
   */
  private async oldestMonth(): Promise<string | undefined> {
    const pages = this.table
      .listEntities({ queryOptions: { select: ['PartitionKey'] } })
      .byPage({ maxPageSize: 1 });
    for await (const page of pages) {
      const first = page[0];
      const month = first ? AUDIT_PARTITION.exec(first.partitionKey as string)?.[1] : undefined;
      if (month) return month;
      // An empty first page can carry a continuation; the next page has the row.
    }
    return undefined;
  }

  /**
   * The first `count` events of `month` after the RowKey `after`, newest first: the 16 shards are
   * queried in parallel and merged by RowKey, each asked for about twice its even share; a shard runs
   * dry before the page is full only when the spread is uneven, and is then read again.
   */
  private readMonth(
    month: string,
    filters: string[],
    after: string | null,
    count: number,
  ): Promise<AuditRow[]> {
    const shardPage = Math.min(count, Math.ceil((2 * count) / AUDIT_SHARDS) + 2);
    const filterFor = (pk: string) => {
      const clauses = [`PartitionKey eq ${odataString(pk)}`, ...filters];
      if (after) clauses.push(`RowKey gt ${odataString(after)}`);
      return clauses.join(' and ');
    };
    return new PartitionMerge<AuditEntity>(
      this.table,
      auditMonthPartitions(month),
      filterFor,
      shardPage,
    ).take(count);
  }

  async list(q: AuditQuery): Promise<{ items: AuditEventView[]; nextCursor: string | null }> {
    const limit = q.limit ?? AUDIT_DEFAULT_LIMIT;
    const fromMs = q.from ? Date.parse(q.from) : undefined;
    const toMs = q.to ? Date.parse(q.to) : this.now();
    if (fromMs !== undefined && fromMs > toMs) {
      throw new ValidationError([{ field: 'from', message: 'must not be after to' }]);
    }
    const cursor = q.cursor ? decodeCursor(q.cursor) : { month: auditMonth(toMs), after: null };
    const oldest = await this.oldestMonth();
    if (!oldest) return { items: [], nextCursor: null };
    const floor = fromMs !== undefined && auditMonth(fromMs) > oldest ? auditMonth(fromMs) : oldest;

    // RowKey range: inverted timestamps, so `to` gives the lowest key and `from` the highest.
    const filters = [`RowKey ge ${odataString(auditRowKey(toMs, ''))}`];
    if (fromMs !== undefined) filters.push(`RowKey le ${odataString(auditRowKey(fromMs, '~'))}`);
    if (q.type) {
      filters.push(
        q.type.endsWith('.')
          ? `type ge ${odataString(q.type)} and type lt ${odataString(prefixEnd(q.type))}`
          : `type eq ${odataString(q.type)}`,
      );
    }

    const items: AuditEventView[] = [];
    let month = cursor.month;
    let after = cursor.after;
    for (let visited = 0; month >= floor; visited++) {
      if (visited === AUDIT_MAX_MONTHS_PER_PAGE) {
        // Bounded work per request: answer what was found so far, the cursor resumes at this month.
        return { items, nextCursor: encodeCursor({ month, after }) };
      }
      const want = limit - items.length;
      // One more than needed tells whether the month goes on after this page.
      const rows = await this.readMonth(month, filters, after, want + 1);
      items.push(...rows.slice(0, want).map(toView));
      if (rows.length > want) {
        // RowKeys are unique and ordered across the shards: resuming after the last one has no gap or repeat.
        return { items, nextCursor: encodeCursor({ month, after: items.at(-1)?.id ?? null }) };
      }
      month = previousMonth(month);
      after = null;
      if (items.length === limit) {
        return { items, nextCursor: month >= floor ? encodeCursor({ month, after: null }) : null };
      }
    }
    return { items, nextCursor: null };
  }
}
