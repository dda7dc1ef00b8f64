/**
 * Issue 12: UserBindings rows ((tid, oid) → username) spread over 16 partitions per tenant
 * (`~<h>-<tid>`), and the migration of rows written to the legacy per-tenant partitions (PartitionKey =
 * the tenant id): moved on lookup, settled before a claim, deleted on release, moved by the maintenance
 * timer, which then writes `meta`/`bindings-migrated`. Real app, real Azurite, the Entra stand-in's real
 * login form; requests counted with a pipeline policy on the app's own clients, never timed.
 */
import { randomUUID } from 'node:crypto';
import type { PipelinePolicy } from '@azure/core-rest-pipeline';
import type { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountObjectId, DEMO_ENTRA } from '../../scripts/standins/entra.ts';
import { ConflictError } from '../../shared/core/errors.ts';
import { migrateBindings } from '../../shared/ops/maintenance.ts';
import {
  BINDING_PREFIX,
  BINDINGS_MIGRATED_ROW,
  bindingPartition,
  LEGACY_BINDINGS_FILTER,
  META_PARTITION,
} from '../../shared/users/partitions.ts';
import { UserStore } from '../../shared/users/store.ts';
import { BrokerBrowser, createDemoIntegration, createUser, demoAccount } from '../helpers/signin.ts';
import { quietLogger, startTestApp, type TestApp } from '../helpers/stack.ts';
import { userRecord, usersApi } from '../helpers/users.ts';

// biome-ignore lint/suspicious/noExplicitAny: rows are checked by assertions.
type Json = Record<string, any>;

const TID = DEMO_ENTRA.tenantId.toLowerCase();
const oidOf = (account: string) => accountObjectId(DEMO_ENTRA.tenantId, account);

async function rowOrUndefined(table: TableClient, pk: string, rk: string): Promise<Json | undefined> {
  try {
    return await table.getEntity<Json>(pk, rk);
  } catch {
    return undefined;
  }
}

async function rowsWhere(table: TableClient, filter: string): Promise<Json[]> {
  const out: Json[] = [];
  for await (const e of table.listEntities({ queryOptions: { filter } })) out.push(e);
  return out;
}

/** Every binding row of identity (tid, oid), wherever it is (legacy or new partition). */
async function bindingRows(table: TableClient, tid: string, oid: string): Promise<Json[]> {
  return rowsWhere(table, `RowKey eq '${oid}'`).then((rows) =>
    rows.filter((r) => r.partitionKey === tid || r.partitionKey === bindingPartition(tid, oid)),
  );
}

/** Counts the requests the given clients send while `fn` runs ("<table> <METHOD> <path>"). */
async function countRequests(tables: TableClient[], fn: () => Promise<unknown>): Promise<string[]> {
  const seen: string[] = [];
  const name = `count-bindings-${randomUUID()}`;
  for (const t of tables) {
    const policy: PipelinePolicy = {
      name,
      sendRequest: (req, next) => {
        seen.push(`${req.method} ${decodeURIComponent(new URL(req.url).pathname)}`);
        return next(req);
      },
    };
    t.pipeline.addPolicy(policy);
  }
  try {
    await fn();
  } finally {
    for (const t of tables) t.pipeline.removePolicy({ name });
  }
  return seen;
}

/**
 * A binding as written before issue 12: the user row's binding columns, and the UserBindings row in
 * the tenant's own partition (PartitionKey = the tenant id).
 */
async function legacyBinding(app: TestApp, username: string, tid: string, oid: string): Promise<void> {
  const boundAt = new Date().toISOString();
  await app.services.users.store.merge(username, {
    bindingTenantId: tid,
    bindingObjectId: oid,
    boundAt,
  });
  await app.services.tables.userBindings.createEntity({ partitionKey: tid, rowKey: oid, username, boundAt });
}

describe('bindingPartition', () => {
  it('16 partitions per tenant, deterministic, all above every legacy key (a tenant GUID)', () => {
    const oid = randomUUID();
    expect(bindingPartition(TID, oid)).toBe(bindingPartition(TID.toUpperCase(), oid.toUpperCase()));
    expect(bindingPartition(TID, oid)).toMatch(new RegExp(`^~[0-9a-f]-${TID}$`));
    const used = new Set(Array.from({ length: 300 }, () => bindingPartition(TID, randomUUID())));
    expect(used.size).toBe(16);
    // The legacy range holds every key made of `[A-Za-z0-9-]` (any tenant id) and no new key.
    for (const legacy of [TID, 'ffffffff-ffff-ffff-ffff-ffffffffffff', 'ZZZ', 'zzz', '0']) {
      expect(legacy < BINDING_PREFIX).toBe(true);
    }
    for (const pk of used) expect(pk >= BINDING_PREFIX).toBe(true);
    expect(LEGACY_BINDINGS_FILTER).toBe("PartitionKey lt '~'");
  });
});

