/**
 * Anonymous noise in the audit (docs/security.md RL1): a failure that names no known user or client
 * (an invalid callback, a bad redirect URI, an unknown integration, a refusal by a limit) costs no
 * storage write of its own. Each one is still logged as an audit record (the log, not the table: the
 * monitoring alerts on sign-in failures read it). It is counted in memory per (type, reason, address,
 * window); one summary
 * event per key and window, with the count, is written later (`flush`, run by a timer of the instance
 * and by the maintenance timer), so a burst of a thousand refused requests costs one row, not a
 * thousand, and the request that is refused never waits for a write.
 *
 * Each instance writes its own summary row (its id is part of the row key) and replaces it with its
 * running count, so instances never race on one row; a reader adds the rows of one window up. Counts
 * an instance had not flushed when it stopped are lost: the summary is an upper-level signal, the
 * per-request detail is in the logs.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { TableClient } from '@azure/data-tables';
import type { Clock } from '../core/clock.ts';
import type { Logger } from '../core/log.ts';
import { addressBucket } from '../limits/throttle.ts';
import { auditPartition, auditRowKey } from './log.ts';

/** A summary covers this long. */
export const NOISE_WINDOW_MS = 10 * 60_000;
/** Unwritten counts are written at most this long after they were counted. */
export const NOISE_FLUSH_MS = 60_000;
/** Keys an instance keeps at most; beyond it, new keys are dropped until the next flush (logged). */
const MAX_KEYS = 10_000;

export interface NoiseEvent {
  /** The event type the single event would have had, e.g. `signin.failed`. */
  type: string;
  reason: string;
  clientAddress: string;
  /** What the requests aimed at, when it is not secret (`oidc`, `application:<id>`). */
  target?: string;
  /** The request's correlation id (logged with the record, not part of the summary). */
  correlationId?: string;
}

interface Tally {
  event: NoiseEvent & { bucket: string };
  windowStart: number;
  count: number;
  /** The count last written (a row already holds it). */
  written: number;
}

export class AuditNoise {
  private readonly tallies = new Map<string, Tally>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private flushing: Promise<void> | undefined;
  private readonly instance = randomBytes(6).toString('hex');

  constructor(
    private readonly table: TableClient,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  /** Counts one failure; no write now. */
  count(event: NoiseEvent): void {
    const { correlationId, ...counted } = event;
    this.log.info('audit', {
      audit: {
        ...counted,
        actor: 'anonymous',
        outcome: 'failure',
        ...(correlationId ? { correlationId } : {}),
      },
    });
    const bucket = addressBucket(event.clientAddress || 'unknown');
    const windowStart = Math.floor(this.clock.now() / NOISE_WINDOW_MS) * NOISE_WINDOW_MS;
    const key = [event.type, event.reason, bucket, event.target ?? '', windowStart].join('\n');
    let tally = this.tallies.get(key);
    if (!tally) {
      if (this.tallies.size >= MAX_KEYS) {
        this.log.warn('audit.noise_dropped', { type: event.type, reason: event.reason });
        return;
      }
      tally = { event: { ...counted, bucket }, windowStart, count: 0, written: 0 };
      this.tallies.set(key, tally);
    }
    tally.count++;
    this.schedule();
  }

  /** The counts not yet written, per type and reason (tests, the maintenance log). */
  pending(): number {
    let n = 0;
    for (const t of this.tallies.values()) n += t.count - t.written;
    return n;
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush().catch((err: unknown) => this.log.error('audit.noise_flush_failed', { error: err }));
    }, NOISE_FLUSH_MS);
    this.timer.unref?.();
  }

  /** Writes every summary whose count changed since its last write; forgets windows that ended. */
  async flush(): Promise<void> {
    if (this.flushing) await this.flushing;
    this.flushing = this.writeAll().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  private async writeAll(): Promise<void> {
    const now = this.clock.now();
    const due = [...this.tallies.entries()].filter(([, t]) => t.count > t.written);
    const results = await Promise.allSettled(
      due.map(async ([, t]) => {
        const count = t.count;
        await this.write(t, count);
        t.written = count;
      }),
    );
    for (const [key, t] of this.tallies) {
      if (t.windowStart + NOISE_WINDOW_MS <= now && t.count === t.written) this.tallies.delete(key);
    }
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  private write(t: Tally, count: number): Promise<unknown> {
    const e = t.event;
    // One row per key, window and instance: the suffix is a hash of them, so a later flush replaces it.
    const suffix = createHash('sha256')
      .update([e.type, e.reason, e.bucket, e.target ?? '', t.windowStart, this.instance].join('\n'))
      .digest('hex')
      .slice(0, 12);
    const windowEnd = t.windowStart + NOISE_WINDOW_MS;
    return this.table.upsertEntity(
      {
        partitionKey: auditPartition(t.windowStart, suffix),
        rowKey: auditRowKey(t.windowStart, suffix),
        time: new Date(t.windowStart).toISOString(),
        type: e.type,
        actor: 'anonymous',
        target: e.target ?? '',
        outcome: 'failure',
        changedFields: '[]',
        reason: e.reason,
        correlationId: '',
        clientAddress: e.bucket,
        securityRelevant: false,
        details: JSON.stringify({
          summary: true,
          count,
          windowStart: new Date(t.windowStart).toISOString(),
          windowEnd: new Date(windowEnd).toISOString(),
        }),
      },
      'Replace',
    );
  }
}
