/**
 * Per instance: what this instance wrote on the rows of the codes and refresh tokens it issued
 * recently (their grant, `sub`, the grant's broker session, the OP session's row), by row. A token
 * request that reaches the instance that issued its code (or refresh token) reads those rows beside
 * the artifact's own row instead of after it: one sequential round trip fewer. It is only a hint for
 * reading ahead, never a decision: the rows read decide exactly as when the request reaches another
 * instance, where nothing is known and the reads wait for the artifact's row. Bounded:
 * `ISSUED_HINTS_MAX` entries (the oldest goes first), each kept until its artifact expires and at most
 * `ISSUED_HINT_TTL_MS`.
 */
import type { Clock } from '../core/clock.ts';

export const ISSUED_HINTS_MAX = 10_000;
/** Codes live 60 s; a refresh token is seldom used again within minutes of its issue elsewhere. */
export const ISSUED_HINT_TTL_MS = 10 * 60_000;

export interface IssuedHint {
  grantId: string;
  sub?: string;
  /** The grant's broker session when the artifact was issued. */
  brokerSession?: { u: string; s: string };
  /** The OP session the artifact ends with, and its row. */
  opSession?: { uid: string; pk: string; rk: string };
}

/** Bounded, expiring hints by row; `T` is what is remembered (an issued artifact's by default). */
export class IssuedHints<T = IssuedHint> {
  private readonly entries = new Map<string, { hint: T; until: number }>();

  constructor(
    private readonly clock: Clock,
    private readonly ttlMs = ISSUED_HINT_TTL_MS,
    private readonly maxEntries = ISSUED_HINTS_MAX,
  ) {}

  /** `expiresAt`: the artifact's own expiry (ms, 0 = none). */
  set(key: string, hint: T, expiresAt: number): void {
    const cap = this.clock.now() + this.ttlMs;
    this.entries.delete(key);
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(key, { hint, until: expiresAt ? Math.min(expiresAt, cap) : cap });
  }

  get(key: string): T | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (this.clock.now() >= e.until) {
      this.entries.delete(key);
      return undefined;
    }
    return e.hint;
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