describe('sign-ins with bindings in the new partitions', () => {
  let app: TestApp;
  let integration: { id: string };
  beforeAll(async () => {
    app = await startTestApp();
    integration = await createDemoIntegration(app);
  });
  afterAll(() => app.close());

  const user = (username: string) =>
    createUser(app, {
      username,
      email: demoAccount(username),
      verifyType: { integrationId: integration.id },
    });

  it('a first sign-in (username first) writes its binding to ~<h>-<tid>, and IdP-first finds it there', async () => {
    await user('np-first');
    const b = new BrokerBrowser(app);
    expect((await b.signInWithEntra('np-first', 'np-first')).callback.status).toBe(302);
    const bindings = app.services.tables.userBindings;
    const oid = oidOf('np-first');
    expect((await rowOrUndefined(bindings, bindingPartition(TID, oid), oid))?.username).toBe('np-first');
    expect(await rowOrUndefined(bindings, TID, oid)).toBeUndefined();
    expect(app.services.users.store.knowsBindingsMigrated).toBe(true);

    const idp = new BrokerBrowser(app);
    const start = await idp.get(`/api/auth/login/${integration.id}`);
    const cb = await idp.get(await idp.entraLogin(start.headers.get('location') as string, 'np-first'));
    expect(cb.status).toBe(302);
    expect(await (await idp.session()).json()).toMatchObject({ username: 'np-first' });
    // The lookup is one point read of UserBindings (the marker is known: no legacy read).
    const reads = await countRequests([bindings], () => app.services.users.findByBinding(TID, oid));
    expect(reads).toHaveLength(1);
    expect(reads[0]).toContain(`UserBindings(PartitionKey='${bindingPartition(TID, oid)}',RowKey='${oid}')`);
  });

  it('an IdP-first first sign-in (matched by claim) binds in the new partition', async () => {
    await user('np-idp');
    const idp = new BrokerBrowser(app);
    const start = await idp.get(`/api/auth/login/${integration.id}`);
    const cb = await idp.get(await idp.entraLogin(start.headers.get('location') as string, 'np-idp'));
    expect(cb.status).toBe(302);
    expect(await (await idp.session()).json()).toMatchObject({ username: 'np-idp' });
    const oid = oidOf('np-idp');
    const rows = await bindingRows(app.services.tables.userBindings, TID, oid);
    expect(rows.map((r) => [r.partitionKey, r.username])).toEqual([[bindingPartition(TID, oid), 'np-idp']]);
  });
});

