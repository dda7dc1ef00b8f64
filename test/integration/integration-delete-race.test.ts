/**
 * Deleting an integration while users are being assigned to it never leaves a user pointing at a
 * deleted integration; a user whose integration is missing or inactive gets a clear page at sign-in
 * (or the password step when Allow OAuth Passwords and their password allow it).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEXTS } from '../../shared/web/pages/texts.ts';
import { BrokerBrowser, patchSettings } from '../helpers/signin.ts';
import { startTestApp, type TestApp } from '../helpers/stack.ts';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(() => app.close());

async function createIntegration(): Promise<string> {
  const r = await app.admin('/api/manage/integrations', {
    method: 'POST',
    json: {
      kind: 'azure-ad',
      title: `Race ${randomUUID().slice(0, 8)}`,
      tenant: randomUUID(),
      applicationId: randomUUID(),
      clientSecret: 'a client secret value',
    },
  });
  expect(r.status, await r.clone().text()).toBe(201);
  return (await r.json()).id;
}

const assign = (username: string, integrationId: string) =>
  app.admin('/api/manage/users', { method: 'POST', json: { username, verifyType: { integrationId } } });

describe('integration delete vs assignment', () => {
  it('an assignment to an integration whose delete is under way is refused and leaves no user row', async () => {
    const id = await createIntegration();
    // The state a delete is in between marking the row and removing it.
    const store = (
      app.services.integrations as unknown as {
        store: {
          get(id: string): Promise<{ etag: string }>;
          replace(r: unknown, etag: string): Promise<unknown>;
        };
      }
    ).store;
    const row = await store.get(id);
    const { etag, ...record } = row;
    await store.replace({ ...record, deletingSince: Date.now() }, etag);
    const r = await assign('late-user', id);
    expect(r.status).toBe(409);
    expect((await r.json()).code).toBe('integration_deleted');
    expect((await app.admin('/api/manage/users/late-user')).status).toBe(404);
    // A change of verify type is refused the same way, and the user is left as it was.
    const other = await app.admin('/api/manage/users', {
      method: 'POST',
      json: { username: 'late-patch', verifyType: 'password' },
    });
    expect(other.status).toBe(201);
    const patched = await app.admin('/api/manage/users/late-patch', {
      method: 'PATCH',
      json: { verifyType: { integrationId: id } },
    });
    expect(patched.status).toBe(409);
    expect((await (await app.admin('/api/manage/users/late-patch')).json()).verifyType).toEqual({
      kind: 'password',
    });
  });

  it('parallel deletes and assignments: no user is ever left pointing at a deleted integration', async () => {
    for (let round = 0; round < 8; round++) {
      const id = await createIntegration();
      const users = Array.from({ length: 6 }, (_, i) => `r${round}-u${i}`);
      const [del] = await Promise.all([
        app.admin(`/api/manage/integrations/${id}`, { method: 'DELETE' }),
        ...users.map((u) => assign(u, id)),
      ]);
      const exists = (await app.admin(`/api/manage/integrations/${id}`)).status === 200;
      const assigned = await app.services.users.store.countUsersAssignedTo(id);
      if (!exists) expect(assigned, `round ${round}: delete ${del?.status}`).toBe(0);
      if (del?.status === 204) expect(exists).toBe(false);
    }
  }, 120_000);
});

describe('sign-in of a user whose integration is missing or inactive', () => {
  it('missing integration: a clear "not available" page, not "this sign-in link is not valid"', async () => {
    const now = new Date().toISOString();
    await app.services.users.store.insert({
      id: randomUUID(),
      sessionsRevokedAt: null,
      username: 'dangling',
      displayName: 'Dangling',
      email: null,
      verifyType: { kind: 'integration', integrationId: randomUUID() },
      passwordHash: null,
      roles: [],
      disabled: false,
      entraBinding: null,
      lastLoginAt: null,
      createdAt: now,
      updatedAt: now,
    });
    const res = await new BrokerBrowser(app).post('/api/auth/login', { username: 'dangling' });
    const html = await res.text();
    expect(res.status).toBe(403);
    expect(html).toContain(TEXTS.errors.integration_unavailable.slice(0, 40));
    expect(html).not.toContain(TEXTS.errors.integration_not_found);
  });

  it('missing or inactive integration, Allow OAuth Passwords on, user has a password: the password step', async () => {
    await patchSettings(app, { allowOAuthPasswords: true });
    try {
      const now = new Date().toISOString();
      const inactive = await createIntegration(); // created inactive
      for (const [username, integrationId] of [
        ['dangling-pw', randomUUID()],
        ['inactive-pw', inactive],
      ] as const) {
        await app.services.users.store.insert({
          id: randomUUID(),
          sessionsRevokedAt: null,
          username,
          displayName: username,
          email: null,
          verifyType: { kind: 'integration', integrationId },
          passwordHash:
            '$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g',
          roles: [],
          disabled: false,
          entraBinding: null,
          lastLoginAt: null,
          createdAt: now,
          updatedAt: now,
        });
        const res = await new BrokerBrowser(app).post('/api/auth/login', { username });
        expect(res.status, username).toBe(200);
        expect(await res.text()).toContain('name="password"');
      }
    } finally {
      await patchSettings(app, { allowOAuthPasswords: false });
    }
  });
});
