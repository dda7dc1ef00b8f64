import type { TableClient } from '@azure/data-tables';
import { z } from 'zod';
import { auditPartition, auditRowKey } from './audit.ts';
import { ValidationError } from './errors.ts';
import { odataString } from './storage/tables.ts';

/**
 * Lists audit events newest first (GET /api/manage/audit). Each month is one partition whose RowKeys
 * (inverted timestamps) sort newest first, so a page walks the month partitions from `to` back to
 * `from` (or to the oldest month that has any event), filtering server-side on the RowKey range and
 * the type. The cursor is opaque (base64url JSON: the month and the last RowKey returned).
 */

export const AUDIT_DEFAULT_LIMIT = 100;
export const AUDIT_MAX_LIMIT = 500;
/** Empty month partitions one request walks at most before answering a (possibly empty) page with a cursor. */
export const AUDIT_MAX_MONTHS_PER_PAGE = 36;

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

const MONTH = /^m(\d{4})(\d{2})$/;

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

export class AuditQueryService {
  constructor(
    private readonly table: TableClient,
    private readonly now: () => number,
  ) {}

  /** The oldest month partition that has any event (one keys-only row), or undefined when empty. */
  private async oldestMonth(): Promise<string | undefined> {
    const pages = this.table
      .listEntities({ queryOptions: { select: ['PartitionKey'] } })
      .byPage({ maxPageSize: 1 });
    for await (const page of pages) {
      const first = page[0];
      if (first) return first.partitionKey as string;
      // An empty first page can carry a continuation; the next page has the row.
    }
    return undefined;
  }

  async list(q: AuditQuery): Promise<{ items: AuditEventView[]; nextCursor: string | null }> {
    const limit = q.limit ?? AUDIT_DEFAULT_LIMIT;
    const fromMs = q.from ? Date.parse(q.from) : undefined;
    const toMs = q.to ? Date.parse(q.to) : this.now();
    if (fromMs !== undefined && fromMs > toMs) {
      throw new ValidationError([{ field: 'from', message: 'must not be after to' }]);
    }
    const cursor = q.cursor ? decodeCursor(q.cursor) : { month: auditPartition(toMs), after: null };
    const oldest = await this.oldestMonth();
    if (!oldest) return { items: [], nextCursor: null };
    const floor = fromMs !== undefined && auditPartition(fromMs) > oldest ? auditPartition(fromMs) : oldest;

    // RowKey range: inverted timestamps, so `to` gives the lowest key and `from` the highest.
    const lowKey = auditRowKey(toMs, '');
    const highKey = fromMs !== undefined ? auditRowKey(fromMs, '~') : undefined;
    const typeClause = q.type
      ? q.type.endsWith('.')
        ? `type ge ${odataString(q.type)} and type lt ${odataString(prefixEnd(q.type))}`
        : `type eq ${odataString(q.type)}`
      : undefined;

    const items: AuditEventView[] = [];
    let month = cursor.month;
    let after = cursor.after;
    let walked = 0;
    while (month >= floor) {
      const clauses = [`PartitionKey eq ${odataString(month)}`, `RowKey ge ${odataString(lowKey)}`];
      if (after) clauses.push(`RowKey gt ${odataString(after)}`);
      if (highKey) clauses.push(`RowKey le ${odataString(highKey)}`);
      if (typeClause) clauses.push(typeClause);
      const want = limit - items.length;
      const pages = this.table
        .listEntities<AuditEntity>({ queryOptions: { filter: clauses.join(' and ') } })
        .byPage({ maxPageSize: want + 1 });
      let found = 0;
      for await (const page of pages) {
        for (const e of page) {
          found++;
          items.push(toView(e));
        }
        if (items.length > limit) break;
      }
      if (items.length > limit) {
        const page = items.slice(0, limit);
        return { items: page, nextCursor: encodeCursor({ month, after: page.at(-1)?.id ?? null }) };
      }
      if (items.length === limit) {
        // Exactly full: continue in this month after the last item (the next page may be empty).
        return { items, nextCursor: encodeCursor({ month, after: items.at(-1)?.id ?? null }) };
      }
      month = previousMonth(month);
      after = null;
      walked = found === 0 ? walked + 1 : 0;
      if (walked >= AUDIT_MAX_MONTHS_PER_PAGE && month >= floor) {
        return { items, nextCursor: encodeCursor({ month, after: null }) };
      }
    }
    return { items, nextCursor: null };
  }
}
