/**
 * A username a hint names (carried-hints.ts) is read ahead, but remembered for its `sub` only once
 * the row read proves it: the row's id is that `sub`. Otherwise the instance knows no more than before.
 */
import { describe, expect, it } from 'vitest';
import { Accounts } from '../../shared/oidc/accounts.ts';
import { type OidcTableStore, withRequestMemo } from '../../shared/oidc/store.ts';
import type { UserRecord } from '../../shared/users/records.ts';

type Row = { id: string; username: string; verifyType?: { kind: string } };

function accountsOver(rows: Record<string, Row>, delayMs = 0) {
  const reads: string[] = [];
  const users = {
    getByUsername: async (username: string) => {
      reads.push(username);
      if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
      return rows[username] as UserRecord | undefined;
    },
    getById: async (id: string) => {
      reads.push(`id:${id}`);
      return Object.values(rows).find((r) => r.id === id) as UserRecord | undefined;
    },
  };
  const accounts = new Accounts(
    users,
    {} as OidcTableStore,
    { isLive: async () => true },
    { clientForProvider: async () => undefined },
  );
  return { accounts, reads };
}

describe('Accounts.readAhead with a hinted username', () => {
  it('remembers the name once its row has the sub as its id', async () => {
    const { accounts, reads } = accountsOver({ alice: { id: 'sub-a', username: 'alice' } });
    expect(accounts.readAhead('sub-a')).toBeUndefined(); // nothing known yet, no hint: no read
    await accounts.readAhead('sub-a', 'alice');
    // Known now: read by name without a hint.
    await accounts.readAhead('sub-a');
    expect(reads).toEqual(['alice', 'alice']);
  });

  it('forgets nothing and learns nothing from a name whose row is another user', async () => {
    const { accounts, reads } = accountsOver({ bob: { id: 'sub-b', username: 'bob' } });
    await accounts.readAhead('sub-a', 'bob');
    await accounts.readAhead('sub-a', 'nobody');
    expect(accounts.readAhead('sub-a')).toBeUndefined();
    expect(reads).toEqual(['bob', 'nobody']);
  });

  it('a name already known wins over the hint', async () => {
    const { accounts, reads } = accountsOver({
      alice: { id: 'sub-a', username: 'alice' },
      mallory: { id: 'sub-m', username: 'mallory' },
    });
    await accounts.readAhead('sub-a', 'alice');
    await accounts.readAhead('sub-a', 'mallory');
    expect(reads).toEqual(['alice', 'alice']);
  });

  it('findAccount waits for a hinted read in flight, and uses it: no id index read', async () => {
    const alice = { id: 'sub-a', username: 'alice', verifyType: { kind: 'password' }, roles: [] };
    const { accounts, reads } = accountsOver({ alice }, 30);
    const account = await withRequestMemo(async () => {
      void accounts.readAhead('sub-a', 'alice'); // prefetch.ts does not wait for it
      return accounts.find('sub-a', undefined);
    });
    expect(account?.accountId).toBe('sub-a');
    expect(reads).toEqual(['alice']);
  });

  it('findAccount turns to the id index when the hinted name is another user', async () => {
    const alice = { id: 'sub-a', username: 'alice', verifyType: { kind: 'password' }, roles: [] };
    const bob = { id: 'sub-b', username: 'bob', verifyType: { kind: 'password' }, roles: [] };
    const { accounts, reads } = accountsOver({ alice, bob }, 30);
    const account = await withRequestMemo(async () => {
      void accounts.readAhead('sub-a', 'bob');
      return accounts.find('sub-a', undefined);
    });
    expect(account?.accountId).toBe('sub-a');
    expect((await account?.claims('id_token', 'openid', {}, []))?.preferred_username).toBe('alice');
    expect(reads).toEqual(['bob', 'id:sub-a']);
  });
});
