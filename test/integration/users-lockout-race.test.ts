/**
 * The lock-out guard holds under concurrency: two changes that each take away one of the last two
 * admins who can sign in, sent at the same time, never both succeed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserService } from '../../shared/users/service.ts';
import { UserStore } from '../../shared/users/store.ts';
import { startTestApp, type TestApp } from '../helpers/stack.ts';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(() => app.close());

type Op = (username: string) => Promise<Response>;
const ops = {
  disable: (u) => app.admin(`/api/manage/users/${u}`, { method: 'PATCH', json: { disabled: true } }),
  demote: (u) => app.admin(`/api/manage/users/${u}`, { method: 'PATCH', json: { roles: [] } }),
  delete: (u) => app.admin(`/api/manage/users/${u}`, { method: 'DELETE' }),
  removePassword: (u) => app.admin(`/api/manage/users/${u}/password`, { method: 'DELETE' }),
} satisfies Record<string, Op>;
type OpName = keyof typeof ops;

async function createAdmin(username: string): Promise<void> {
  const r = await app.admin('/api/manage/users', {
    method: 'POST',
    json: { username, verifyType: 'password', password: 'an admin passphrase here', roles: ['admin'] },
  });
  expect(r.status).toBe(201);
}

/** Admins left usable by the previous test, deleted once the next ones exist. */
let previous: string[] = [];

describe('lock-out guard under concurrency', () => {
  const mixes: OpName[][] = [
    ['disable', 'disable', 'disable', 'disable', 'disable', 'disable', 'disable', 'disable'],
    ['delete', 'demote', 'removePassword', 'disable', 'delete', 'demote', 'removePassword', 'disable'],
    ['delete', 'delete', 'delete', 'delete', 'delete', 'delete', 'delete', 'delete'],
  ];
  it.each(mixes)(
    'the last 8 admins taken away in parallel (%s, …): one admin who can sign in always remains',
    async (...names: OpName[]) => {
      const tag = Math.random().toString(36).slice(2, 8);
      const admins = names.map((_, i) => `${tag}-${i}`);
      for (const u of admins) await createAdmin(u);
      // Only these can sign in as admins from here on.
      for (const u of previous) expect((await ops.delete(u)).status).toBe(204);
      const responses = await Promise.all(names.map((op, i) => ops[op](admins[i] as string)));
      const refused = responses.filter((r) => r.status === 409);
      const codes = await Promise.all(refused.map(async (r) => ((await r.json()) as { code: string }).code));
      expect(codes).toContain('last_admin');
      for (const code of codes) expect(['last_admin', 'change_in_progress']).toContain(code);
      expect(responses.every((r) => [200, 204, 409].includes(r.status))).toBe(true);
      const usable: string[] = [];
      for (const u of admins) {
        const r = await app.admin(`/api/manage/users/${u}`);
        if (r.status !== 200) continue;
        const user = await r.json();
        if (!user.disabled && user.roles.includes('admin') && user.hasPassword) usable.push(u);
      }
      expect(usable.length).toBeGreaterThanOrEqual(1);
      expect(usable.length).toBe(refused.length);
      previous = usable;
    },
    120_000,
  );
});

describe('lock-out guard: a settings change racing a user change', () => {
  it('turning Allow OAuth Passwords off while the password admin is disabled: never both', async () => {
    const integ = await app.admin('/api/manage/integrations', {
      method: 'POST',
      json: {
        kind: 'azure-ad',
        title: `Lockout ${Math.random().toString(36).slice(2, 8)}`,
        tenant: '11111111-2222-3333-4444-555555555555',
        applicationId: '66666666-7777-8888-9999-000000000000',
        clientSecret: 'a client secret value',
      },
    });
    expect(integ.status).toBe(201);
    const integrationId = (await integ.json()).id as string;
    const settings = (allowOAuthPasswords: boolean) =>
      app.admin('/api/manage/settings', { method: 'PATCH', json: { allowOAuthPasswords } });
    for (let round = 0; round < 4; round++) {
      expect((await settings(true)).status).toBe(200);
      const pw = `pw-${round}-${Math.random().toString(36).slice(2, 6)}`;
      const oauth = `oa-${round}-${Math.random().toString(36).slice(2, 6)}`;
      await createAdmin(pw);
      const r = await app.admin('/api/manage/users', {
        method: 'POST',
        json: {
          username: oauth,
          verifyType: { integrationId },
          password: 'an admin passphrase here',
          roles: ['admin'],
        },
      });
      expect(r.status).toBe(201);
      for (const u of previous) expect((await ops.delete(u)).status).toBe(204);
      previous = [pw, oauth];
      // The password admin and the integration admin (usable only through its password) are the last.
      const [off, disabled] = await Promise.all([settings(false), ops.disable(pw)]);
      expect([off.status, disabled.status].sort(), `round ${round}`).toEqual([200, 409]);
    }
  }, 120_000);
});

describe('lock-out guard: the interleaving that used to pass both', () => {
  it('both changes checked before either wrote: the second sees the first (deterministic)', async () => {
    const s = app.services;
    // Two instances' worth of user services on the same tables; each holds its user write until the
    // other has reached its own write too (or 1.5 s passed): without the guard's lease both checks
    // run before either write.
    let arrived = 0;
    let open: () => void = () => {};
    const bothThere = new Promise<void>((r) => {
      open = r;
    });
    class HeldStore extends UserStore {
      override async replace(...args: Parameters<UserStore['replace']>) {
        if (++arrived >= 2) open();
        await Promise.race([bothThere, new Promise((r) => setTimeout(r, 1500))]);
        return super.replace(...args);
      }
    }
    const service = () =>
      new UserService({
        store: new HeldStore(s.tables.users, s.tables.userBindings),
        integrations: s.integrations,
        settings: s.settings,
        sessions: s.sessions,
        audit: s.audit,
        clock: s.clock,
      });
    const tag = Math.random().toString(36).slice(2, 8);
    const [a, b] = [`${tag}-a`, `${tag}-b`];
    await createAdmin(a);
    await createAdmin(b);
    for (const u of previous) expect((await ops.delete(u)).status).toBe(204);
    previous = [a, b];
    const results = await Promise.allSettled([
      service().update(a, { disabled: true }, undefined, { actor: 'test' }),
      service().update(b, { disabled: true }, undefined, { actor: 'test' }),
    ]);
    const refused = results.filter((r) => r.status === 'rejected');
    expect(refused).toHaveLength(1);
    expect((refused[0] as PromiseRejectedResult).reason.code).toBe('last_admin');
  }, 60_000);
});
