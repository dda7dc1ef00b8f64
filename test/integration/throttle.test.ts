/**
 * Reservations (PW5): an attempt is counted before the check it guards, and nothing is counted
 * while a block runs.
 */
import { describe, expect, it } from 'vitest';
import { manualClock } from '../../shared/core/clock.ts';
import { counterKey, type FailurePolicy, Throttle } from '../../shared/limits/throttle.ts';
import { testServices } from '../helpers/stack.ts';

const POLICY: FailurePolicy = {
  freeAttempts: 3,
  windowMs: 15 * 60_000,
  baseBlockMs: 10_000,
  maxBlockMs: 60_000,
};

describe('throttle reservations', () => {
  it('allows the free attempts and one more, which starts a block; doubling blocks after that', async () => {
    const clock = manualClock(Date.parse('2026-11-27T09:00:00Z'));
    const { tables } = await testServices({ clock });
    const t = new Throttle(tables.throttle, clock);
    for (let i = 0; i <= POLICY.freeAttempts; i++)
      expect((await t.reserve('acct', 'x', POLICY)).blocked).toBe(false);
    const refused = await t.reserve('acct', 'x', POLICY);
    expect(refused).toEqual({ blocked: true, retryAfterSeconds: 10 });
    clock.advance(10_001);
    expect((await t.reserve('acct', 'x', POLICY)).blocked).toBe(false); // one attempt after the block …
    expect(await t.reserve('acct', 'x', POLICY)).toEqual({ blocked: true, retryAfterSeconds: 20 }); // … then twice as long
    await t.reset('acct', 'x');
    expect((await t.reserve('acct', 'x', POLICY)).blocked).toBe(false);
  });

  it('refused reservations write nothing', async () => {
    const clock = manualClock(Date.parse('2026-11-27T09:00:00Z'));
    const { tables } = await testServices({ clock });
    const t = new Throttle(tables.throttle, clock);
    for (let i = 0; i <= POLICY.freeAttempts; i++) await t.reserve('acct', 'y', POLICY);
    const before = await tables.throttle.getEntity(counterKey('acct', 'y'), 'f');
    expect((await t.reserve('acct', 'y', POLICY)).blocked).toBe(true);
    const after = await tables.throttle.getEntity(counterKey('acct', 'y'), 'f');
    expect(after.etag).toBe(before.etag);
  });
});
