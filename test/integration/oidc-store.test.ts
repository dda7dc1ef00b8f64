/**
 * The OP's storage adapter holds a request's writes and applies them together before the request
 * answers (shared/oidc/store.ts): real TableClients against Azurite, through the counting proxy in
 * front of it, so the round trips are counted, never timed.
 */
import type { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTableProxy, type TableProxy } from '../../scripts/standins/table-proxy.ts';
import { manualClock, systemClock } from '../../shared/core/clock.ts';
import {
  hashId,
  OidcTableStore,
  requestCached,
  SESSION_REWRITE_SLACK_MS,
  UID_INDEX_SLACK_MS,
  withRequestMemo,
} from '../../shared/oidc/store.ts';
import { createAzureCredential } from '../../shared/secrets/client.ts';
import { createTables, ensureTables } from '../../shared/storage/tables.ts';
import { stack, testConfig, uniquePrefix } from '../helpers/stack.ts';

let proxy: TableProxy;
let table: TableClient;
let store: OidcTableStore;
let ops: Record<string, number>;

beforeAll(async () => {
  // A held round trip makes writes issued together overlap for sure on a busy machine.
  proxy = await startTableProxy({ target: stack().tableEndpoint, rttMs: 50 });
  const config = testConfig({ BROKER_TABLE_ENDPOINT: proxy.endpoint });
  const prefix = uniquePrefix();
  const tables = createTables(config, createAzureCredential(config), { prefix });
  await ensureTables(tables);
  table = tables.oidcStore;
  // The store gets a client of its own, its requests counted by kind; the test's direct reads
  // (`stored`) go through `table`, uncounted.
  const storeTable = createTables(config, createAzureCredential(config), { prefix }).oidcStore;
  ops = {};
  storeTable.pipeline.addPolicy({
    name: 'count-oidc-store-ops',
    sendRequest: (req, next) => {
      const kind = opKind(req.method, req.url);
      ops[kind] = (ops[kind] ?? 0) + 1;
      return next(req);
    },
  });
  store = new OidcTableStore(storeTable, systemClock);
});

/** The kind of Table operation a request is: a point read, a query, an upsert, a merge or a delete. */
function opKind(method: string, url: string): string {
  if (method === 'GET')
    return decodeURIComponent(new URL(url).pathname).includes('RowKey=') ? 'read' : 'query';
  const kinds: Record<string, string> = { PUT: 'upsert', DELETE: 'delete', PATCH: 'merge', MERGE: 'merge' };
  return kinds[method] ?? method;
}
afterAll(async () => {
  await proxy?.close();
});

async function measure<T>(fn: () => Promise<T>) {
  await proxy.idle();
  proxy.reset();
  for (const k of Object.keys(ops)) delete ops[k];
  const result = await fn();
  await proxy.idle();
  const s = proxy.snapshot();
  return { result, requests: s.requests, rounds: s.rounds, ops: { ...ops }, lines: s.lines };
}

/** What storage holds for a model's id, read past the adapter (and its request memo). */
async function stored(model: string, id: string): Promise<Record<string, unknown> | undefined> {
  const { pk, rk } = store.location(model, id);
  try {
    return await table.getEntity(pk, rk);
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return undefined;
    throw err;
  }
}

