/**
 * The lock-out guard holds under concurrency: two changes that each take away one of the last two
 * admins who can sign in, sent at the same time, never both succeed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
