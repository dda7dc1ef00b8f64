/**
 * A per-client-address limit that holds under a parallel burst and costs one write, no read, on the
 * success path: a window of `limit` slot rows in one partition (the address's hash and the window),
 * and each attempt takes a slot with a conditional insert. Two attempts can never own one slot, so at
 * most `limit` attempts pass per window — exactly, whatever the concurrency. When the random slots it
 * tries are taken, the attempt lists the window's slots once and tries free ones; when none is left
 * it is refused until the window ends (429 + Retry-After). Near the limit, under contention, an
 * attempt may be refused while a slot is still free (it fails closed, never open).
 *
 * Fixed windows: a burst that straddles two windows can pass 2 × limit. The maintenance timer deletes
 * slot rows of past windows (they sit in the Throttle table).
 *
 * Each instance remembers the slots it took or found taken in the current window and draws its random
 * slots among the others, so an address's later attempts on the same instance do not spend a request
 * on a slot known to be taken (one insert on the success path, not one per earlier attempt). What other
 * instances took is learnt from conflicts, as before.
 */
import type { TableClient } from '@azure/data-tables';
import type { Clock } from '../core/clock.ts';
import { isConflict } from '../storage/tables.ts';
import { counterKey, type RatePolicy, type ThrottleState } from './throttle.ts';

const RANDOM_TRIES = 2;

/**
 * The outcome of `take`: refused (429 + Retry-After), or granted with a way to give the slot back.
 * A refusal says `exhausted` when the window's listing found no free slot (not a lost race).
 */
export type Slot = ThrottleState & { release?: () => Promise<void>; exhausted?: boolean };
const FREE_TRIES = 3;
/** Up to this limit a slot is drawn among the ones not known to be taken; above it, by a few random draws. */
const EXACT_DRAW_MAX = 1024;
const DRAWS = 8;
/** Windows (address × kind) remembered per instance; older windows go first when it is full. */
const KNOWN_MAX = 10_000;

export class SlotLimiter {
  /** Per partition (address, kind and window): the slots this instance knows are taken. */
  private readonly known = new Map<string, Set<number>>();

  constructor(
    private readonly table: TableClient,
    private readonly clock: Clock,
  ) {}

  private knownTaken(partitionKey: string): Set<number> {
    let set = this.known.get(partitionKey);
    if (!set) {
      if (this.known.size >= KNOWN_MAX) {
        // Map order is insertion order: the oldest windows are dropped first.
        for (const key of [...this.known.keys()].slice(0, KNOWN_MAX / 2)) this.known.delete(key);
      }
      set = new Set();
      this.known.set(partitionKey, set);
    }
    return set;
  }

  /** A random slot, avoiding the ones this instance knows are taken when it can. */
  private draw(limit: number, taken: Set<number>): number {
    if (limit <= EXACT_DRAW_MAX && taken.size > 0) {
      const free: number[] = [];
      for (let i = 0; i < limit; i++) if (!taken.has(i)) free.push(i);
      if (free.length > 0) return free[Math.floor(Math.random() * free.length)] as number;
    }
    let slot = Math.floor(Math.random() * limit);
    for (let i = 1; i < DRAWS && taken.has(slot); i++) slot = Math.floor(Math.random() * limit);
    return slot;
  }

  async take(kind: string, value: string, policy: RatePolicy): Promise<Slot> {
    const now = this.clock.now();
    const window = Math.floor(now / policy.windowMs);
    const partitionKey = `${counterKey(`slots:${kind}`, value)}-${window}`;
    const retryAfterSeconds = Math.max(1, Math.ceil(((window + 1) * policy.windowMs - now) / 1000));
    let taken = '';
    const known = this.knownTaken(partitionKey);
    const tryTake = async (slot: number) => {
      const rowKey = String(slot).padStart(5, '0');
      try {
        await this.table.createEntity({ partitionKey, rowKey, at: now });
        taken = rowKey;
        known.add(slot);
        return true;
      } catch (err) {
        if (isConflict(err)) {
          known.add(slot);
          return false;
        }
        throw err;
      }
    };
    const granted = (): Slot => ({
      blocked: false,
      retryAfterSeconds: 0,
      // Gives the slot back (an attempt that turned out not to need one); best effort.
      release: () =>
        this.table.deleteEntity(partitionKey, taken).then(
          () => {
            known.delete(Number(taken));
          },
          () => undefined,
        ),
    });
    for (let i = 0; i < RANDOM_TRIES; i++) {
      if (await tryTake(this.draw(policy.limit, known))) return granted();
    }
    if (policy.limit > 10_000) return { blocked: true, retryAfterSeconds };
    const used = new Set<number>();
    const rows = this.table.listEntities({
      queryOptions: { filter: `PartitionKey eq '${partitionKey}'`, select: ['RowKey'] },
    });
    // The listing is the truth: slots given back (password successes) since this instance saw them
    // taken are free again.
    known.clear();
    for await (const r of rows) {
      used.add(Number(r.rowKey));
      known.add(Number(r.rowKey));
    }
    const free = Array.from({ length: policy.limit }, (_, i) => i).filter((i) => !used.has(i));
    const exhausted = free.length === 0;
    for (let i = 0; i < FREE_TRIES && free.length > 0; i++) {
      const [slot] = free.splice(Math.floor(Math.random() * free.length), 1);
      if (slot !== undefined && (await tryTake(slot))) return granted();
    }
    return { blocked: true, retryAfterSeconds, exhausted };
  }
}
