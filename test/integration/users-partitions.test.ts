/**
 * User rows spread over 16 hashed partitions (`u0`..`uf`), id index rows over `id-0`..`id-f`, and the
 * listing that merges the partitions. Real app, real Azurite; requests are counted with a pipeline
 * policy on the app's own Users client, never timed.
 */
import type { PipelinePolicy } from '@azure/core-rest-pipeline';
import type { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ID_PARTITIONS, idPartition, USER_PARTITIONS, userPartition } from '../../shared/users/partitions.ts';
import type { NewUserRecord } from '../../shared/users/store.ts';
import { startTestApp, type TestApp } from '../helpers/stack.ts';
import { userRecord, usersApi } from '../helpers/users.ts';

// biome-ignore lint/suspicious/noExplicitAny: JSON bodies are checked by assertions.
type Json = Record<string, any>;

const PASSWORD = 'a long and unusual passphrase';

async function rowsOf(table: TableClient, pk: string): Promise<Json[]> {
  const out: Json[] = [];
  for await (const e of table.listEntities({ queryOptions: { filter: `PartitionKey eq '${pk}'` } }))
    out.push(e);
  return out;
}

async function rowOrUndefined(table: TableClient, pk: string, rk: string): Promise<Json | undefined> {
  try {
    return await table.getEntity<Json>(pk, rk);
  } catch {
    return undefined;
  }
}

/** Counts the requests the app's Users client sends while `fn` runs. */
async function countRequests(table: TableClient, fn: () => Promise<unknown>): Promise<string[]> {
  const seen: string[] = [];
  const policy: PipelinePolicy = {
    name: 'count-users-partitions-test',
    sendRequest: (req, next) => {
      seen.push(`${req.method} ${decodeURIComponent(new URL(req.url).pathname)}`);
      return next(req);
    },
  };
  table.pipeline.addPolicy(policy);
  try {
    await fn();
  } finally {
    table.pipeline.removePolicy({ name: policy.name });
  }
  return seen;
}

function record(username: string, integrationId?: string): NewUserRecord {
  return userRecord(username, { integrationId });
}

describe('users in hashed partitions', () => {
  let app: TestApp;
  let table: TableClient;
  beforeAll(async () => {
    app = await startTestApp();
    table = app.services.tables.users;
  });
  afterAll(() => app.close());

  const call = (method: string, path: string, json?: unknown, headers: Record<string, string> = {}) =>
    usersApi(app)(method, path, json, headers);

  it('userPartition is one of 16, stable, and spreads names over all of them', () => {
    expect(USER_PARTITIONS).toHaveLength(16);
    expect(ID_PARTITIONS).toHaveLength(16);
    expect(userPartition('alice')).toBe(userPartition('alice'));
    const used = new Set(Array.from({ length: 250 }, (_, i) => userPartition(`spread${i}`)));
    expect([...used].sort()).toEqual([...USER_PARTITIONS].sort());
    expect(idPartition('c0ffee00-0000-4000-8000-000000000000')).toBe('id-c');
  });

  it('a new user lands in its hashed partition, its id index row in id-<first hex digit>', async () => {
    const created = await call('POST', '', {
      username: 'part-new',
      verifyType: 'password',
      password: PASSWORD,
    });
    expect(created.status).toBe(201);
    const row = await rowOrUndefined(table, userPartition('part-new'), 'part-new');
    expect(row?.userId).toBe(created.body.id);
    expect(row?.etag).toBe(created.body.etag);
    const index = await rowOrUndefined(table, idPartition(created.body.id), created.body.id);
    expect(index?.username).toBe('part-new');
    // A hit is one point read; getById is two (index, user row).
    expect(await countRequests(table, () => app.services.users.getByUsername('part-new'))).toHaveLength(1);
    expect(await countRequests(table, () => app.services.users.getById(created.body.id))).toHaveLength(2);
  });
});

describe('listing over the partitions (250 users)', () => {
  let app: TestApp;
  let table: TableClient;
  const all: string[] = [];
  const integrationUsers: string[] = [];
  beforeAll(async () => {
    app = await startTestApp();
    table = app.services.tables.users;
    const records: NewUserRecord[] = [];
    for (let i = 0; i < 230; i++) {
      const name = `${['ann', 'bob', 'cy'][i % 3]}${String(i).padStart(3, '0')}`;
      const r = record(name, i % 7 === 0 ? 'int-seven' : undefined);
      if (i % 7 === 0) integrationUsers.push(name);
      records.push(r);
      all.push(name);
    }
    await app.services.users.store.insertBatch(records);
    // A few more inserted one by one (as the management API does), in the same partitions.
    for (let i = 0; i < 20; i++) {
      const name = `bob${String(500 + i)}`;
      await app.services.users.store.insert(record(name, i % 2 === 0 ? 'int-seven' : undefined));
      if (i % 2 === 0) integrationUsers.push(name);
      all.push(name);
    }
    all.sort();
    integrationUsers.sort();
  }, 120_000);
  afterAll(() => app.close());

  async function walk(query: string, limit: number) {
    const names: string[] = [];
    let cursor: string | null = null;
    do {
      const c: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
      const r = await app.admin(`/api/manage/users?limit=${limit}${query}${c}`);
      expect(r.status).toBe(200);
      const body = (await r.json()) as {
        items: { username: string; id: string }[];
        nextCursor: string | null;
      };
      expect(body.items.length).toBeLessThanOrEqual(limit);
      for (const u of body.items) expect(u.id).toMatch(/^[0-9a-f-]{36}$/);
      names.push(...body.items.map((u) => u.username));
      cursor = body.nextCursor;
    } while (cursor);
    return names;
  }

  it('insertBatch and insert put the rows in their hashed partitions', async () => {
    let n = 0;
    for (const pk of USER_PARTITIONS) {
      const rows = await rowsOf(table, pk);
      for (const r of rows) expect(userPartition(r.rowKey)).toBe(pk);
      n += rows.length;
    }
    expect(n).toBe(250);
  });

  it('pages of 7 give every user once, in username order', async () => {
    expect(await walk('', 7)).toEqual(all);
    expect(await walk('', 100)).toEqual(all);
  });

  it('prefix and verify-type filters page the same way', async () => {
    expect(await walk('&prefix=bob', 7)).toEqual(all.filter((n) => n.startsWith('bob')));
    expect(await walk('&prefix=cy1', 3)).toEqual(all.filter((n) => n.startsWith('cy1')));
    expect(await walk('&verifyType=int-seven', 7)).toEqual(integrationUsers);
    expect(await app.services.users.countUsersAssignedTo('int-seven')).toBe(integrationUsers.length);
  });

  it('a page costs one query per partition, read in parallel (bounded, not the whole table)', async () => {
    const seen = await countRequests(table, () => app.services.users.list({ limit: 7 }));
    const queries = seen.filter((s) => s.startsWith('GET') && !s.includes('PartitionKey='));
    // The 16 partitions, one page each.
    expect(queries, seen.join('\n')).toHaveLength(16);
  });
});
