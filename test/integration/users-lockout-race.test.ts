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

describe('lock-out guard under concurrency', () => {
  let previous: string[] = [];
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
