import { randomBytes } from 'node:crypto';
import type { TableClient } from '@azure/data-tables';
import type { Clock } from '../core/clock.ts';
import type { Logger } from '../core/log.ts';

/**
 * Audit events (docs/security.md AU1/AU2): structured, UTC, one row each in the AuditEvents table.
 * PartitionKey is the month plus a shard (`m202611-7`, 16 shards `0`..`f` taken from the event's random
 * suffix, so a month's inserts spread evenly and no single partition caps sign-ins); RowKey an inverted
 * timestamp plus that suffix, unique and ordered across shards, so each partition lists newest first and
 * a reader merges the shards by RowKey (audit/query.ts).
 * Values are names and ids, never secrets: `changedFields` holds field names only.
 */

export interface AuditEventInput {
  /** Dotted type, e.g. `admin.token.created`, `signin.succeeded`. */
  type: string;
  /** Who did it: an admin token's name, a username, or `system`. */
  actor: string;
  /** What was acted on, e.g. `integration:<id>`, `user:<username>`. */
  target?: string;
  outcome?: 'success' | 'failure';
  /** Names of the fields that changed (never their values). */
  changedFields?: string[];
  /** A stable reason code for failures. */
  reason?: string;
  correlationId?: string;
  clientAddress?: string;
  /** Marks changes that weaken security (e.g. turning on Allow OAuth Passwords). */
  securityRelevant?: boolean;
  /** Extra non-secret details (ids, method, integration). */
  details?: Record<string, string | number | boolean | null>;
}

/** Request details recorded with the audit event of a change (`ChangeContext` of the services). */
export interface ChangeContext {
  correlationId?: string;
  clientAddress?: string;
}

export interface AuditEvent extends AuditEventInput {
  id: string;
  time: string;
}

const MAX_TIME = 9_999_999_999_999;

/** Shards per month: a partition takes ~2,000 inserts/s, so 16 carry ~32,000/s, above the account's 20,000. */
export const AUDIT_SHARDS = 16;

/** The month of `ms` (`m202611`): the prefix of its shards. */
export function auditMonth(ms: number): string {
  const d = new Date(ms);
  return `m${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
}

/** The partition an event goes to: its month and the shard named by its suffix's first hex digit. */
export function auditPartition(ms: number, suffix: string): string {
  const shard = suffix.charAt(0);
  return `${auditMonth(ms)}-${/^[0-9a-f]$/.test(shard) ? shard : '0'}`;
}

/** Every partition a month's events can be in: its 16 shards. */
export function auditMonthPartitions(month: string): string[] {
  return Array.from({ length: AUDIT_SHARDS }, (_, i) => `${month}-${i.toString(16)}`);
}

export function auditRowKey(ms: number, suffix: string): string {
  return `${String(MAX_TIME - ms).padStart(13, '0')}-${suffix}`;
}

export class AuditLog {
  constructor(
    readonly table: TableClient,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  async record(input: AuditEventInput): Promise<AuditEvent> {
    const ms = this.clock.now();
    const suffix = randomBytes(6).toString('hex');
    const id = auditRowKey(ms, suffix);
    const event: AuditEvent = { ...input, id, time: new Date(ms).toISOString() };
    await this.table.createEntity({
      partitionKey: auditPartition(ms, suffix),
      rowKey: id,
      time: event.time,
      type: input.type,
      actor: input.actor,
      target: input.target ?? '',
      outcome: input.outcome ?? 'success',
      changedFields: JSON.stringify(input.changedFields ?? []),
      reason: input.reason ?? '',
      correlationId: input.correlationId ?? '',
      clientAddress: input.clientAddress ?? '',
      securityRelevant: input.securityRelevant ?? false,
      details: JSON.stringify(input.details ?? {}),
    });
    this.log.info('audit', { audit: event });
    return event;
  }
}
