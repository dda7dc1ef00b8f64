/**
 * The back-channel logout queue (docs/security.md OP13): one row per ended broker session in
 * OidcStore's partition `bcl`, written when the session ends (beside the session row's delete, so a
 * sign-out costs no extra round trip and never waits for an application), drained after the request
 * answered and by the maintenance timer. The row survives an instance restart: a logout is only lost
 * when every retry within its window failed (each attempt audited).
 *
 * A row is claimed before it is worked on (its next attempt moved past a lease, conditional on its
 * etag), so two instances never deliver the same logout at once.
 */
import { randomUUID } from 'node:crypto';
import type { TableClient } from '@azure/data-tables';
import type { Clock } from '../core/clock.ts';
import { isNotFound, isPreconditionFailed, odataString } from '../storage/tables.ts';

const PARTITION = 'bcl';
/** How long a queued logout is kept trying (then dropped; the maintenance purge frees the row). */
export const LOGOUT_WINDOW_MS = 24 * 3600_000;
/** How long a claim keeps other drainers off a row. */
const CLAIM_MS = 60_000;

/** One application's logout token still to deliver. */
export interface PendingLogout {
  clientId: string;
  sub: string;
  sid: string;
}

export interface QueuedLogout {
  id: string;
  username: string;
  sessionId: string;
  /** Undefined until the session's grants were looked up (the first drain does it). */
  pending?: PendingLogout[];
  attempts: number;
  createdAt: number;
  etag: string;
}

interface Row {
  u: string;
  s: string;
  pending?: string;
  attempts: number;
  createdAt: string;
  nextAt: string;
  expiresAtIso: string;
}

const iso = (ms: number) => new Date(ms).toISOString();

export class LogoutQueue {
  private listener?: () => void;

  constructor(
    private readonly table: TableClient,
    private readonly clock: Clock,
  ) {}

  /** Called after every enqueue (the OP drains the queue once the request answered). */
  whenEnqueued(listener: () => void): void {
    this.listener = listener;
  }

  /** Queues the logouts of an ended broker session. */
  async sessionEnded(username: string, sessionId: string): Promise<void> {
    const now = this.clock.now();
    const row: Row = {
      u: username,
      s: sessionId,
      attempts: 0,
      createdAt: iso(now),
      nextAt: iso(now),
      expiresAtIso: iso(now + LOGOUT_WINDOW_MS),
    };
    await this.table.createEntity({ partitionKey: PARTITION, rowKey: randomUUID(), ...row });
    this.listener?.();
  }

  /** Rows whose next attempt is due, claimed for this caller (at most `limit`). */
  async claimDue(limit: number): Promise<QueuedLogout[]> {
    const now = this.clock.now();
    const filter = `PartitionKey eq ${odataString(PARTITION)} and nextAt le ${odataString(iso(now))}`;
    const claimed: QueuedLogout[] = [];
    const due: (Row & { rowKey: string; etag: string })[] = [];
    for await (const page of this.table
      .listEntities<Row>({ queryOptions: { filter } })
      .byPage({ maxPageSize: limit })) {
      for (const e of page) due.push(e as Row & { rowKey: string; etag: string });
      break;
    }
    await Promise.all(
      due.slice(0, limit).map(async (e) => {
        try {
          const res = await this.table.updateEntity(
            { partitionKey: PARTITION, rowKey: e.rowKey, nextAt: iso(now + CLAIM_MS) },
            'Merge',
            { etag: e.etag },
          );
          claimed.push({
            id: e.rowKey,
            username: e.u,
            sessionId: e.s,
            ...(e.pending ? { pending: JSON.parse(e.pending) as PendingLogout[] } : {}),
            attempts: Number(e.attempts) || 0,
            createdAt: Date.parse(e.createdAt),
            etag: res.etag ?? '',
          });
        } catch (err) {
          if (!isPreconditionFailed(err) && !isNotFound(err)) throw err;
        }
      }),
    );
    return claimed;
  }

  /** What is left of a claimed row, due again at `nextAt`. */
  async retryLater(q: QueuedLogout, pending: PendingLogout[], nextAt: number): Promise<void> {
    await this.table.updateEntity(
      {
        partitionKey: PARTITION,
        rowKey: q.id,
        pending: JSON.stringify(pending),
        attempts: q.attempts + 1,
        nextAt: iso(nextAt),
      },
      'Merge',
      { etag: q.etag },
    );
  }

  /** A row done with (every logout delivered, or its window over). */
  async remove(q: QueuedLogout): Promise<void> {
    try {
      await this.table.deleteEntity(PARTITION, q.id);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}
