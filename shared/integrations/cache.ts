/**
 * Per-instance cache of client secret values for the sign-in path, keyed by (integration id, secret
 * version): a version's value never changes, so a hit is always right; a rotation changes the
 * version in the row, which misses and loads the new one. The TTL bounds how long a value stays in
 * memory after its integration is no longer used; the size cap bounds memory.
 */
import type { Clock } from '../core/clock.ts';

export const SECRET_CACHE_TTL_MS = 15 * 60_000;
export const SECRET_CACHE_MAX_ENTRIES = 1000;

interface Entry {
  version: string;
  value: string;
  loadedAt: number;
}

export class SecretCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly clock: Clock,
    private readonly ttlMs = SECRET_CACHE_TTL_MS,
    private readonly maxEntries = SECRET_CACHE_MAX_ENTRIES,
  ) {}

  get(integrationId: string, version: string): string | undefined {
    const e = this.entries.get(integrationId);
    if (!e || e.version !== version) return undefined;
    if (this.clock.now() - e.loadedAt >= this.ttlMs) {
      this.entries.delete(integrationId);
      return undefined;
    }
    return e.value;
  }

  /** Keeps one version per integration: storing a new version replaces the old value. */
  set(integrationId: string, version: string, value: string): void {
    this.entries.delete(integrationId);
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(integrationId, { version, value, loadedAt: this.clock.now() });
  }

  delete(integrationId: string): void {
    this.entries.delete(integrationId);
  }

  get size(): number {
    return this.entries.size;
  }
}
