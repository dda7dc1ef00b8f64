/**
 * Brute-force protection and rate limits in Table Storage, shared by every instance (docs/security.md
 * PW5, RL1). Each counter is one row, keyed by a hash of what it counts (no usernames or addresses in
 * keys), updated with optimistic concurrency so concurrent instances never lose a count.
 */
import { createHash } from 'node:crypto';
import { isIPv6 } from 'node:net';
import type { TableClient } from '@azure/data-tables';
import type { Clock } from '../core/clock.ts';
import {
  deleteEntityIfExists,
  getEntityOrUndefined,
  isConflict,
  isNotFound,
  isPreconditionFailed,
} from '../storage/tables.ts';

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

interface ShardEntity {
  count: number;
  windowStart: number;
  lastAt: number;
}

/** Rows a windowed counter is spread over (RowKeys `s0`…`s7`, next to the backoff row `f`). */
export const SHARDS = 8;
const shardKey = (i: number) => `s${i}`;
/** Shard i's share of a window's limit; the shares add up to the limit exactly. */
const shardCap = (limit: number, i: number) => Math.floor(limit / SHARDS) + (i < limit % SHARDS ? 1 : 0);

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

/** The state of a counter whose block (if any) ends at `blockedUntil`. */
function blockState(blockedUntil: number, now: number): ThrottleState {
  return blockedUntil > now
    ? { blocked: true, retryAfterSeconds: Math.ceil((blockedUntil - now) / 1000) }
    : { blocked: false, retryAfterSeconds: 0 };
}

export class Throttle {
  constructor(
    private readonly table: TableClient,
    private readonly clock: Clock,
  ) {}

  /** Whether `value` (an account or address) is currently blocked. One point read. */
  async state(kind: string, value: string): Promise<ThrottleState> {
    const e = await this.counter(kind, value);
    return blockState(e?.blockedUntil ?? 0, this.clock.now());
  }

  /** A counter's backoff row, if any. One point read. */
  private counter(kind: string, value: string): Promise<CounterEntity | undefined> {
    return getEntityOrUndefined<CounterEntity>(this.table, counterKey(kind, value), 'f');
  }

  /**
   * Reserves one attempt before the work it guards is done (a password check): atomically counts it
   * and refuses it while a block is running, so a burst of parallel guesses cannot all slip past one
   * read of the counter. Past `freeAttempts` each allowed attempt starts the next, longer block. A
   * successful attempt ends with `reset`.
   */
  async reserve(kind: string, value: string, policy: FailurePolicy): Promise<ThrottleState> {
    return this.update(counterKey(kind, value), 'f', (e, now) =>
      // Nothing is counted while a block runs.
      e && e.blockedUntil > now ? null : { ...countFailure(e, now, policy), allowed: true },
    );
  }

  /**
   * `reserve` in one request, no read, when the counter has no row (nothing counted since the last
   * `reset`, the usual case on a sign-in that succeeds): creates it with this attempt counted. Returns
   * the new row's ETag (for `unreserve`), or null when a row exists: then `reserve` decides (it reads
   * the row; a block may be running). Same outcome as `reserve` on a missing row, so the burst bound
   * is the same: a creation conflicts with every other one, and the losers go through `reserve`.
   */
  async reserveIfFresh(kind: string, value: string, policy: FailurePolicy): Promise<string | null> {
    const entity = {
      partitionKey: counterKey(kind, value),
      rowKey: 'f',
      ...countFailure(undefined, this.clock.now(), policy),
    };
    try {
      return (await this.table.createEntity(entity)).etag ?? '';
    } catch (err) {
      if (isConflict(err)) return null;
      throw err;
    }
  }

  /**
   * Takes back a `reserveIfFresh` whose attempt was refused for another reason (never checked): deletes
   * the row it created unless another attempt has counted on it since (then the count stays: fail closed).
   */
  async unreserve(kind: string, value: string, etag: string): Promise<void> {
    try {
      await this.table.deleteEntity(counterKey(kind, value), 'f', { etag });
    } catch (err) {
      if (!isPreconditionFailed(err) && !isNotFound(err)) throw err;
    }
  }

  /**
   * The backoff row of a counter many people share (see limits/password-limits.ts): a block
   * running (with its Retry-After), or escalating (a failure past the free attempts within the last
   * `windowMs`: no free attempts until it is forgotten). One point read.
   */
  async backoff(
    kind: string,
    value: string,
    policy: FailurePolicy,
  ): Promise<ThrottleState & { escalating: boolean }> {
    const e = await this.counter(kind, value);
    const now = this.clock.now();
    return { ...blockState(e?.blockedUntil ?? 0, now), escalating: !!e && now - e.lastAt <= policy.windowMs };
  }

  /** Counts a failure after the fact and returns the resulting state. */
  async recordFailure(kind: string, value: string, policy: FailurePolicy): Promise<ThrottleState> {
    return this.update(counterKey(kind, value), 'f', (e, now) => countFailure(e, now, policy));
  }

