/**
 * Finding a key by its id when the keys are versions of one Key Vault secret (the version is the key
 * id). Ids this instance knows are answered from memory. An id that has the form of a version but is
 * unknown makes the instance look at Key Vault again, at most once per cool-down: made-up ids cost no
 * Key Vault call, and a version another instance wrote is still found at the next look.
 */
import type { Clock } from '../core/clock.ts';

/** The form of a Key Vault secret version. */
const VERSION = /^[0-9a-f]{32}$/i;
/** An unknown id makes this instance look at Key Vault at most this often. */
export const KEY_LOOKUP_COOLDOWN_MS = 30_000;

export interface KeySource<K> {
  /** The key when this instance already holds it (memory only). */
  known(kid: string): Promise<K | undefined>;
  /** Whether the last look at Key Vault saw this id (then no new look is needed to fetch it). */
  seen?(kid: string): boolean;
  /** Looks at Key Vault again (the secret's versions). */
  refresh(): Promise<void>;
  /** The key after the look: fetched, or from memory; undefined when Key Vault has no such key. */
  load(kid: string): Promise<K | undefined>;
}

export class KeyIdLookup<K> {
  private lastLookup = 0;

  constructor(
    private readonly clock: Clock,
    private readonly source: KeySource<K>,
  ) {}

  async find(kid: string): Promise<K | undefined> {
    const hit = await this.source.known(kid);
    if (hit) return hit;
    if (!VERSION.test(kid)) return undefined;
    const now = this.clock.now();
    if (!this.source.seen?.(kid) && now - this.lastLookup >= KEY_LOOKUP_COOLDOWN_MS) {
      this.lastLookup = now;
      await this.source.refresh();
    }
    return this.source.load(kid);
  }
}