describe('OidcStore: a request’s writes are held and applied together before it answers', () => {
  it('applies them in one round trip, the last write per row only, and not before the request ends', async () => {
    const sessions = store.adapterFor('Session');
    await sessions.upsert('gone-before', { accountId: 'a' }, 600); // outside a request: written at once
    expect(await stored('Session', 'gone-before')).toBeDefined();

    const seenInside: Record<string, unknown> = {};
    const m = await measure(() =>
      withRequestMemo(async () => {
        await sessions.upsert('s-1', { accountId: 'first' }, 600);
        await sessions.upsert('s-1', { accountId: 'second' }, 600);
        await store.adapterFor('Interaction').upsert('i-1', { params: { client_id: 'c' } }, 600);
        await sessions.destroy('gone-before');
        // Not in storage yet, but this request reads what it wrote.
        seenInside.storedS1 = await stored('Session', 's-1');
        seenInside.storedGone = await stored('Session', 'gone-before');
        seenInside.found = await sessions.find('s-1');
        seenInside.foundGone = await sessions.find('gone-before');
        return 'answer';
      }),
    );
    expect(m.result).toBe('answer');
    expect(seenInside.storedS1).toBeUndefined();
    expect(seenInside.storedGone).toBeDefined();
    expect(seenInside.found).toMatchObject({ accountId: 'second', jti: 's-1' });
    expect(seenInside.foundGone).toBeUndefined();
    // The two direct reads of the test, then the request's three writes together.
    expect(m.ops).toEqual({ upsert: 2, delete: 1 });
    expect(m.requests).toBe(5);
    expect(m.rounds).toBe(3);

    expect(JSON.parse(String((await stored('Session', 's-1'))?.payload))).toMatchObject({
      accountId: 'second',
    });
    expect(await stored('Interaction', 'i-1')).toBeDefined();
    expect(await stored('Session', 'gone-before')).toBeUndefined();
  });

  it('a write then a delete of one row is one delete; a delete then a write is one write', async () => {
    const tokens = store.adapterFor('RefreshToken');
    await tokens.upsert('exists', { grantId: 'g-x' }, 60);
    const m = await measure(() =>
      withRequestMemo(async () => {
        await tokens.upsert('temp', { grantId: 'g-t' }, 60);
        await tokens.destroy('temp');
        await tokens.destroy('exists');
        await tokens.upsert('exists', { grantId: 'g-x', again: true }, 60);
      }),
    );
    // 'temp' (row + grant index row): the row's delete and the index row's write; 'exists': its
    // row and its index row.
    expect(m.ops).toEqual({ delete: 1, upsert: 3 });
    expect(m.rounds).toBe(1);
    expect(await stored('RefreshToken', 'temp')).toBeUndefined();
    expect(JSON.parse(String((await stored('RefreshToken', 'exists'))?.payload))).toMatchObject({
      again: true,
    });
  });

  it('rows of one partition held by a request are written by one transaction', async () => {
    const refresh = store.adapterFor('RefreshToken');
    const m = await measure(() =>
      withRequestMemo(async () => {
        // Two refresh tokens of one grant: their two index rows in the grant's partition.
        await refresh.upsert('rt-batch-1', { grantId: 'g-batch' }, 600);
        await refresh.upsert('rt-batch-2', { grantId: 'g-batch' }, 600);
      }),
    );
    expect(m.ops).toEqual({ upsert: 2, POST: 1 });
    expect(m.requests).toBe(3);
    expect(m.rounds).toBe(1);
    const gpk = `g:${hashId('g-batch')}`;
    const index: string[] = [];
    for await (const e of table.listEntities({ queryOptions: { filter: `PartitionKey eq '${gpk}'` } }))
      index.push(String(e.rowKey).split(':')[0] ?? '');
    expect(index).toEqual(['RefreshToken', 'RefreshToken']);
    // Revocation finds them as before.
    await refresh.revokeByGrantId('g-batch');
    expect(await stored('RefreshToken', 'rt-batch-1')).toBeUndefined();
    expect(await stored('RefreshToken', 'rt-batch-2')).toBeUndefined();
  });

  it('an access token has no grant index row: its grant is what revocation deletes', async () => {
    const tokens = store.adapterFor('AccessToken');
    const m = await measure(() =>
      withRequestMemo(async () => {
        await tokens.upsert('at-unindexed', { grantId: 'g-unindexed' }, 60);
      }),
    );
    expect(m.ops).toEqual({ upsert: 1 });
    let indexRows = 0;
    const gpk = `g:${hashId('g-unindexed')}`;
    for await (const _ of table.listEntities({ queryOptions: { filter: `PartitionKey eq '${gpk}'` } }))
      indexRows++;
    expect(indexRows).toBe(0);
  });

  it('a code has no grant index row; codes and refresh tokens name their grant’s broker session', async () => {
    const codes = store.adapterFor('AuthorizationCode');
    const refresh = store.adapterFor('RefreshToken');
    await withRequestMemo(async () => {
      store.bindGrantSession('g-hint', { u: 'alice', s: 'sess-1' });
      await store.adapterFor('Grant').upsert('g-hint', { accountId: 'alice' }, 600);
      await codes.upsert('c-hint', { grantId: 'g-hint' }, 60);
    });
    const gpk = `g:${hashId('g-hint')}`;
    let indexRows = 0;
    for await (const _ of table.listEntities({ queryOptions: { filter: `PartitionKey eq '${gpk}'` } }))
      indexRows++;
    expect(indexRows).toBe(0);
    expect(JSON.parse(String((await stored('AuthorizationCode', 'c-hint'))?.brokerSession))).toEqual({
      u: 'alice',
      s: 'sess-1',
    });
    // The token request: the code's row is read first, and names the session before the grant does.
    await withRequestMemo(async () => {
      await codes.find('c-hint');
      expect(store.sessionHint('AuthorizationCode', 'c-hint')).toEqual({ u: 'alice', s: 'sess-1' });
      await store.adapterFor('Grant').find('g-hint');
      await refresh.upsert('rt-hint', { grantId: 'g-hint' }, 600);
    });
    expect(JSON.parse(String((await stored('RefreshToken', 'rt-hint'))?.brokerSession))).toEqual({
      u: 'alice',
      s: 'sess-1',
    });
  });

  it('a redemption read in its request is held with the tokens: one round of writes; of 20 parallel ones exactly one wins', async () => {
    const codes = store.adapterFor('AuthorizationCode');
    const tokens = store.adapterFor('AccessToken');
    // One redemption, as the provider makes it: find the code, consume it, issue a token.
    await codes.upsert('c-held-1', { grantId: 'g-held-1' }, 60);
    const one = await measure(() =>
      withRequestMemo(async () => {
        await codes.find('c-held-1');
        await codes.consume('c-held-1');
        await tokens.upsert('at-held-1', { grantId: 'g-held-1' }, 600);
      }),
    );
    // The code's read; then its redemption and the token (no grant index row), together.
    expect(one.ops).toEqual({ read: 1, merge: 1, upsert: 1 });
    expect(one.rounds).toBe(2);
    expect(JSON.parse(String((await stored('AuthorizationCode', 'c-held-1'))?.payload)).consumed).toEqual(
      expect.any(Number),
    );

    await codes.upsert('c-race-held', { grantId: 'g-race-held' }, 60);
    await store.adapterFor('Grant').upsert('g-race-held', { accountId: 'u' }, 600);
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        withRequestMemo(async () => {
          await codes.find('c-race-held');
          await codes.consume('c-race-held');
          await tokens.upsert(`at-race-held-${i}`, { grantId: 'g-race-held' }, 600);
          return i;
        }),
      ),
    );
    const won = results.filter((r) => r.status === 'fulfilled');
    expect(won).toHaveLength(1);
    for (const r of results)
      if (r.status === 'rejected') expect(String(r.reason)).toMatch(/already consumed/);
    // Every loser deleted the grant: what anyone issued under it cannot outlive it.
    expect(await stored('Grant', 'g-race-held')).toBeUndefined();
  });

  it('consume applies the held writes first, so it is conditional on the stored etag', async () => {
    const codes = store.adapterFor('AuthorizationCode');
    await withRequestMemo(async () => {
      await codes.upsert('c-held', { grantId: 'g-held' }, 60);
      await codes.consume('c-held');
    });
    const row = await stored('AuthorizationCode', 'c-held');
    expect(JSON.parse(String(row?.payload)).consumed).toEqual(expect.any(Number));
    // A second consume, in another request, loses.
    await expect(withRequestMemo(() => codes.consume('c-held'))).rejects.toThrow(/already consumed/);
  });

  it('20 parallel redemptions of one code: exactly one wins, the losers revoke what it issued', async () => {
    const codes = store.adapterFor('AuthorizationCode');
    const tokens = store.adapterFor('AccessToken');
    await codes.upsert('c-race', { grantId: 'g-race' }, 60);
    await store.adapterFor('Grant').upsert('g-race', { accountId: 'u' }, 600);
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        withRequestMemo(async () => {
          await codes.consume('c-race');
          // The winner issues a token under the grant (held until its request ends).
          await tokens.upsert(`at-race-${i}`, { grantId: 'g-race' }, 600);
          return i;
        }),
      ),
    );
    const won = results.filter((r) => r.status === 'fulfilled');
    expect(won).toHaveLength(1);
    // Every loser deleted the grant; what the winner issued cannot outlive it.
    expect(await stored('Grant', 'g-race')).toBeUndefined();
  });

  it('an OP session saved again rewrites its uid index row only once it would outlive it', async () => {
    const clock = manualClock(Date.now());
    const timed = new OidcTableStore(store.table, clock);
    const sessions = timed.adapterFor('Session');
    const save = () =>
      measure(() =>
        withRequestMemo(async () => {
          // As the provider does at each authorization: read the session, save it with a new expiry.
          await sessions.find('s-uid');
          await sessions.upsert('s-uid', { uid: 'uid-1', accountId: 'a' }, 14 * 86_400);
        }),
      );
    await sessions.upsert('s-uid', { uid: 'uid-1', accountId: 'a' }, 14 * 86_400);
    clock.advance(3_600_000);
    expect((await save()).ops).toEqual({ read: 1, upsert: 1 });
    clock.advance(UID_INDEX_SLACK_MS - 3_600_000 + 1000);
    expect((await save()).ops).toEqual({ read: 1, upsert: 2 });
    clock.advance(3_600_000);
    expect((await save()).ops).toEqual({ read: 1, upsert: 1 });
    expect(await sessions.findByUid('uid-1')).toMatchObject({ accountId: 'a', uid: 'uid-1' });
  });

  it('an OP session saved again with only its expiry changed is written once that moved SESSION_REWRITE_SLACK_MS', async () => {
    const clock = manualClock(Date.now());
    const timed = new OidcTableStore(store.table, clock);
    const sessions = timed.adapterFor('Session');
    const base = { uid: 'uid-slack', accountId: 'a', authorizations: { app: { grantId: 'g1', sid: 's1' } } };
    const save = (payload: Record<string, unknown>) =>
      measure(() =>
        withRequestMemo(async () => {
          // As the provider does at each authorization: read the session, save it with a new expiry.
          await sessions.find('s-slack');
          await sessions.upsert('s-slack', payload, 8 * 3600);
        }),
      );
    await sessions.upsert('s-slack', { ...base, exp: 1, iat: 1 }, 8 * 3600);
    clock.advance(60_000);
    expect((await save({ ...base, exp: 2, iat: 2 })).ops).toEqual({ read: 1 });
    expect(timed.sessionGrantHint('s-slack', 'app')).toBe('g1');
    clock.advance(SESSION_REWRITE_SLACK_MS);
    expect((await save({ ...base, exp: 3, iat: 3 })).ops).toEqual({ read: 1, upsert: 1 });
    // Anything else changed (the application's grant): written at once.
    const moved = { ...base, authorizations: { app: { grantId: 'g2', sid: 's1' } } };
    expect((await save(moved)).ops).toEqual({ read: 1, upsert: 1 });
    expect(timed.sessionGrantHint('s-slack', 'app')).toBe('g2');
    expect(await sessions.find('s-slack')).toMatchObject({ authorizations: { app: { grantId: 'g2' } } });
    // A session's row that expired is not kept alive by the hint: it stays gone.
    clock.advance(8 * 3600_000 + 1000);
    expect(await sessions.find('s-slack')).toBeUndefined();
  });

  it('an artifact that ends with its OP session names its row: findByUid reads it without the uid index', async () => {
    const sessions = store.adapterFor('Session');
    const codes = store.adapterFor('AuthorizationCode');
    await sessions.upsert('s-bound', { uid: 'uid-bound', accountId: 'b' }, 3600);
    // The authorization: it read the session (its cookie), then issued a code bound to it.
    await withRequestMemo(async () => {
      await sessions.find('s-bound');
      await codes.upsert(
        'c-bound',
        { grantId: 'g-b', sessionUid: 'uid-bound', expiresWithSession: true },
        60,
      );
      await codes.upsert('c-free', { grantId: 'g-b', sessionUid: 'uid-bound' }, 60);
    });
    const s = store.location('Session', 's-bound');
    expect((await stored('AuthorizationCode', 'c-bound'))?.opSession).toBe(`${s.pk}/${s.rk}`);
    expect((await stored('AuthorizationCode', 'c-free'))?.opSession).toBeUndefined();
    // The token request: the code, then its session by uid; one read each, no index read.
    const redeem = await measure(() =>
      withRequestMemo(async () => {
        await codes.find('c-bound');
        return sessions.findByUid('uid-bound');
      }),
    );
    expect(redeem.result).toMatchObject({ uid: 'uid-bound', accountId: 'b' });
    expect(redeem.ops).toEqual({ read: 2 });
    expect(redeem.lines.some((l) => l.includes("PartitionKey='uid:"))).toBe(false);
    // Without the hint: the index, then the session.
    const unhinted = await measure(() => withRequestMemo(() => sessions.findByUid('uid-bound')));
    expect(unhinted.result).toMatchObject({ uid: 'uid-bound' });
    expect(unhinted.ops).toEqual({ read: 2 });
    expect(unhinted.lines.some((l) => l.includes("PartitionKey='uid:"))).toBe(true);
  });

  it('an opSession hint is only a hint: a row with another uid, or none, falls back to the index', async () => {
    const sessions = store.adapterFor('Session');
    const codes = store.adapterFor('AuthorizationCode');
    await sessions.upsert('s-mine', { uid: 'uid-mine', accountId: 'mine' }, 3600);
    await sessions.upsert('s-other', { uid: 'uid-other', accountId: 'other' }, 3600);
    // A code whose row names another session's row than its uid's (as if the row were tampered with).
    const other = store.location('Session', 's-other');
    const { pk, rk } = store.location('AuthorizationCode', 'c-wrong');
    await table.upsertEntity({
      partitionKey: pk,
      rowKey: rk,
      payload: JSON.stringify({ grantId: 'g-w', sessionUid: 'uid-mine', expiresWithSession: true }),
      expiresAt: Date.now() + 60_000,
      expiresAtIso: new Date(Date.now() + 60_000).toISOString(),
      opSession: `${other.pk}/${other.rk}`,
    });
    const found = await withRequestMemo(async () => {
      await codes.find('c-wrong');
      return sessions.findByUid('uid-mine');
    });
    expect(found).toMatchObject({ uid: 'uid-mine', accountId: 'mine' });
    // The session was deleted (signed out): the hint reads nothing, the index finds nothing either.
    await withRequestMemo(async () => {
      await sessions.find('s-bound');
      await codes.upsert('c-gone', { grantId: 'g-g', sessionUid: 'uid-bound', expiresWithSession: true }, 60);
    });
    await sessions.destroy('s-bound');
    const gone = await withRequestMemo(async () => {
      await codes.find('c-gone');
      return sessions.findByUid('uid-bound');
    });
    expect(gone).toBeUndefined();
  });

  it('a held write that fails fails the request: it never answers as if it had been stored', async () => {
    // Tables never created: every write answers 404.
    const config = testConfig({ BROKER_TABLE_ENDPOINT: proxy.endpoint });
    const missing = createTables(config, createAzureCredential(config), { prefix: uniquePrefix() });
    const broken = new OidcTableStore(missing.oidcStore, systemClock);
    let answered = false;
    await expect(
      withRequestMemo(async () => {
        await broken.adapterFor('Session').upsert('s-fail', { accountId: 'x' }, 600);
        answered = true; // the request's own work ends here; its answer is not given
        return 'answer';
      }),
    ).rejects.toMatchObject({ statusCode: 404 });
    expect(answered).toBe(true);
  });

  it('a write after the request’s writes were applied goes straight to storage', async () => {
    const sessions = store.adapterFor('Session');
    let late: Promise<void> | undefined;
    await withRequestMemo(async () => {
      // Something the request started but does not wait for (nothing in the broker does this).
      late = new Promise<void>((resolve) => setTimeout(resolve, 20)).then(() =>
        sessions.upsert('s-late', { accountId: 'late' }, 600),
      );
    });
    await late;
    expect(await stored('Session', 's-late')).toBeDefined();
  });

  it('reads of a request are shared by key (the prefetched user row), never across requests', async () => {
    const calls: string[] = [];
    const read = (key: string) => () => {
      calls.push(key);
      return Promise.resolve(`row of ${key}`);
    };
    await withRequestMemo(async () => {
      const [a, again, b] = await Promise.all([
        requestCached('user:alice', read('alice')),
        requestCached('user:alice', read('alice')),
        requestCached('user:bob', read('bob')),
      ]);
      expect([a, again, b]).toEqual(['row of alice', 'row of alice', 'row of bob']);
      // A failed read is not remembered: the next caller reads again.
      await expect(requestCached('user:carol', () => Promise.reject(new Error('down')))).rejects.toThrow();
      expect(await requestCached('user:carol', read('carol'))).toBe('row of carol');
    });
    await withRequestMemo(() => requestCached('user:alice', read('alice')));
    await requestCached('user:alice', read('alice')); // outside a request: every time
    expect(calls).toEqual(['alice', 'bob', 'carol', 'alice', 'alice']);
  });

  it('a row read on its way is shared: two readers, one request', async () => {
    const sessions = store.adapterFor('Session');
    await sessions.upsert('s-shared', { accountId: 'x' }, 600);
    const m = await measure(() =>
      withRequestMemo(() => Promise.all([sessions.find('s-shared'), sessions.find('s-shared')])),
    );
    expect(m.result[0]).toMatchObject({ accountId: 'x' });
    expect(m.result[1]).toMatchObject({ accountId: 'x' });
    expect(m.ops).toEqual({ read: 1 });
    expect(m.requests).toBe(1);
  });
});
