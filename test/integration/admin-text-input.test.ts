/**
 * Text fields of the management API take text: half of a surrogate pair (which JSON can spell as
 * `"\ud800"`) is refused in names, titles and display names, and a blank or control-character client
 * secret is refused, each a 400 naming the field, with nothing created.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_ENTRA } from '../../scripts/standins/entra.ts';
import { createDemoIntegration } from '../helpers/signin.ts';
import { startTestApp, type TestApp } from '../helpers/stack.ts';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(async () => {
  await app?.close();
});

const LONE = '\ud800';

async function refused(path: string, method: string, json: Record<string, unknown>, field: string) {
  const res = await app.admin(path, { method, json });
  const body = await res.json();
  expect(res.status, `${method} ${path} ${JSON.stringify(json)}`).toBe(400);
  expect(body.errors.map((e: { field: string }) => e.field)).toContain(field);
}

describe('text fields of the management API', () => {
  it('refuse half of a surrogate pair in names, titles and display names', async () => {
    await refused(
      '/api/manage/integrations',
      'POST',
      {
        kind: 'azure-ad',
        title: `Demo ${LONE}`,
        applicationId: DEMO_ENTRA.clientId,
        tenant: DEMO_ENTRA.tenantId,
        clientSecret: DEMO_ENTRA.clientSecret,
      },
      'title',
    );
    await refused(
      '/api/manage/applications',
      'POST',
      { name: `App ${LONE}`, type: 'public', redirectUris: ['http://localhost:3000/cb'] },
      'name',
    );
    await refused(
      '/api/manage/apis',
      'POST',
      { resource: 'https://lone.example/api', name: `Api ${LONE}` },
      'name',
    );
    await refused(
      '/api/manage/users',
      'POST',
      { username: 'lone-name', verifyType: 'password', displayName: `A${LONE}` },
      'displayName',
    );

    const names = async (path: string, key: string) =>
      ((await (await app.admin(path)).json()).items as Record<string, string>[]).map((i) => i[key]);
    expect((await names('/api/manage/integrations', 'title')).some((t) => t?.startsWith('Demo \ud800'))).toBe(
      false,
    );
    expect(await names('/api/manage/apis', 'resource')).not.toContain('https://lone.example/api');
    expect((await names('/api/manage/applications', 'name')).some((n) => n?.startsWith('App \ud800'))).toBe(
      false,
    );
    expect((await app.admin('/api/manage/users/lone-name')).status).toBe(404);
  });

  it('refuse a blank client secret or one with control characters', async () => {
    for (const secret of [' ', '   ', 'abc\u0000def', 'abc\ndef']) {
      await refused(
        '/api/manage/integrations',
        'POST',
        {
          kind: 'azure-ad',
          title: `Blank ${Math.random().toString(36).slice(2, 8)}`,
          applicationId: DEMO_ENTRA.clientId,
          tenant: DEMO_ENTRA.tenantId,
          clientSecret: secret,
        },
        'clientSecret',
      );
    }
    const integration = await createDemoIntegration(app);
    for (const secret of [' ', 'abc\u0000def']) {
      const res = await app.admin(`/api/manage/integrations/${integration.id}/client-secret`, {
        method: 'PUT',
        json: { clientSecret: secret },
        headers: { 'If-Match': integration.etag },
      });
      expect(res.status).toBe(400);
      expect((await res.json()).errors.map((e: { field: string }) => e.field)).toContain('clientSecret');
    }
  });
});
