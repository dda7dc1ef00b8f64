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
 */
import type { TableClient } from '@azure/data-tables';
import type { Clock } from '../clock.ts';
import { isConflict } from '../storage/tables.ts';
import { counterKey, type RatePolicy, type ThrottleState } from './throttle.ts';

const RANDOM_TRIES = 2;

/** The outcome of `take`: refused (429 + Retry-After), or granted with a way to give the slot back. */
export type Slot = ThrottleState & { release?: () => Promise<void> };
const FREE_TRIES = 3;

export class SlotLimiter {
  constructor(
    private readonly table: TableClient,
    private readonly clock: Clock,
  ) {}

  async take(kind: string, value: string, policy: RatePolicy): Promise<Slot> {
    const now = this.clock.now();
    const window = Math.floor(now / policy.windowMs);
    const partitionKey = `${counterKey(`slots:${kind}`, value)}-${window}`;
    const retryAfterSeconds = Math.max(1, Math.ceil(((window + 1) * policy.windowMs - now) / 1000));
    let taken = '';
    const tryTake = async (slot: number) => {
      const rowKey = String(slot).padStart(5, '0');
      try {
        await this.table.createEntity({ partitionKey, rowKey, at: now });
        taken = rowKey;
        return true;
      } catch (err) {
        if (isConflict(err)) return false;
        throw err;
      }
    };
    const granted = (): Slot => ({
      blocked: false,
      retryAfterSeconds: 0,
      // Gives the slot back (an attempt that turned out not to need one); best effort.
      release: () =>
        this.table.deleteEntity(partitionKey, taken).then(
          () => undefined,
          () => undefined,
        ),
    });
    for (let i = 0; i < RANDOM_TRIES; i++) {
      if (await tryTake(Math.floor(Math.random() * policy.limit))) return granted();
    }
    if (policy.limit > 10_000) return { blocked: true, retryAfterSeconds };
    const used = new Set<number>();
    const rows = this.table.listEntities({
      queryOptions: { filter: `PartitionKey eq '${partitionKey}'`, select: ['RowKey'] },
    });
    for await (const r of rows) used.add(Number(r.rowKey));
    const free = Array.from({ length: policy.limit }, (_, i) => i).filter((i) => !used.has(i));
    for (let i = 0; i < FREE_TRIES && free.length > 0; i++) {
      const [slot] = free.splice(Math.floor(Math.random() * free.length), 1);
      if (slot !== undefined && (await tryTake(slot))) return granted();
    }
    return { blocked: true, retryAfterSeconds };
  }
}
