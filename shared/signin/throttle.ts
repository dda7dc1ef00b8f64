/**
 * Brute-force protection and rate limits in Table Storage, shared by every instance (SECURITY.md
 * PW5, RL1). Each counter is one row, keyed by a hash of what it counts (no usernames or addresses in
 * keys), updated with optimistic concurrency so concurrent instances never lose a count.
 */
import { createHash } from 'node:crypto';
import { isIPv6 } from 'node:net';
import type { TableClient } from '@azure/data-tables';
import type { Clock } from '../clock.ts';
import { getEntityOrUndefined, isConflict, isNotFound, isPreconditionFailed } from '../storage/tables.ts';

export interface FailurePolicy {
  /** Failures tolerated before a block starts. */
  freeAttempts: number;
  /** Failures are forgotten after this long without one. */
  windowMs: number;
  /** First block; doubles with each further failure. */
  baseBlockMs: number;
  maxBlockMs: number;
}

export interface RatePolicy {
  limit: number;
  windowMs: number;
}

/** Per account: 5 free failures, then 15 s, 30 s, 1 min … up to 15 min. */
export const ACCOUNT_POLICY: FailurePolicy = {
  freeAttempts: 5,
  windowMs: 15 * 60_000,
  baseBlockMs: 15_000,
  maxBlockMs: 15 * 60_000,
};
/** Per client address: many users may share one (NAT), so more room before blocking. */
export const ADDRESS_POLICY: FailurePolicy = {
  freeAttempts: 30,
  windowMs: 15 * 60_000,
  baseBlockMs: 30_000,
  maxBlockMs: 30 * 60_000,
};

interface CounterEntity {
  count: number;
  windowStart: number;
  lastAt: number;
  blockedUntil: number;
}

export interface ThrottleState {
  blocked: boolean;
  retryAfterSeconds: number;
}

/**
 * The unit an address limit counts: an IPv4 address, or an IPv6 /64 (one subscriber usually holds a
 * whole /64, so counting single IPv6 addresses would let one attacker rotate past every limit).
 */
