import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/stack.ts';

/** The lock-out guard: no change may leave no enabled admin user who can sign in. */
describe('users lock-out guard', () => {
  let app: TestApp;
  const call = async (path: string, init: RequestInit & { json?: unknown } = {}) => {
    const r = await app.admin(path, init);
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : undefined };
  };
  const patch = (name: string, json: unknown) => call(`/api/manage/users/${name}`, { method: 'PATCH', json });
  const expectLocked = (r: { status: number; body: { code: string } }) => {
    expect(r.status).toBe(409);
    expect(r.body.code).toBe('last_admin');
  };

  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(() => app.close());

  it('allows anything while no admin can sign in, then protects the last one', async () => {
    // An admin without a password cannot sign in: changes to it are not refused.
    expect(
      (
        await call('/api/manage/users', {
          method: 'POST',
          json: { username: 'nopw', verifyType: 'password', roles: ['admin'] },
        })
      ).status,
    ).toBe(201);
    expect((await patch('nopw', { disabled: true })).status).toBe(200);
    expect((await call('/api/manage/users/nopw', { method: 'DELETE' })).status).toBe(204);

    const created = await call('/api/manage/users', {
      method: 'POST',
      json: { username: 'root', verifyType: 'password', password: 'root admin passphrase', roles: ['admin'] },
    });
    expect(created.status).toBe(201);
    expect(created.body.roles).toEqual(['admin']);

    expectLocked(await patch('root', { disabled: true }));
    expectLocked(await patch('root', { roles: [] }));
    expectLocked(await call('/api/manage/users/root/password', { method: 'DELETE' }));
    expectLocked(await call('/api/manage/users/root', { method: 'DELETE' }));

    // An inactive integration is not a usable sign-in method.
    const integ = await call('/api/manage/integrations', {
      method: 'POST',
      json: {
        kind: 'azure-ad',
        title: 'Inactive',
        applicationId: randomUUID(),
        tenant: randomUUID(),
        clientSecret: 'secret-value',
      },
    });
    expect(integ.status).toBe(201);
    expectLocked(await patch('root', { verifyType: { integrationId: integ.body.id } }));
    // Harmless changes still work.
    expect((await patch('root', { displayName: 'Root' })).status).toBe(200);
  });

  it('lets an admin go once another enabled admin can sign in', async () => {
    await call('/api/manage/users', {
      method: 'POST',
      json: {
        username: 'second',
        verifyType: 'password',
        password: 'second admin passphrase',
        roles: ['admin'],
      },
    });
    expect((await patch('root', { disabled: true })).status).toBe(200);
    expectLocked(await patch('second', { roles: [] }));
    expect((await patch('root', { disabled: false })).status).toBe(200);
    expect((await patch('second', { roles: [] })).status).toBe(200);
    expectLocked(await call('/api/manage/users/root', { method: 'DELETE' }));
    const audit = await call('/api/manage/audit?type=admin.user.');
    expect(audit.status).toBe(200);
    expect(audit.body.items.some((e: { securityRelevant: boolean }) => e.securityRelevant)).toBe(true);
  });

  it('counts an integration admin with a password only while Allow OAuth Passwords is on', async () => {
    const integ = await call('/api/manage/integrations', {
      method: 'POST',
      json: {
        kind: 'azure-ad',
        title: 'Also inactive',
        applicationId: randomUUID(),
        tenant: randomUUID(),
        clientSecret: 'secret-value',
      },
    });
    await call('/api/manage/users', {
      method: 'POST',
      json: {
        username: 'oauthpw',
        verifyType: { integrationId: integ.body.id },
        password: 'integration admin passphrase',
        roles: ['admin'],
      },
    });
    expectLocked(await call('/api/manage/users/root', { method: 'DELETE' }));
    expect(
      (await call('/api/manage/settings', { method: 'PATCH', json: { allowOAuthPasswords: true } })).status,
    ).toBe(200);
    // Now oauthpw can sign in with its password, so root may go…
    expect((await patch('root', { disabled: true })).status).toBe(200);
    // …and turning the setting off again would lock everyone out.
    expectLocked(
      await call('/api/manage/settings', { method: 'PATCH', json: { allowOAuthPasswords: false } }),
    );
    expectLocked(await call('/api/manage/users/oauthpw/password', { method: 'DELETE' }));
    expect((await patch('root', { disabled: false })).status).toBe(200);
    expect(
      (await call('/api/manage/settings', { method: 'PATCH', json: { allowOAuthPasswords: false } })).status,
    ).toBe(200);
  });
});