describe('legacy binding rows (written before the partitions)', () => {
  let app: TestApp;
  let integration: { id: string };
  let bindings: TableClient;
  const call = (method: string, path: string, json?: unknown) => usersApi(app)(method, path, json);
  const user = (username: string) =>
    createUser(app, {
      username,
      email: demoAccount(username),
      verifyType: { integrationId: integration.id },
    });

  beforeAll(async () => {
    app = await startTestApp();
    bindings = app.services.tables.userBindings;
    integration = await createDemoIntegration(app);
    // A legacy row exists before the app's first binding lookup (else the instance would find the
    // legacy range empty, write the marker and stop looking).
    await bindings.createEntity({
      partitionKey: randomUUID(),
      rowKey: randomUUID(),
      username: 'someone-else',
      boundAt: new Date().toISOString(),
    });
  });
  afterAll(() => app.close());

  it('a legacy row is moved exactly once under 60 parallel lookups, every lookup finds the user', async () => {
    await user('lg-burst');
    const oid = oidOf('lg-burst');
    await legacyBinding(app, 'lg-burst', TID, oid);
    const found = await Promise.all(
      Array.from({ length: 60 }, () => app.services.users.findByBinding(TID, oid)),
    );
    expect(found.every((u) => u?.username === 'lg-burst')).toBe(true);
    const rows = await bindingRows(bindings, TID, oid);
    expect(rows.map((r) => [r.partitionKey, r.username])).toEqual([[bindingPartition(TID, oid), 'lg-burst']]);
    expect(app.services.users.store.knowsBindingsMigrated).toBe(false);
  });

  it('an IdP-first sign-in of a user with a legacy binding signs in and moves the row', async () => {
    await user('lg-idp');
    const oid = oidOf('lg-idp');
    await legacyBinding(app, 'lg-idp', TID, oid);
    const idp = new BrokerBrowser(app);
    const start = await idp.get(`/api/auth/login/${integration.id}`);
    const cb = await idp.get(await idp.entraLogin(start.headers.get('location') as string, 'lg-idp'));
    expect(cb.status).toBe(302);
    expect(await (await idp.session()).json()).toMatchObject({ username: 'lg-idp' });
    const rows = await bindingRows(bindings, TID, oid);
    expect(rows.map((r) => r.partitionKey)).toEqual([bindingPartition(TID, oid)]);
  });

  it('50 parallel binds of other users to an identity held by a legacy row: all refused, no second binding', async () => {
    await user('lg-holder');
    const oid = oidOf('lg-holder');
    await legacyBinding(app, 'lg-holder', TID, oid);
    const names = Array.from({ length: 50 }, (_, i) => `lg-rival${i}`);
    for (const n of names)
      await app.services.users.store.insert(userRecord(n, { integrationId: integration.id }));
    const results = await Promise.allSettled(
      names.map(async (n) => {
        const u = await app.services.users.getByUsername(n);
        return app.services.users.bind(n, { tenantId: TID, objectId: oid }, u?.etag ?? '');
      }),
    );
    for (const r of results) {
      expect(r.status).toBe('rejected');
      expect((r as PromiseRejectedResult).reason).toBeInstanceOf(ConflictError);
    }
    const rows = await bindingRows(bindings, TID, oid);
    expect(rows.map((r) => [r.partitionKey, r.username])).toEqual([
      [bindingPartition(TID, oid), 'lg-holder'],
    ]);
    expect((await app.services.users.findByBinding(TID, oid))?.username).toBe('lg-holder');
    for (const n of names) expect((await app.services.users.getByUsername(n))?.entraBinding).toBeNull();
  });

  it('20 parallel binds racing a stale legacy row (its user no longer bound): exactly one wins', async () => {
    const oid = randomUUID();
    // Left behind: the row points at a user who is not bound to it.
    await bindings.createEntity({ partitionKey: TID, rowKey: oid, username: 'lg-gone', boundAt: 'x' });
    const names = Array.from({ length: 20 }, (_, i) => `lg-race${i}`);
    for (const n of names) await app.services.users.store.insert(userRecord(n));
    const results = await Promise.allSettled(
      names.map(async (n) => {
        const u = await app.services.users.getByUsername(n);
        return app.services.users.bind(n, { tenantId: TID, objectId: oid }, u?.etag ?? '');
      }),
    );
    const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [names[i]] : []));
    expect(won).toHaveLength(1);
    for (const r of results) {
      if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(ConflictError);
    }
    const rows = await bindingRows(bindings, TID, oid);
    expect(rows.map((r) => [r.partitionKey, r.username])).toEqual([[bindingPartition(TID, oid), won[0]]]);
    const bound = [];
    for (const n of names) if ((await app.services.users.getByUsername(n))?.entraBinding) bound.push(n);
    expect(bound).toEqual(won);
  });

  it('removing a binding deletes a legacy copy too: the identity is unbound and stays so', async () => {
    await user('lg-remove');
    const oid = oidOf('lg-remove');
    await legacyBinding(app, 'lg-remove', TID, oid);
    // A lookup moves it; then the legacy copy is put back as a mover whose legacy delete never finished
    // (or is still on its way) would have left it.
    expect((await app.services.users.findByBinding(TID, oid))?.username).toBe('lg-remove');
    await bindings.createEntity({ partitionKey: TID, rowKey: oid, username: 'lg-remove', boundAt: 'x' });
    expect((await call('DELETE', '/lg-remove/binding')).status).toBe(204);
    expect(await bindingRows(bindings, TID, oid)).toEqual([]);
    expect(await app.services.users.findByBinding(TID, oid)).toBeUndefined();
    // Nor does the timer bring it back, whenever it runs.
    const later = new UserStore(app.services.tables.users, bindings, () => Date.now() + 10 * 60_000);
    await later.migrateLegacyBindings();
    expect(await bindingRows(bindings, TID, oid)).toEqual([]);
    // The next sign-in binds again, in the new partition.
    const b = new BrokerBrowser(app);
    expect((await b.signInWithEntra('lg-remove', 'lg-remove')).callback.status).toBe(302);
    expect((await bindingRows(bindings, TID, oid)).map((r) => r.partitionKey)).toEqual([
      bindingPartition(TID, oid),
    ]);
  });

  it('deleting a user deletes its legacy binding row (not moved yet) too', async () => {
    await user('lg-delete');
    const oid = oidOf('lg-delete');
    await legacyBinding(app, 'lg-delete', TID, oid);
    expect((await call('DELETE', '/lg-delete')).status).toBe(204);
    expect(await bindingRows(bindings, TID, oid)).toEqual([]);
    expect(await app.services.users.findByBinding(TID, oid)).toBeUndefined();
  });
});