export function addressBucket(address: string): string {
  if (!isIPv6(address)) return address;
  // IPv4-mapped / -compatible IPv6 (::ffff:a.b.c.d, ::a.b.c.d) is the IPv4 address itself.
  const v4 = /^::(?:ffff:)?(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (v4?.[1]) return v4[1];
  const [head = '', tail = ''] = address.toLowerCase().split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = address.includes('::')
    ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right]
    : left;
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

/** The row key of a counter (a hash: no usernames or addresses in the table's keys). */
export const counterKey = (kind: string, value: string) =>
  createHash('sha256').update(`${kind}\u0000${value.toLowerCase()}`).digest('hex');

/** One more failure on a counter: a new window after `windowMs` of quiet, doubling blocks past the free ones. */
function countFailure(e: CounterEntity | undefined, now: number, policy: FailurePolicy): CounterEntity {
  const fresh = !e || now - e.lastAt > policy.windowMs;
  const count = fresh ? 1 : e.count + 1;
  const over = count - policy.freeAttempts;
  const blockMs = over > 0 ? Math.min(policy.maxBlockMs, policy.baseBlockMs * 2 ** (over - 1)) : 0;
  return {
    count,
    windowStart: fresh ? now : (e?.windowStart ?? now),
    lastAt: now,
    blockedUntil: blockMs > 0 ? now + blockMs : 0,
  };
}

export class Throttle {
  constructor(
    private readonly table: TableClient,
    private readonly clock: Clock,
  ) {}

  /** Whether `value` (an account or address) is currently blocked. One point read. */
  async state(kind: string, value: string): Promise<ThrottleState> {
    const e = await getEntityOrUndefined<CounterEntity>(this.table, counterKey(kind, value), 'f');
    const now = this.clock.now();
    if (!e || e.blockedUntil <= now) return { blocked: false, retryAfterSeconds: 0 };
    return { blocked: true, retryAfterSeconds: Math.ceil((e.blockedUntil - now) / 1000) };
  }

  /**
   * Reserves one attempt before the work it guards is done (a password check): atomically counts it
   * and refuses it while a block is running, so a burst of parallel guesses cannot all slip past one
   * read of the counter. Past `freeAttempts` each allowed attempt starts the next, longer block. A
   * successful attempt ends with `reset`.
   */
  async reserve(kind: string, value: string, policy: FailurePolicy): Promise<ThrottleState> {
    return this.update(counterKey(kind, value), 'f', 'block', (e, now) =>
      // Nothing is counted while a block runs.
      e && e.blockedUntil > now ? null : { ...countFailure(e, now, policy), allowed: true },
    );
  }

  /** Counts a failure after the fact and returns the resulting state. */
  async recordFailure(kind: string, value: string, policy: FailurePolicy): Promise<ThrottleState> {
    return this.update(counterKey(kind, value), 'f', 'block', (e, now) => countFailure(e, now, policy));
  }

  /** Forgets an account's failures (after a successful sign-in). */
  async reset(kind: string, value: string): Promise<void> {
    try {
      await this.table.deleteEntity(counterKey(kind, value), 'f');
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  /** Fixed-window rate limit: counts this request and says whether it is over the limit. */
  async hit(kind: string, value: string, policy: RatePolicy): Promise<ThrottleState> {
    const now = this.clock.now();
    const window = Math.floor(now / policy.windowMs);
    // One row per key: a new window resets it, so counters never pile up in the table. Under heavy
    // contention on one row (many users behind one address) the request is let through: this is a
    // rate limit, not the brute-force guard, which never fails open.
    return this.update(counterKey(kind, value), 'w', 'allow', (e, t) => {
      const count = e && e.windowStart === window * policy.windowMs ? e.count + 1 : 1;
      return {
        count,
        windowStart: window * policy.windowMs,
        lastAt: t,
        blockedUntil: count > policy.limit ? (window + 1) * policy.windowMs : 0,
      };
    });
  }

  /**
   * Read-modify-write of one counter row with optimistic concurrency. `next` returns the new row, or
   * null to leave it as it is (and answer with its current state).
   */
  private async update(
    pk: string,
    rk: string,
    onContention: 'allow' | 'block',
    next: (e: CounterEntity | undefined, now: number) => (CounterEntity & { allowed?: boolean }) | null,
  ): Promise<ThrottleState> {
    const stateOf = (blockedUntil: number, now: number): ThrottleState =>
      blockedUntil > now
        ? { blocked: true, retryAfterSeconds: Math.ceil((blockedUntil - now) / 1000) }
        : { blocked: false, retryAfterSeconds: 0 };
    for (let attempt = 0; attempt < 20; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, Math.random() * 10 * Math.min(attempt, 5)));
      const now = this.clock.now();
      const e = await getEntityOrUndefined<CounterEntity>(this.table, pk, rk);
      const proposed = next(e, now);
      if (proposed === null) return stateOf(e?.blockedUntil ?? 0, now);
      const { allowed, ...value } = proposed;
      try {
        if (e) {
          await this.table.updateEntity({ partitionKey: pk, rowKey: rk, ...value }, 'Replace', {
            etag: e.etag,
          });
        } else {
          await this.table.createEntity({ partitionKey: pk, rowKey: rk, ...value });
        }
        return allowed ? { blocked: false, retryAfterSeconds: 0 } : stateOf(value.blockedUntil, now);
      } catch (err) {
        // Another instance counted first (412/409), or a reset deleted the row meanwhile (404): again.
        if (isPreconditionFailed(err) || isConflict(err) || isNotFound(err)) continue;
        throw err;
      }
    }
    // Heavy contention on one counter: failures are never dropped silently (blocked briefly); a rate
    // limit lets the request through.
    return onContention === 'block'
      ? { blocked: true, retryAfterSeconds: 1 }
      : { blocked: false, retryAfterSeconds: 0 };
  }
}
