/**
 * Users' immutable id (the OP's `sub`), role names, and `sessionsRevokedAt` (OP6), through
 * the real app against Azurite.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../../shared/core/clock.ts';
import { issuedBeforeRevocation } from '../../shared/users/revocation.ts';
import { userPartition } from '../../shared/users/store.ts';
import { startTestApp, type TestApp } from '../helpers/stack.ts';
import { usersApi } from '../helpers/users.ts';

// biome-ignore lint/suspicious/noExplicitAny: JSON bodies are checked by assertions.
type Json = Record<string, any>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const PASSWORD = 'a long and unusual passphrase';
const clock = manualClock(Date.parse('2026-11-30T12:00:00Z'));

describe('users: immutable id, role names, sessionsRevokedAt', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ clock });
  });
  afterAll(() => app.close());

  const call = (method: string, path: string, json?: unknown, headers: Record<string, string> = {}) =>
    usersApi(app)(method, path, json, headers);

  const create = async (username: string, over: Record<string, unknown> = {}) => {
    const r = await call('POST', '', { username, verifyType: 'password', password: PASSWORD, ...over });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    return r.body;
  };

  const idRows = async () => {
    const out: Json[] = [];
    for await (const e of app.services.tables.users.listEntities({
      // The 16 partitions id-0..id-f.
      queryOptions: { filter: `PartitionKey ge 'id-0' and PartitionKey le 'id-f'` },
    }))
      out.push(e);
    return out;
  };

  it('every new user gets a random UUID id, shown in the User shape, unique', async () => {
    const a = await create('id-a');
    const b = await create('id-b');
    expect(a.id).toMatch(UUID);
    expect(b.id).toMatch(UUID);
    expect(a.id).not.toBe(b.id);
    expect((await call('GET', '/id-a')).body.id).toBe(a.id);
    const list = await call('GET', '');
    expect(list.body.items.find((u: Json) => u.username === 'id-b').id).toBe(b.id);
    expect(a.sessionsRevokedAt).toBeNull();
  });

  it('the id never changes: not by PATCH (unknown key), not by other changes', async () => {
    const a = await create('id-stable');
    expect((await call('PATCH', '/id-stable', { id: randomUUID() })).status).toBe(400);
    const p = await call('PATCH', '/id-stable', { displayName: 'Stable', roles: ['staff'], disabled: true });
    expect(p.status).toBe(200);
    expect(p.body.id).toBe(a.id);
    expect((await call('PUT', '/id-stable/password', { password: `${PASSWORD} 2` })).status).toBe(204);
    expect((await call('GET', '/id-stable')).body.id).toBe(a.id);
  });

  it('getById is a point read of the index plus the user row; unknown or malformed ids are undefined', async () => {
    const a = await create('id-lookup', {
      displayName: 'Look Up',
      email: 'lookup@example.com',
      roles: ['staff'],
    });
    const u = await app.services.users.getById(a.id);
    expect(u).toMatchObject({
      id: a.id,
      username: 'id-lookup',
      displayName: 'Look Up',
      email: 'lookup@example.com',
      roles: ['staff'],
      disabled: false,
      sessionsRevokedAt: null,
    });
    expect(await app.services.users.getById(a.id.toUpperCase())).toMatchObject({ id: a.id });
    expect(await app.services.users.getById(randomUUID())).toBeUndefined();
    expect(await app.services.users.getById('id-lookup')).toBeUndefined();
    expect(await app.services.users.getById('')).toBeUndefined();
    // Two storage round trips, no query.
    let ops = 0;
    app.services.tables.users.pipeline.addPolicy({
      name: 'count-users-id-test',
      sendRequest: (req, next) => {
        ops++;
        return next(req);
      },
    });
    await app.services.users.getById(a.id);
    app.services.tables.users.pipeline.removePolicy({ name: 'count-users-id-test' });
    expect(ops).toBe(2);
  });

  it('delete removes the index row; a new user with the same username gets a new id', async () => {
    const a = await create('id-gone');
    expect((await call('DELETE', '/id-gone')).status).toBe(204);
    expect(await app.services.users.getById(a.id)).toBeUndefined();
    expect((await idRows()).some((r) => r.rowKey === a.id)).toBe(false);
    const again = await create('id-gone');
    expect(again.id).not.toBe(a.id);
    expect(await app.services.users.getById(a.id)).toBeUndefined();
    expect((await app.services.users.getById(again.id))?.username).toBe('id-gone');
  });

  it('role names: any valid name is kept and shown; admin keeps its meaning', async () => {
    const u = await create('roles-many', { roles: ['staff', 'billing-read', 'team_2'] });
    expect(u.roles).toEqual(['staff', 'billing-read', 'team_2']);
    const row = await app.services.tables.users.getEntity<Json>(userPartition('roles-many'), 'roles-many');
    expect(row.isAdmin).toBe(false);
    const p = await call('PATCH', '/roles-many', { roles: ['staff', 'admin'] });
    expect(p.status).toBe(200);
    expect(p.body.roles).toEqual(['staff', 'admin']);
    expect((await call('GET', '/roles-many')).body.roles).toEqual(['staff', 'admin']);
    expect(await app.services.users.store.adminUsernames()).toContain('roles-many');
    await create('roles-other-admin', { roles: ['admin'] }); // so the lock-out guard lets one go
    const back = await call('PATCH', '/roles-many', { roles: ['staff'] });
    expect(back.body.roles).toEqual(['staff']);
    expect(await app.services.users.store.adminUsernames()).not.toContain('roles-many');
    for (const bad of [['Staff'], ['a b'], ['-x'], ['x'.repeat(41)], ['ok', 'ok']]) {
      expect((await call('PATCH', '/roles-many', { roles: bad })).status, JSON.stringify(bad)).toBe(400);
    }
  });

  it('sign out everywhere, disable, role changes and delete set sessionsRevokedAt (OP6)', async () => {
    const a = await create('revoke-me');
    const iatBefore = Math.floor(clock.now() / 1000);
    clock.advance(2000);
    expect((await call('DELETE', '/revoke-me/sessions')).status).toBe(200);
    const afterSignOut = await app.services.users.getById(a.id);
    expect(afterSignOut?.sessionsRevokedAt).toBe(new Date(clock.now()).toISOString());
    expect(issuedBeforeRevocation(afterSignOut as never, iatBefore)).toBe(true);
    // The same second counts as revoked; a token from a later second does not.
    expect(issuedBeforeRevocation(afterSignOut as never, Math.floor(clock.now() / 1000))).toBe(true);
    expect(issuedBeforeRevocation(afterSignOut as never, Math.floor(clock.now() / 1000) + 1)).toBe(false);
    expect(issuedBeforeRevocation({ sessionsRevokedAt: null }, 0)).toBe(false);

    clock.advance(5000);
    expect((await call('PATCH', '/revoke-me', { disabled: true })).status).toBe(200);
    const disabled = await app.services.users.getById(a.id);
    expect(disabled?.disabled).toBe(true);
    expect(disabled?.sessionsRevokedAt).toBe(new Date(clock.now()).toISOString());

    clock.advance(5000);
    expect((await call('PATCH', '/revoke-me', { disabled: false, roles: ['staff'] })).status).toBe(200);
    expect((await app.services.users.getById(a.id))?.sessionsRevokedAt).toBe(
      new Date(clock.now()).toISOString(),
    );

    // A display name change revokes nothing.
    const before = (await app.services.users.getById(a.id))?.sessionsRevokedAt;
    clock.advance(5000);
    expect((await call('PATCH', '/revoke-me', { displayName: 'Still here' })).status).toBe(200);
    expect((await app.services.users.getById(a.id))?.sessionsRevokedAt).toBe(before);

    expect((await call('DELETE', '/revoke-me')).status).toBe(204);
    expect(await app.services.users.getById(a.id)).toBeUndefined();
  });
});
