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
  const pairs: [OpName, OpName][] = [
    ['disable', 'disable'],
    ['delete', 'delete'],
    ['demote', 'removePassword'],
    ['disable', 'delete'],
    ['removePassword', 'demote'],
    ['demote', 'demote'],
  ];
  it.each(pairs)(
    '%s ‖ %s of the last two admins: exactly one succeeds, the other is 409 last_admin',
    async (a, b) => {
      const tag = Math.random().toString(36).slice(2, 8);
      const [u1, u2] = [`${tag}-one`, `${tag}-two`];
      await createAdmin(u1);
      await createAdmin(u2);
      // Only these two can sign in as admins from here on.
      for (const u of previous) expect((await ops.delete(u)).status).toBe(204);
      previous = [u1, u2];
      const [r1, r2] = await Promise.all([ops[a](u1), ops[b](u2)]);
      const statuses = [r1.status, r2.status].sort();
      const refused = [r1, r2].find((r) => r.status === 409);
      expect(statuses.filter((s) => s === 409)).toHaveLength(1);
      expect(statuses.filter((s) => s === 200 || s === 204)).toHaveLength(1);
      expect(((await refused?.json()) as { code?: string } | undefined)?.code).toBe('last_admin');
      // One of them can still sign in as an admin.
      const usable: string[] = [];
      for (const u of [u1, u2]) {
        const r = await app.admin(`/api/manage/users/${u}`);
        if (r.status !== 200) continue;
        const user = await r.json();
        if (!user.disabled && user.roles.includes('admin') && user.hasPassword) usable.push(u);
      }
      expect(usable).toHaveLength(1);
      previous = usable;
    },
    60_000,
  );
});
