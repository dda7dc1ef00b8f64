/**
 * The maintenance purge against Azurite: rows past their life go, live rows stay. Filters are on the
 * service's Timestamp and ISO strings only (see shared/maintenance.ts), which Azurite and Table
 * Storage evaluate alike.
 */

import type { TableClient } from '@azure/data-tables';
import { describe, expect, it } from 'vitest';
import { systemClock } from '../../shared/core/clock.ts';
import { ACCOUNT_POLICY, Throttle } from '../../shared/limits/throttle.ts';
import { purgeExpired, purgePlan, purgeRows } from '../../shared/ops/maintenance.ts';
import { LoginTransactionStore } from '../../shared/signin/transactions.ts';
import { quietLogger, testServices } from '../helpers/stack.ts';

const count = async (t: TableClient) => {
  let n = 0;
  for await (const _ of t.listEntities()) n++;
  return n;
};

function session(s: Awaited<ReturnType<typeof testServices>>, username: string, expiresInMinutes: number) {
  const now = Date.now();
  return s.sessions.create({
    username,
    sessionId: `sid-${username}`,
    method: 'password',
    integrationId: null,
    createdAt: new Date(now).toISOString(),
    expiresAt: new Date(now + expiresInMinutes * 60_000).toISOString(),
    authTime: new Date(now).toISOString(),
    clientAddress: '198.51.100.7',
  });
}

describe('maintenance purge', () => {
  it('plans one filter per table on Timestamp (and the session expiry), never on numbers', () => {
    const now = Date.parse('2026-11-27T12:00:00Z');
    const plan = Object.fromEntries(purgePlan(now).map((p) => [p.table, p.filter]));
    expect(plan).toEqual({
      loginTransactions: "Timestamp lt datetime'2026-11-27T11:49:00.000Z'",
      sessions: "Timestamp lt datetime'2026-11-27T11:28:00.000Z' or expiresAt lt '2026-11-27T12:00:00.000Z'",
      throttle: "Timestamp lt datetime'2026-11-26T12:00:00.000Z'",
      oidcStore: "expiresAtIso lt '2026-11-27T12:00:00.000Z'",
    });
  });

  it('deletes rows last written before the cut-off and keeps the newer ones, in every table', async () => {
    const s = await testServices();
    const tx = new LoginTransactionStore(s.tables.loginTransactions, systemClock, s.sealKeys);
    const throttle = new Throttle(s.tables.throttle, systemClock);
    const seed = async (tag: string) => {
      // A used-marker: what the callback leaves in LoginTransactions.
      const { state } = await tx.create({ integrationId: tag, expectedUsername: null, returnTo: null });
      await tx.markUsed(state);
      await session(s, tag, 480);
      await throttle.recordFailure('pwd-user', tag, ACCOUNT_POLICY);
    };
    await seed('old');
    await new Promise((r) => setTimeout(r, 1200));
    const cutoff = new Date(Date.now() - 600).toISOString();
    await new Promise((r) => setTimeout(r, 600));
    await seed('new');
    for (const table of [s.tables.loginTransactions, s.tables.sessions, s.tables.throttle]) {
      expect(await count(table)).toBe(2);
      expect(await purgeRows(table, `Timestamp lt datetime'${cutoff}'`)).toBe(1);
      expect(await count(table)).toBe(1);
    }
    expect(await s.sessions.get('new', 'sid-new')).toBeDefined();
  });

  it('deletes sessions past their absolute end even when recently written; live ones stay', async () => {
    const s = await testServices();
    await session(s, 'ended', -1);
    await session(s, 'live', 480);
    const result = await purgeExpired(s.tables, systemClock, quietLogger());
    expect(result).toEqual({ loginTransactions: 0, sessions: 1, throttle: 0, oidcStore: 0 });
    expect(await s.sessions.get('ended', 'sid-ended')).toBeUndefined();
    expect(await s.sessions.get('live', 'sid-live')).toBeDefined();
  });

  it('deletes expired OpenID Provider rows (artifact and grant index); live ones stay', async () => {
    const s = await testServices();
    // Refresh tokens: they have grant index rows (an access token has none, store.ts).
    const tokens = s.oidc.store.adapterFor('RefreshToken');
    await tokens.upsert('at-live', { grantId: 'g1', accountId: 'u' }, 60);
    await tokens.upsert('at-dead', { grantId: 'g2', accountId: 'u' }, 1);
    const sessions = s.oidc.store.adapterFor('Session');
    await sessions.upsert('sess-forever', { uid: 'u1', accountId: 'u' });
    await new Promise((r) => setTimeout(r, 1100));
    expect(await tokens.find('at-dead')).toBeUndefined(); // never returned once expired
    expect(await count(s.tables.oidcStore)).toBe(6);
    const result = await purgeExpired(s.tables, systemClock, quietLogger());
    expect(result.oidcStore).toBe(2);
    expect(await tokens.find('at-live')).toMatchObject({ grantId: 'g1', jti: 'at-live' });
    expect(await sessions.findByUid('u1')).toMatchObject({ accountId: 'u' });
  });
});
