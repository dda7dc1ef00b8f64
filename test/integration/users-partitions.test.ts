/**
 * Issue 12: user rows spread over 16 hashed partitions (`u0`..`uf`), id index rows over `id-0`..`id-f`,
 * and the migration of rows written to the legacy single partitions (`user`, `id`): moved on first
 * read, by listing and by the maintenance timer, which then writes the marker. Real app, real Azurite;
 * requests are counted with a pipeline policy on the app's own Users client, never timed.
 */
import { randomUUID } from 'node:crypto';
import type { PipelinePolicy } from '@azure/core-rest-pipeline';
import type { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateUsers } from '../../shared/ops/maintenance.ts';
import { hashPassword } from '../../shared/passwords/index.ts';
import {
  ID_PARTITIONS,
  idPartition,
  LEGACY_ID_PARTITION,
  LEGACY_USER_PARTITION,
  META_PARTITION,
  MIGRATED_ROW,
  moveRow,
  USER_PARTITIONS,
  userPartition,
} from '../../shared/users/partitions.ts';
import { type NewUserRecord, UserStore } from '../../shared/users/store.ts';
import { BrokerBrowser } from '../helpers/signin.ts';
import { quietLogger, startTestApp, type TestApp } from '../helpers/stack.ts';
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

/** A user row (and its id index row) as written before issue 12: in the single `user` and `id` partitions. */
async function legacyUser(table: TableClient, username: string, over: Json = {}): Promise<string> {
  const id = randomUUID();
  const now = new Date().toISOString();
  await table.createEntity({ partitionKey: LEGACY_ID_PARTITION, rowKey: id, username });
  await table.createEntity({
    partitionKey: LEGACY_USER_PARTITION,
    rowKey: username,
    userId: id,
    displayName: username,
    email: '',
    verifyType: 'password',
    passwordHash: '',
    isAdmin: false,
    roles: '[]',
    disabled: false,
    bindingTenantId: '',
    bindingObjectId: '',
    boundAt: '',
    lastLoginAt: '',
    sessionsRevokedAt: '',
    createdAt: now,
    updatedAt: now,
    ...over,
  });
  return id;
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
  const legacyIds = new Map<string, string>();
  const legacyId = (name: string) => legacyIds.get(name) as string;
  beforeAll(async () => {
    app = await startTestApp();
    table = app.services.tables.users;
    // Legacy rows exist before the new code's first read (nothing writes them any more: an instance
    // that finds the legacy partitions empty writes the marker and stops looking there).
    const legacy: [string, Json][] = [
      ['legacy-burst', { displayName: 'Legacy Burst' }],
      ['legacy-race', { displayName: 'Before' }],
      ['legacy-etag', {}],
      ['legacy-signin', { passwordHash: await hashPassword(PASSWORD) }],
      ['legacy-gone', {}],
      ['legacy-changed', { displayName: 'Old' }],
      ['legacy-taken', {}],
      ['legacy-deleted', {}],
    ];
    for (const [name, over] of legacy) legacyIds.set(name, await legacyUser(table, name, over));
    const now = new Date().toISOString();
    await table.createEntity({
      partitionKey: LEGACY_USER_PARTITION,
      rowKey: 'legacy-noid',
      displayName: 'No Id',
      verifyType: 'password',
      isAdmin: false,
      disabled: false,
      createdAt: now,
      updatedAt: now,
    });
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
    // Never the legacy partition (`i` + `d` would have been).
    expect(idPartition('d0ffee00-0000-4000-8000-000000000000')).not.toBe(LEGACY_ID_PARTITION);
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
    expect(await rowOrUndefined(table, LEGACY_USER_PARTITION, 'part-new')).toBeUndefined();
    const index = await rowOrUndefined(table, idPartition(created.body.id), created.body.id);
    expect(index?.username).toBe('part-new');
    expect(await rowOrUndefined(table, LEGACY_ID_PARTITION, created.body.id)).toBeUndefined();
    // A hit is one point read; getById is two (index, user row).
    expect(await countRequests(table, () => app.services.users.getByUsername('part-new'))).toHaveLength(1);
    expect(await countRequests(table, () => app.services.users.getById(created.body.id))).toHaveLength(2);
  });

  it('a legacy row is moved exactly once under 50 parallel reads: one row at the new place, same id, none left', async () => {
    const id = legacyId('legacy-burst');
    const reads = await Promise.all(
      Array.from({ length: 50 }, () => app.services.users.getByUsername('legacy-burst')),
    );
    expect(reads.every((r) => r?.id === id && r.displayName === 'Legacy Burst')).toBe(true);
    const moved = await rowOrUndefined(table, userPartition('legacy-burst'), 'legacy-burst');
    expect(moved?.userId).toBe(id);
    expect(moved?.displayName).toBe('Legacy Burst');
    expect(await rowOrUndefined(table, LEGACY_USER_PARTITION, 'legacy-burst')).toBeUndefined();
    // Every reader got the moved row's etag (none a stale legacy copy).
    expect(new Set(reads.map((r) => r?.etag))).toEqual(new Set([moved?.etag]));
    // The id index row moves on its first read too.
    const byId = await Promise.all(Array.from({ length: 50 }, () => app.services.users.getById(id)));
    expect(byId.every((u) => u?.username === 'legacy-burst')).toBe(true);
    expect((await rowOrUndefined(table, idPartition(id), id))?.username).toBe('legacy-burst');
    expect(await rowOrUndefined(table, LEGACY_ID_PARTITION, id)).toBeUndefined();
  });

  it('a legacy row without an id is moved and gets one id under 30 parallel reads', async () => {
    const reads = await Promise.all(
      Array.from({ length: 30 }, () => app.services.users.getByUsername('legacy-noid')),
    );
    const ids = new Set(reads.map((r) => r?.id));
    expect(ids.size).toBe(1);
    const [id] = [...ids] as [string];
    expect((await rowOrUndefined(table, userPartition('legacy-noid'), 'legacy-noid'))?.userId).toBe(id);
    expect(await rowOrUndefined(table, LEGACY_USER_PARTITION, 'legacy-noid')).toBeUndefined();
    expect((await app.services.users.getById(id))?.username).toBe('legacy-noid');
  });

  it('a PATCH racing the move loses nothing: the mover’s stale copy gets 412 and is re-applied', async () => {
    // Hold the move between "create at the new place" and "delete the legacy row".
    let reached!: () => void;
    const atGate = new Promise<void>((r) => {
      reached = r;
    });
    let open!: () => void;
    const gate = new Promise<void>((r) => {
      open = r;
    });
    let held = false;
    const statuses: number[] = [];
    table.pipeline.addPolicy({
      name: 'hold-legacy-delete',
      sendRequest: async (req, next) => {
        const path = decodeURIComponent(new URL(req.url).pathname);
        if (!held && req.method === 'DELETE' && path.includes(`PartitionKey='${LEGACY_USER_PARTITION}'`)) {
          held = true;
          reached();
          await gate;
        }
        const isWrite =
          req.method === 'PUT' && path.includes(`PartitionKey='${userPartition('legacy-race')}'`);
        try {
          const res = await next(req);
          if (isWrite) statuses.push(res.status);
          return res;
        } catch (err) {
          // A later policy throws for an error status.
          if (isWrite) statuses.push((err as { statusCode?: number }).statusCode ?? 0);
          throw err;
        }
      },
    });
    try {
      // A's read moves the row and is held before the legacy delete, holding the moved row's first etag.
      const a = call('PATCH', '/legacy-race', { displayName: 'From A' });
      await atGate;
      // B reads the moved row (a hit) and changes it meanwhile.
      const b = await call('PATCH', '/legacy-race', { email: 'race@example.com' });
      expect(b.status).toBe(200);
      open();
      const done = await a;
      expect(done.status, JSON.stringify(done.body)).toBe(200);
    } finally {
      table.pipeline.removePolicy({ name: 'hold-legacy-delete' });
      open();
    }
    // A's first write was refused (412) and re-applied on the fresh row: both changes are there.
    expect(statuses).toEqual([204, 412, 204]);
    const final = await call('GET', '/legacy-race');
    expect(final.body).toMatchObject({ displayName: 'From A', email: 'race@example.com' });
    const rows = (await rowsOf(table, userPartition('legacy-race'))).filter(
      (r) => r.rowKey === 'legacy-race',
    );
    expect(rows).toHaveLength(1);
    expect(await rowOrUndefined(table, LEGACY_USER_PARTITION, 'legacy-race')).toBeUndefined();
  });

  it('an etag read before the move no longer matches: If-Match with it answers 412', async () => {
    const legacy = await rowOrUndefined(table, LEGACY_USER_PARTITION, 'legacy-etag');
    const r = await call('PATCH', '/legacy-etag', { displayName: 'X' }, { 'if-match': legacy?.etag });
    expect(r.status).toBe(412);
    const fresh = await call('GET', '/legacy-etag');
    const ok = await call('PATCH', '/legacy-etag', { displayName: 'X' }, { 'if-match': fresh.body.etag });
    expect(ok.status).toBe(200);
  });

  it('a password sign-in of a legacy user moves the row and signs in (lastLoginAt written at the new place)', async () => {
    const id = legacyId('legacy-signin');
    const b = new BrokerBrowser(app);
    const res = await b.post('/api/auth/password', { username: 'legacy-signin', password: PASSWORD });
    expect(res.status).toBe(303);
    expect(await (await b.session()).json()).toMatchObject({ username: 'legacy-signin' });
    const moved = await rowOrUndefined(table, userPartition('legacy-signin'), 'legacy-signin');
    expect(moved?.userId).toBe(id);
    expect(moved?.lastLoginAt).toMatch(/^\d{4}-/);
    expect(await rowOrUndefined(table, LEGACY_USER_PARTITION, 'legacy-signin')).toBeUndefined();
  });

  it('a move whose legacy row went away meanwhile takes its copy back (no deleted user comes back)', async () => {
    const stale = (await rowOrUndefined(table, LEGACY_USER_PARTITION, 'legacy-gone')) as Json & {
      partitionKey: string;
      rowKey: string;
      etag: string;
    };
    // Another instance moved it and the user was deleted since: the legacy row is gone.
    await table.deleteEntity(LEGACY_USER_PARTITION, 'legacy-gone');
    expect(await moveRow(table, stale, userPartition('legacy-gone'))).toBeUndefined();
    expect(await rowOrUndefined(table, userPartition('legacy-gone'), 'legacy-gone')).toBeUndefined();
    expect(await app.services.users.getByUsername('legacy-gone')).toBeUndefined();
  });

  it('a move whose legacy row changed meanwhile takes its copy back and the next read moves the new version', async () => {
    const stale = (await rowOrUndefined(table, LEGACY_USER_PARTITION, 'legacy-changed')) as Json & {
      partitionKey: string;
      rowKey: string;
      etag: string;
    };
    await table.updateEntity(
      { partitionKey: LEGACY_USER_PARTITION, rowKey: 'legacy-changed', displayName: 'New' },
      'Merge',
    );
    expect(await moveRow(table, stale, userPartition('legacy-changed'))).toBeUndefined();
    expect(await rowOrUndefined(table, userPartition('legacy-changed'), 'legacy-changed')).toBeUndefined();
    expect((await app.services.users.getByUsername('legacy-changed'))?.displayName).toBe('New');
    expect(await rowOrUndefined(table, LEGACY_USER_PARTITION, 'legacy-changed')).toBeUndefined();
  });

  it('a username held by a legacy row cannot be created again (409), and the row is kept', async () => {
    const id = legacyId('legacy-taken');
    const r = await call('POST', '', {
      username: 'legacy-taken',
      verifyType: 'password',
      password: PASSWORD,
    });
    expect(r.status).toBe(409);
    expect((await call('GET', '/legacy-taken')).body.id).toBe(id);
  });

  it('a deleted user does not come back from a legacy copy (a move whose legacy delete never finished)', async () => {
    // The first read moves the row; then the legacy copy is put back as a mover that timed out on its
    // legacy delete (or is still on its way to it) would have left it.
    expect((await call('GET', '/legacy-deleted')).status).toBe(200);
    const moved = (await rowOrUndefined(table, userPartition('legacy-deleted'), 'legacy-deleted')) as Json;
    const { etag: _e, timestamp: _t, partitionKey: _p, rowKey: _r, ...cols } = moved;
    await table.createEntity({ ...cols, partitionKey: LEGACY_USER_PARTITION, rowKey: 'legacy-deleted' });
    expect((await call('DELETE', '/legacy-deleted')).status).toBe(204);
    expect((await call('GET', '/legacy-deleted')).status).toBe(404);
    expect(await app.services.users.getByUsername('legacy-deleted')).toBeUndefined();
    // Nor does the timer move it back, whenever it runs.
    const later = new UserStore(table, app.services.tables.userBindings, () => Date.now() + 10 * 60_000);
    await later.migrateLegacy();
    expect(await rowOrUndefined(table, userPartition('legacy-deleted'), 'legacy-deleted')).toBeUndefined();
    expect(await rowOrUndefined(table, LEGACY_USER_PARTITION, 'legacy-deleted')).toBeUndefined();
  });
});

