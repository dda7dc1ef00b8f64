/**
 * Reservations (PW5): counted before the check, given back when nothing was checked or the attempt
 * succeeded — and a release lifts only the block its own reservation started.
 */
import { describe, expect, it } from 'vitest';
import { manualClock } from '../../shared/clock.ts';
import { counterKey, type FailurePolicy, Throttle } from '../../shared/signin/throttle.ts';
import { testServices } from '../helpers/stack.ts';

const POLICY: FailurePolicy = {
  freeAttempts: 3,
  windowMs: 15 * 60_000,
  baseBlockMs: 10_000,
  maxBlockMs: 60_000,
};

describe('throttle reservations', () => {
  it('a successful attempt past the free ones leaves no block behind; failures keep theirs', async () => {
    const clock = manualClock(Date.parse('2026-11-27T09:00:00Z'));
    const { tables } = await testServices({ clock });
    const t = new Throttle(tables.throttle, clock);
    const row = () =>
      tables.throttle.getEntity<{ count: number; blockedUntil: number }>(counterKey('addr', 'nat'), 'f');

    for (let i = 0; i < POLICY.freeAttempts; i++)
      expect((await t.reserve('addr', 'nat', POLICY)).blocked).toBe(false);
    // The 4th attempt goes ahead and starts a block for the ones after it …
    const fourth = await t.reserve('addr', 'nat', POLICY);
    expect(fourth).toMatchObject({ blocked: false });
    expect(fourth.startedBlock).toBeGreaterThan(clock.now());
    expect((await t.reserve('addr', 'nat', POLICY)).blocked).toBe(true);
    // … but it succeeded: releasing it lifts exactly that block and gives its count back.
    await t.release('addr', 'nat', fourth);
    expect(await row()).toMatchObject({ count: 3, blockedUntil: 0 });
    expect((await t.reserve('addr', 'nat', POLICY)).blocked).toBe(false);
  });

  it('a release does not lift a block that a later failure started', async () => {
    const clock = manualClock(Date.parse('2026-11-27T09:00:00Z'));
    const { tables } = await testServices({ clock });
    const t = new Throttle(tables.throttle, clock);
    for (let i = 0; i < POLICY.freeAttempts; i++) await t.reserve('acct', 'x', POLICY);
    const mine = await t.reserve('acct', 'x', POLICY); // starts block B1
    clock.advance(11_000); // B1 over
    const theirs = await t.reserve('acct', 'x', POLICY); // a failure that starts block B2
    expect(theirs.startedBlock).not.toBe(mine.startedBlock);
    await t.release('acct', 'x', mine);
    expect((await t.reserve('acct', 'x', POLICY)).blocked).toBe(true);
  });

  it('refused reservations change nothing and have nothing to give back', async () => {
    const clock = manualClock(Date.parse('2026-11-27T09:00:00Z'));
    const { tables } = await testServices({ clock });
    const t = new Throttle(tables.throttle, clock);
    for (let i = 0; i <= POLICY.freeAttempts; i++) await t.reserve('acct', 'y', POLICY);
    const before = await tables.throttle.getEntity(counterKey('acct', 'y'), 'f');
    const refused = await t.reserve('acct', 'y', POLICY);
    expect(refused).toMatchObject({ blocked: true });
    expect(refused.startedBlock).toBeUndefined();
    const after = await tables.throttle.getEntity(counterKey('acct', 'y'), 'f');
    expect(after.etag).toBe(before.etag);
  });
});