describe('the maintenance timer moves legacy bindings of every tenant and writes the marker', () => {
  let app: TestApp;
  let bindings: TableClient;
  let users: TableClient;
  const tenants = [randomUUID(), randomUUID(), randomUUID()];
  const legacy: { tid: string; oid: string; username: string }[] = [];
  beforeAll(async () => {
    app = await startTestApp();
    bindings = app.services.tables.userBindings;
    users = app.services.tables.users;
    for (const [t, tid] of tenants.entries()) {
      for (let i = 0; i < 4; i++) {
        const row = { tid, oid: randomUUID(), username: `tm${t}-${i}` };
        legacy.push(row);
        await bindings.createEntity({
          partitionKey: tid,
          rowKey: row.oid,
          username: row.username,
          boundAt: 'x',
        });
      }
    }
  });
  afterAll(() => app.close());

  it('before the marker a miss reads new, legacy, new; the runs move every row; after it a miss is one read', async () => {
    const store = app.services.users.store;
    const [tid] = tenants as [string];
    // The instance's first miss reads the marker (none) and the legacy range (not empty).
    const first = await countRequests([users, bindings], () => store.bindingOwner(tid, randomUUID()));
    expect(first.filter((r) => r.includes(`PartitionKey='${META_PARTITION}'`))).toHaveLength(1);
    expect(store.knowsBindingsMigrated).toBe(false);
    const before = await countRequests([users, bindings], () => store.bindingOwner(tid, randomUUID()));
    expect(before).toHaveLength(3);
    // A claim reads the legacy row first (then inserts); a release looks for a legacy copy too.
    const claimed = randomUUID();
    const at = new Date().toISOString();
    expect(
      await countRequests([users, bindings], () => store.claimBinding(tid, claimed, 'tm-c', at)),
    ).toHaveLength(2);
    expect(
      await countRequests([users, bindings], () => store.releaseBinding(tid, claimed, 'tm-c')),
    ).toHaveLength(3);

    expect(await store.migrateLegacyBindings(5)).toEqual({ moved: 5, migrated: false });
    expect(await rowOrUndefined(users, META_PARTITION, BINDINGS_MIGRATED_ROW)).toBeUndefined();
    const second = await migrateBindings(store, quietLogger());
    expect(second).toEqual({ moved: 7, migrated: true });
    expect(await rowsWhere(bindings, LEGACY_BINDINGS_FILTER)).toEqual([]);
    expect(await rowOrUndefined(users, META_PARTITION, BINDINGS_MIGRATED_ROW)).toBeDefined();
    for (const { tid: t, oid, username } of legacy) {
      expect((await rowOrUndefined(bindings, bindingPartition(t, oid), oid))?.username).toBe(username);
    }

    // After: this instance knows at once; a miss and a hit are one read each, nothing in Users.
    expect(store.knowsBindingsMigrated).toBe(true);
    expect(await countRequests([users, bindings], () => store.bindingOwner(tid, randomUUID()))).toHaveLength(
      1,
    );
    const hit = legacy[0] as (typeof legacy)[number];
    expect(await store.bindingOwner(hit.tid, hit.oid)).toBe(hit.username);
    expect(await countRequests([users, bindings], () => store.bindingOwner(hit.tid, hit.oid))).toHaveLength(
      1,
    );
    // Claims and releases pay nothing for the migration any more.
    const oidAfter = randomUUID();
    const claim = await countRequests([users, bindings], () =>
      store.claimBinding(tid, oidAfter, 'tm-new', new Date().toISOString()),
    );
    expect(claim).toHaveLength(1);
    expect(
      await countRequests([users, bindings], () => store.releaseBinding(tid, oidAfter, 'tm-new')),
    ).toHaveLength(2);

    // Another instance reads the marker once (on its first miss), then never again.
    const other = new UserStore(users, bindings);
    expect(await countRequests([users, bindings], () => other.bindingOwner(tid, randomUUID()))).toHaveLength(
      2,
    );
    expect(await countRequests([users, bindings], () => other.bindingOwner(tid, randomUUID()))).toHaveLength(
      1,
    );
    expect(await migrateBindings(store, quietLogger())).toEqual({ moved: 0, migrated: true });
  });

  it('a new deployment (no legacy bindings) writes the marker on its first miss: one range query', async () => {
    const fresh = await startTestApp();
    try {
      const store = fresh.services.users.store;
      const t = [fresh.services.tables.users, fresh.services.tables.userBindings];
      const first = await countRequests(t, () => store.bindingOwner(TID, randomUUID()));
      // The new partition, the marker (none), the legacy range (one keys-only query of 1 row), the marker write.
      expect(first).toHaveLength(4);
      expect(first.filter((r) => r.startsWith('GET') && r.endsWith('UserBindings()'))).toHaveLength(1);
      expect(store.knowsBindingsMigrated).toBe(true);
      expect(await countRequests(t, () => store.bindingOwner(TID, randomUUID()))).toHaveLength(1);
    } finally {
      await fresh.close();
    }
  });
});
