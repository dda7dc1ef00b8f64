import { randomBytes } from 'node:crypto';
import type { TableClient } from '@azure/data-tables';
import type { Clock } from './clock.ts';
import type { Logger } from './log.ts';

/**
 * Audit events (SECURITY.md AU1/AU2): structured, UTC, one row each in the AuditEvents table.
 * PartitionKey is the month (`m202611`), RowKey an inverted timestamp, so a partition lists newest
 * first. Values are names and ids, never secrets: `changedFields` holds field names only.
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

export interface AuditEvent extends AuditEventInput {
  id: string;
  time: string;
}

const MAX_TIME = 9_999_999_999_999;

export function auditPartition(ms: number): string {
  const d = new Date(ms);
  return `m${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
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
    const id = auditRowKey(ms, randomBytes(6).toString('hex'));
    const event: AuditEvent = { ...input, id, time: new Date(ms).toISOString() };
    await this.table.createEntity({
      partitionKey: auditPartition(ms),
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
