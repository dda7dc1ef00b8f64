import { describe, expect, it } from 'vitest';
import { manualClock } from '../../shared/clock.ts';
import { purgeExpired } from '../../shared/maintenance.ts';
import { ACCOUNT_POLICY, Throttle } from '../../shared/signin/throttle.ts';
import { LoginTransactionStore } from '../../shared/signin/transactions.ts';
import { quietLogger, testServices } from '../helpers/stack.ts';

describe('maintenance purge', () => {
  it('removes expired login transactions, sessions and idle throttle rows, and nothing live', async () => {
    const clock = manualClock(Date.parse('2026-11-27T08:00:00Z'));
    const s = await testServices({ clock });
    const tx = new LoginTransactionStore(s.tables.loginTransactions, clock);
    const throttle = new Throttle(s.tables.throttle, clock);
    const session = (username: string, minutes: number) =>
      s.sessions.create({
        username,
        sessionId: `sid-${username}`,
        method: 'password',
        integrationId: null,
        createdAt: new Date(clock.now()).toISOString(),
        expiresAt: new Date(clock.now() + minutes * 60_000).toISOString(),
        authTime: new Date(clock.now()).toISOString(),
        clientAddress: '198.51.100.7',
      });
    await tx.create({ integrationId: 'i', expectedUsername: null, returnTo: null }, 'b'.repeat(43));
    await session('old', 20);
    await throttle.recordFailure('pwd-user', 'old-guesser', ACCOUNT_POLICY);
    clock.advance(2 * 86_400_000); // two days later
    await tx.create({ integrationId: 'i', expectedUsername: null, returnTo: null }, 'b'.repeat(43));
    await session('fresh', 480);
    await throttle.recordFailure('pwd-user', 'new-guesser', ACCOUNT_POLICY);

    const result = await purgeExpired(s.tables, clock, quietLogger());
    expect(result).toEqual({ loginTransactions: 1, sessions: 1, throttle: 1 });
    const count = async (t: typeof s.tables.sessions) => {
      let n = 0;
      for await (const _ of t.listEntities()) n++;
      return n;
    };
    expect(await count(s.tables.loginTransactions)).toBe(1);
    expect(await s.sessions.get('fresh', 'sid-fresh')).toBeDefined();
    expect(await s.sessions.get('old', 'sid-old')).toBeUndefined();
    expect(await count(s.tables.throttle)).toBe(1);
  });
});