  /** Forgets an account's failures (after a successful sign-in). */
  async reset(kind: string, value: string): Promise<void> {
    await deleteEntityIfExists(this.table, counterKey(kind, value), 'f');
  }

  /**
   * Fixed-window rate limit: takes one of `limit` tickets of the current window, or refuses.
   *
   * The tickets are spread over `SHARDS` rows of one partition (shard i holds its share of the limit),
   * so parallel requests from one address rarely write the same row, and each shard enforces its own
   * share with an ETag: the window can never hand out more than `limit` tickets (no slack), however
   * many instances race. A request that keeps losing races is refused with a short Retry-After (fail
   * closed), never let through.
   */
  async hit(kind: string, value: string, policy: RatePolicy): Promise<ThrottleState> {
    const now = this.clock.now();
    const windowStart = Math.floor(now / policy.windowMs) * policy.windowMs;
    const taken = await this.takeTicket(counterKey(kind, value), windowStart, policy.limit);
    if (taken.ok) return { blocked: false, retryAfterSeconds: 0 };
    if (taken.contended) return { blocked: true, retryAfterSeconds: 1 };
    return {
      blocked: true,
      retryAfterSeconds: Math.max(1, Math.ceil((windowStart + policy.windowMs - now) / 1000)),
    };
  }

  /** Every row of a counter's partition (the shards), in one query. */
  private async readPartition(pk: string): Promise<Map<string, ShardEntity & { etag?: string }>> {
    const rows = new Map<string, ShardEntity & { etag?: string }>();
    for await (const row of this.table.listEntities<ShardEntity>({
      queryOptions: { filter: `PartitionKey eq '${pk}'` },
    })) {
      rows.set(row.rowKey as string, row);
    }
    return rows;
  }

  /**
   * Takes one ticket of a window: one partition query reads every shard, then one conditional write
   * takes a ticket from a random shard that still has one. Lost races read again.
   */
  private async takeTicket(
    pk: string,
    windowStart: number,
    limit: number,
  ): Promise<{ ok: true; rk: string } | { ok: false; contended: boolean }> {
    for (let attempt = 0; attempt < 16; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, Math.random() * 5 * Math.min(attempt, 6)));
      const shards = await this.readPartition(pk);
      const open: { rk: string; count: number; etag: string | undefined }[] = [];
      for (let i = 0; i < SHARDS; i++) {
        const rk = shardKey(i);
        const e = shards.get(rk);
        const count = e && e.windowStart === windowStart ? e.count : 0;
        if (count < shardCap(limit, i)) open.push({ rk, count, etag: e?.etag });
      }
      const pick = open[Math.floor(Math.random() * open.length)];
      if (!pick) return { ok: false, contended: false };
      const entity = {
        partitionKey: pk,
        rowKey: pick.rk,
        count: pick.count + 1,
        windowStart,
        lastAt: this.clock.now(),
      };
      try {
        if (pick.etag) await this.table.updateEntity(entity, 'Replace', { etag: pick.etag });
        else await this.table.createEntity(entity);
        return { ok: true, rk: pick.rk };
      } catch (err) {
        if (isPreconditionFailed(err) || isConflict(err) || isNotFound(err)) continue;
        throw err;
      }
    }
    return { ok: false, contended: true };
  }

  /**
   * Read-modify-write of one counter row with optimistic concurrency. `next` returns the new row, or
   * null to leave it as it is (and answer with its current state).
   */
  private async update(
    pk: string,
    rk: string,
    next: (e: CounterEntity | undefined, now: number) => (CounterEntity & { allowed?: boolean }) | null,
  ): Promise<ThrottleState> {
    for (let attempt = 0; attempt < 20; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, Math.random() * 10 * Math.min(attempt, 5)));
      const now = this.clock.now();
      const e = await getEntityOrUndefined<CounterEntity>(this.table, pk, rk);
      const proposed = next(e, now);
      if (proposed === null) return blockState(e?.blockedUntil ?? 0, now);
      const { allowed, ...value } = proposed;
      try {
        if (e) {
          await this.table.updateEntity({ partitionKey: pk, rowKey: rk, ...value }, 'Replace', {
            etag: e.etag,
          });
        } else {
          await this.table.createEntity({ partitionKey: pk, rowKey: rk, ...value });
        }
        return allowed ? { blocked: false, retryAfterSeconds: 0 } : blockState(value.blockedUntil, now);
      } catch (err) {
        // Another instance counted first (412/409), or a reset deleted the row meanwhile (404): again.
        if (isPreconditionFailed(err) || isConflict(err) || isNotFound(err)) continue;
        throw err;
      }
    }
    // Heavy contention on one counter: failures are never dropped silently, and nothing is let
    // through unchecked: blocked briefly.
    return { blocked: true, retryAfterSeconds: 1 };
  }
}
