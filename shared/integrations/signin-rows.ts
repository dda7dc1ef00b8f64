import type { Clock } from '../core/clock.ts';
import type { StoredIntegration } from './store.ts';

/**
 * How long a sign-in may use an integration row this instance read before: a change made on another
 * instance (deactivation, deletion, new tenant or secret version) reaches sign-ins here within this
 * time; a change made on this instance, at once.
 */
export const SIGN_IN_ROW_TTL_MS = 5_000;

/** Rows read for sign-ins, per instance (SIGN_IN_ROW_TTL_MS); dropped on every local write. */
export class SignInRows {
  private readonly rows = new Map<string, { row: StoredIntegration; readAt: number }>();

  constructor(private readonly clock: Clock) {}

  /** The store calls this on every write of the row. */
  drop(id: string): void {
    this.rows.delete(id);
  }

  /** The row from the cache while it is fresh; `load`'s point read otherwise. */
  async read(
    id: string,
    fresh: boolean,
    load: (id: string) => Promise<StoredIntegration>,
  ): Promise<StoredIntegration> {
    const key = typeof id === 'string' ? id.toLowerCase() : '';
    const now = this.clock.now();
    const hit = this.rows.get(key);
    if (hit && !fresh && now - hit.readAt < SIGN_IN_ROW_TTL_MS) return hit.row;
    const row = await load(id);
    if (this.rows.size >= 1000) this.rows.clear();
    this.rows.set(key, { row, readAt: now });
    return row;
  }
}
