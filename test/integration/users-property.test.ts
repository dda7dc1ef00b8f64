import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { PHC_PREFIX } from '../../shared/passwords/index.ts';
import type { UserRecord } from '../../shared/users/store.ts';
import { startTestApp, type TestApp } from '../helpers/stack.ts';

/**
 * fast-check: 1,000 generated bodies each to POST and PATCH /api/manage/users. Never a 5xx, and every
 * stored user satisfies the rules (a 4xx stores nothing). Most bodies carry no password, so the
 * suite does not spend its time in argon2.
 */
describe('users API property tests', () => {
  let app: TestApp;
  let integrationId = '';
  const TITLE = 'Property Integration';
  const TARGETS = ['p-one', 'p-two', 'p-three'];

  beforeAll(async () => {
    app = await startTestApp();
    const r = await app.admin('/api/manage/integrations', {
      method: 'POST',
      json: {
        kind: 'azure-ad',
        title: TITLE,
        applicationId: randomUUID(),
        tenant: randomUUID(),
        clientSecret: 'x',
      },
    });
    integrationId = ((await r.json()) as { id: string }).id;
    for (const username of TARGETS) {
      await app.admin('/api/manage/users', { method: 'POST', json: { username, verifyType: 'password' } });
    }
  });
  afterAll(() => app.close());

  const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
  function assertValid(u: UserRecord): void {
    expect(u.username).toMatch(/^[a-z0-9._@-]{1,64}$/);
    expect(u.displayName.length).toBeLessThanOrEqual(200);
    expect(CONTROL.test(u.displayName)).toBe(false);
    if (u.email !== null) {
      expect(u.email.length).toBeLessThanOrEqual(254);
      expect(z.email().safeParse(u.email).success).toBe(true);
    }
    if (u.verifyType.kind === 'integration') expect(u.verifyType.integrationId).toBe(integrationId);
    expect(u.roles.length).toBeLessThanOrEqual(20);
    expect(new Set(u.roles).size).toBe(u.roles.length);
    for (const role of u.roles) expect(role).toMatch(/^[a-z0-9][a-z0-9_-]{0,39}$/);
    expect(u.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    if (u.passwordHash !== null) expect(u.passwordHash.startsWith(PHC_PREFIX)).toBe(true);
  }

  const junk = fc.oneof(
    fc.constant(null),
    fc.integer(),
    fc.boolean(),
    fc.string({ maxLength: 10 }),
    fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }),
    fc.object({ maxDepth: 1 }),
  );
  const username = fc.oneof(
    fc.stringMatching(/^[A-Za-z0-9._@-]{1,64}$/),
    fc.stringMatching(/^[a-z]{1,8}$/),
    fc.string({ maxLength: 70 }),
    fc.string({ unit: 'grapheme', maxLength: 10 }),
    fc.constant(''),
    junk,
  );
  const displayName = fc.oneof(
    fc.string({ maxLength: 210 }),
    fc.string({ unit: 'grapheme', maxLength: 50 }),
    junk,
  );
  const email = fc.oneof(fc.emailAddress(), fc.string({ maxLength: 30 }), fc.constant('a@b'), junk);
  const verifyType = fc.oneof(
    fc.constant('password'),
    fc.constant({ title: TITLE.toUpperCase() }),
    fc.constantFrom({ integrationId: 'unknown' }, { title: 'Nope' }, { integrationId: '' }),
    fc.record({ integrationId: fc.string({ maxLength: 20 }) }),
    fc.record({ title: fc.string({ maxLength: 110 }) }),
    fc.record({ title: fc.string(), integrationId: fc.string() }),
    junk,
  );
  const roles = fc.oneof(
    fc.constant([]),
    fc.constant(['admin']),
    fc.array(fc.constantFrom('admin', 'root', '', 'Staff', '-x', 'a'.repeat(41)), { maxLength: 3 }),
    fc.array(fc.stringMatching(/^[a-z0-9][a-z0-9_-]{0,39}$/), { maxLength: 25 }),
    junk,
  );
  const password = fc.oneof(
    fc.constant('password1'),
    fc.string({ minLength: 8, maxLength: 20 }),
    fc.string({ maxLength: 7 }),
    fc.string({ minLength: 257, maxLength: 300 }),
    junk,
  );
  const validEmail = fc.stringMatching(/^[a-z0-9]{1,20}(\.[a-z0-9_+-]{1,10})?@[a-z0-9]{1,20}\.[a-z]{2,6}$/);
  const validDisplayName = fc.oneof(
    fc.string({ maxLength: 200, unit: fc.constantFrom(...'abc XYZ-_é漢😀'.split('')) }),
    fc.string({ maxLength: 40 }),
  );
  const validVerifyType = fc.oneof(
    fc.constant('password'),
    fc.constant({ title: TITLE.toLowerCase() }),
    fc.constant(null).map(() => ({ integrationId })),
  );
  const extra = fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), junk, { maxKeys: 1 });

  it('POST: 1,000 generated bodies → never 5xx, nothing invalid stored', async () => {
    const validBody = fc.record(
      {
        username: fc.stringMatching(/^[A-Za-z0-9._@-]{1,64}$/),
        displayName: validDisplayName,
        email: validEmail,
        verifyType: validVerifyType,
        roles: fc.constantFrom([], ['admin']),
      },
      { requiredKeys: ['username', 'verifyType'] },
    );
    const anyBody = fc.record({ username, displayName, email, verifyType, roles }, { requiredKeys: [] });
    const body = fc
      .tuple(
        fc.oneof({ arbitrary: validBody, weight: 3 }, { arbitrary: anyBody, weight: 2 }),
        fc.oneof({ arbitrary: fc.constant(null), weight: 9 }, { arbitrary: password, weight: 1 }),
        fc.oneof({ arbitrary: fc.constant(null), weight: 9 }, { arbitrary: extra, weight: 1 }),
      )
      .map(([b, pw, x]) => ({ ...(x ?? {}), ...b, ...(pw !== null ? { password: pw } : {}) }));
    let created = 0;
    const codes = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(body, async (json) => {
        const r = await app.admin('/api/manage/users', { method: 'POST', json });
        expect(r.status).toBeLessThan(500);
        const res = (await r.json()) as { username?: string; code?: string };
        codes.set(res.code ?? String(r.status), (codes.get(res.code ?? String(r.status)) ?? 0) + 1);
        if (r.status === 201) {
          created++;
          const stored = await app.services.users.getByUsername(res.username ?? '');
          expect(stored).toBeDefined();
          assertValid(stored as UserRecord);
        } else if (typeof json.username === 'string' && /^[A-Za-z0-9._@-]{1,64}$/.test(json.username)) {
          expect([400, 409]).toContain(r.status);
          const stored = await app.services.users.getByUsername(json.username);
          if (stored && r.status === 400) assertValid(stored); // created earlier by another run
        } else {
          expect(r.status).toBe(400);
        }
      }),
      { numRuns: 1000 },
    );
    console.log(
      `POST property: ${created} of 1000 bodies created a user; ${JSON.stringify(Object.fromEntries(codes))}`,
    );
    expect(created).toBeGreaterThan(200);
  }, 120_000);

  it('PATCH: 1,000 generated bodies → never 5xx, nothing invalid stored', async () => {
    const body = fc
      .tuple(
        fc.oneof(
          fc.record(
            {
              displayName: validDisplayName,
              email: fc.oneof(validEmail, fc.constant(null)),
              verifyType: validVerifyType,
              roles: fc.constantFrom([], ['admin']),
              disabled: fc.boolean(),
            },
            { requiredKeys: [] },
          ),
          fc.record(
            {
              displayName,
              email: fc.oneof(email, fc.constant(null)),
              verifyType,
              roles,
              disabled: fc.oneof(fc.boolean(), junk),
            },
            { requiredKeys: [] },
          ),
        ),
        fc.oneof({ arbitrary: fc.constant(null), weight: 9 }, { arbitrary: extra, weight: 1 }),
      )
      .map(([b, x]) => ({ ...(x ?? {}), ...b }));
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...TARGETS), body, async (target, json) => {
        const r = await app.admin(`/api/manage/users/${target}`, { method: 'PATCH', json });
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        expect(r.status).toBeLessThan(500);
        await r.arrayBuffer();
        const stored = await app.services.users.getByUsername(target);
        expect(stored).toBeDefined();
        assertValid(stored as UserRecord);
      }),
      { numRuns: 1000 },
    );
    console.log(`PATCH property statuses: ${JSON.stringify(Object.fromEntries(statuses))}`);
    expect(statuses.get(200)).toBeGreaterThan(50);
  }, 120_000);
});
