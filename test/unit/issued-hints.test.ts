/** The per-instance memory of issued codes and refresh tokens is bounded in time and in size. */
import { describe, expect, it } from 'vitest';
import { manualClock } from '../../shared/core/clock.ts';
import { ISSUED_HINT_TTL_MS, IssuedHints } from '../../shared/oidc/issued-hints.ts';

describe('IssuedHints', () => {
  it('keeps a hint until its artifact expires, and never longer than the TTL', () => {
    const clock = manualClock(1_000_000);
    const hints = new IssuedHints(clock);
    hints.set('code', { grantId: 'g1' }, clock.now() + 60_000);
    hints.set('refresh', { grantId: 'g2' }, clock.now() + 14 * 86_400_000);
    hints.set('forever', { grantId: 'g3' }, 0);
    clock.advance(59_999);
    expect(hints.get('code')).toEqual({ grantId: 'g1' });
    clock.advance(1);
    expect(hints.get('code')).toBeUndefined();
    clock.advance(ISSUED_HINT_TTL_MS - 60_000 - 1);
    expect(hints.get('refresh')).toEqual({ grantId: 'g2' });
    expect(hints.get('forever')).toEqual({ grantId: 'g3' });
    clock.advance(1);
    expect(hints.get('refresh')).toBeUndefined();
    expect(hints.get('forever')).toBeUndefined();
  });

  it('holds at most its maximum: the oldest goes first', () => {
    const clock = manualClock(0);
    const hints = new IssuedHints(clock, ISSUED_HINT_TTL_MS, 3);
    for (const k of ['a', 'b', 'c', 'd']) hints.set(k, { grantId: k }, 0);
    expect(hints.size).toBe(3);
    expect(hints.get('a')).toBeUndefined();
    expect(hints.get('d')).toEqual({ grantId: 'd' });
    hints.set('b', { grantId: 'b2' }, 0); // set again: now the newest
    hints.set('e', { grantId: 'e' }, 0);
    expect(hints.get('c')).toBeUndefined();
    expect(hints.get('b')).toEqual({ grantId: 'b2' });
  });
});
