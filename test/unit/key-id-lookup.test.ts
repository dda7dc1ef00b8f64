/**
 * KeyIdLookup (the login seal key and the session signing keys): known ids from memory, made-up ids
 * without a Key Vault call, an unknown version at most one look per cool-down.
 */
import { describe, expect, it } from 'vitest';
import { manualClock } from '../../shared/core/clock.ts';
import { KEY_LOOKUP_COOLDOWN_MS, KeyIdLookup } from '../../shared/secrets/key-id-lookup.ts';

const KID_A = 'a'.repeat(32);
const KID_B = 'b'.repeat(32);

function ring(opts: { withSeen?: boolean } = {}) {
  const clock = manualClock(1_000_000);
  const inVault = new Set([KID_A]);
  const listed = new Set<string>();
  const held = new Map<string, string>();
  let refreshes = 0;
  const lookup = new KeyIdLookup(clock, {
    known: async (kid) => held.get(kid),
    ...(opts.withSeen ? { seen: (kid: string) => listed.has(kid) } : {}),
    refresh: async () => {
      refreshes++;
      for (const k of inVault) listed.add(k);
    },
    load: async (kid) => {
      if (!listed.has(kid)) return undefined;
      held.set(kid, `key-${kid}`);
      return held.get(kid);
    },
  });
  return { clock, inVault, lookup, refreshes: () => refreshes };
}

describe('KeyIdLookup', () => {
  it('finds a version Key Vault has, then answers it from memory', async () => {
    const r = ring();
    await expect(r.lookup.find(KID_A)).resolves.toBe(`key-${KID_A}`);
    await expect(r.lookup.find(KID_A)).resolves.toBe(`key-${KID_A}`);
    expect(r.refreshes()).toBe(1);
  });

  it('made-up ids cost no look at Key Vault', async () => {
    const r = ring();
    for (const kid of ['', 'x', 'A'.repeat(31), `${'a'.repeat(32)}0`, '../secret']) {
      await expect(r.lookup.find(kid)).resolves.toBeUndefined();
    }
    expect(r.refreshes()).toBe(0);
  });

  it('unknown versions: one look per cool-down, and a new version is found at the next look', async () => {
    const r = ring();
    await expect(r.lookup.find(KID_B)).resolves.toBeUndefined();
    await expect(r.lookup.find(KID_B)).resolves.toBeUndefined();
    expect(r.refreshes()).toBe(1);
    r.inVault.add(KID_B); // written by another instance
    r.clock.advance(KEY_LOOKUP_COOLDOWN_MS - 1);
    await expect(r.lookup.find(KID_B)).resolves.toBeUndefined();
    r.clock.advance(1);
    await expect(r.lookup.find(KID_B)).resolves.toBe(`key-${KID_B}`);
    expect(r.refreshes()).toBe(2);
  });

  it('a version seen in the last look is fetched without another look', async () => {
    const r = ring({ withSeen: true });
    r.inVault.add(KID_B);
    await r.lookup.find(KID_A); // the look lists both versions
    await expect(r.lookup.find(KID_B)).resolves.toBe(`key-${KID_B}`);
    expect(r.refreshes()).toBe(1);
  });
});