describe('listing over the partitions (250 users, some still in the legacy partition)', () => {
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
    for (let i = 0; i < 20; i++) {
      const name = `bob${String(500 + i)}`;
      await legacyUser(table, name, i % 2 === 0 ? { verifyType: 'int-seven' } : {});
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

  it('insertBatch put the rows in their hashed partitions', async () => {
    let n = 0;
    for (const pk of USER_PARTITIONS) {
      const rows = await rowsOf(table, pk);
      for (const r of rows) expect(userPartition(r.rowKey)).toBe(pk);
      n += rows.length;
    }
    expect(n).toBe(230);
  });

  it('a legacy row moved by another reader while a page is being read is listed, not lost', async () => {
    // The page's query of the legacy partition is held until the new partitions' queries could have
    // answered; then another reader moves bob500 out of it, and only then is the legacy query sent.
    let held = false;
    const policy: PipelinePolicy = {
      name: 'move-during-listing',
      sendRequest: async (req, next) => {
        const filter = new URL(req.url).searchParams.get('$filter') ?? '';
        if (!held && req.method === 'GET' && filter.includes(`PartitionKey eq '${LEGACY_USER_PARTITION}'`)) {
          held = true;
          await new Promise((r) => setTimeout(r, 500));
          expect((await app.services.users.store.get('bob500'))?.username).toBe('bob500');
          expect(await rowOrUndefined(table, LEGACY_USER_PARTITION, 'bob500')).toBeUndefined();
        }
        return next(req);
      },
    };
    table.pipeline.addPolicy(policy);
    try {
      const r = await app.admin('/api/manage/users?limit=50&prefix=bob50');
      expect(r.status).toBe(200);
      const names = ((await r.json()) as { items: { username: string }[] }).items.map((u) => u.username);
      expect(held).toBe(true);
      expect(names).toEqual(all.filter((n) => n.startsWith('bob50')));
    } finally {
      table.pipeline.removePolicy({ name: policy.name });
    }
  });

  it('pages of 7 give every user once, in username order (legacy rows included, and moved)', async () => {
    expect(await walk('', 7)).toEqual(all);
    // Listing moved the legacy rows it showed.
    expect(await rowsOf(table, LEGACY_USER_PARTITION)).toHaveLength(0);
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
    // 16 partitions + the legacy one (no marker yet on this instance), one page each.
    expect(queries, seen.join('\n')).toHaveLength(17);
  });
});

describe('the maintenance timer finishes the migration and writes the marker', () => {
  let app: TestApp;
  let table: TableClient;
  const ids: string[] = [];
  beforeAll(async () => {
    app = await startTestApp();
    table = app.services.tables.users;
    for (let i = 0; i < 12; i++) ids.push(await legacyUser(table, `timer${String(i).padStart(2, '0')}`));
  });
  afterAll(() => app.close());

  it('before the marker a miss reads new, legacy, new; after it a miss is one read', async () => {
    const store = app.services.users.store;

    // The instance's first miss looks for the marker; none, and the legacy partitions are not empty.
    const check = await countRequests(table, () => store.get('warm-the-marker-check'));
    expect(check.filter((r) => r.includes(`PartitionKey='${META_PARTITION}'`))).toHaveLength(1);
    expect(store.knowsMigrated).toBe(false);
    expect(await rowOrUndefined(table, META_PARTITION, MIGRATED_ROW)).toBeUndefined();
    // Before the marker: an unknown username costs 3 sequential reads (new, legacy, new again).
    const before = await countRequests(table, () => store.get('nobody-here'));
    expect(before).toHaveLength(3);

    // A run with a small batch moves some and leaves the marker unwritten.
    const first = await store.migrateLegacy(5);
    expect(first).toEqual({ moved: 5, migrated: false });
    expect(await rowOrUndefined(table, META_PARTITION, MIGRATED_ROW)).toBeUndefined();

    const log = quietLogger();
    const second = await migrateUsers(store, log);
    expect(second.migrated).toBe(true);
    expect(second.moved).toBe(7 + 12); // the other 7 user rows and all 12 id index rows
    expect(await rowsOf(table, LEGACY_USER_PARTITION)).toHaveLength(0);
    expect(await rowsOf(table, LEGACY_ID_PARTITION)).toHaveLength(0);
    expect(await rowOrUndefined(table, META_PARTITION, MIGRATED_ROW)).toBeDefined();
    for (let i = 0; i < 12; i++) {
      const name = `timer${String(i).padStart(2, '0')}`;
      expect((await rowOrUndefined(table, userPartition(name), name))?.userId).toBe(ids[i]);
      expect((await rowOrUndefined(table, idPartition(ids[i] as string), ids[i] as string))?.username).toBe(
        name,
      );
    }

    // After: this instance knows at once; a miss is one read, a hit one read.
    expect(store.knowsMigrated).toBe(true);
    expect(await countRequests(table, () => store.get('nobody-there'))).toHaveLength(1);
    expect(await countRequests(table, () => store.get('timer03'))).toHaveLength(1);
    expect(await countRequests(table, () => store.getById(randomUUID()))).toHaveLength(1);

    // Another instance reads the marker once (on its first miss), then skips the legacy read.
    const other = new UserStore(table, app.services.tables.userBindings);
    expect(await countRequests(table, () => other.get('nobody-1'))).toHaveLength(2);
    expect(await countRequests(table, () => other.get('nobody-2'))).toHaveLength(1);
    // And the run after the marker is a no-op.
    expect(await migrateUsers(store, log)).toEqual({ moved: 0, migrated: true });
  });

  it('a new deployment (no legacy rows) writes the marker on its first miss: from then on a miss is one read', async () => {
    const fresh = await startTestApp();
    try {
      const t = fresh.services.tables.users;
      const store = fresh.services.users.store;
      const first = await countRequests(t, () => store.get('nobody-yet'));
      // The new partition, the marker (none), the two legacy partitions (empty, in parallel), the marker write.
      expect(first).toHaveLength(5);
      expect(store.knowsMigrated).toBe(true);
      expect(await rowOrUndefined(t, META_PARTITION, MIGRATED_ROW)).toBeDefined();
      expect(await countRequests(t, () => store.get('nobody-still'))).toHaveLength(1);
    } finally {
      await fresh.close();
    }
  });

  it('a legacy row left behind by a mover that crashed after its create is cleaned up once its copy is old', async () => {
    const t = app.services.tables.users;
    await legacyUser(t, 'stranded');
    const legacy = (await rowOrUndefined(t, LEGACY_USER_PARTITION, 'stranded')) as Json;
    const { etag: _e, timestamp: _t, partitionKey: _p, rowKey: _r, ...cols } = legacy;
    await t.createEntity({ ...cols, partitionKey: userPartition('stranded'), rowKey: 'stranded' });
    // Fresh copy: its mover may still be on its way to delete the legacy row, so it is left.
    const now = new UserStore(t, app.services.tables.userBindings);
    expect((await now.migrateLegacy()).migrated).toBe(false);
    expect(await rowOrUndefined(t, LEGACY_USER_PARTITION, 'stranded')).toBeDefined();
    // Ten minutes on: deleted, the copy kept untouched.
    const later = new UserStore(t, app.services.tables.userBindings, () => Date.now() + 10 * 60_000);
    expect((await later.migrateLegacy()).migrated).toBe(true);
    expect(await rowOrUndefined(t, LEGACY_USER_PARTITION, 'stranded')).toBeUndefined();
    expect((await rowOrUndefined(t, userPartition('stranded'), 'stranded'))?.displayName).toBe('stranded');
  });
});
