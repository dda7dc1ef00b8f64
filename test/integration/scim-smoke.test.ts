import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIntegration, enableProvisioning, entraUser, type ScimClient } from '../helpers/scim.ts';
import { startTestApp, type TestApp } from '../helpers/stack.ts';

describe('scim smoke', () => {
  let app: TestApp;
  let scim: ScimClient;
  beforeAll(async () => {
    app = await startTestApp();
    const i = await createIntegration(app);
    scim = await enableProvisioning(app, i.id);
  });
  afterAll(async () => app?.close());

  it('creates, reads, patches, deletes', async () => {
    const cfg = await scim.call('GET', '/ServiceProviderConfig');
    expect(cfg.status).toBe(200);
    const c = await scim.call('POST', '/Users', entraUser('alice@contoso.com'));
    expect(c.status, JSON.stringify(c.body)).toBe(201);
    const id = c.body?.id;
    const q = await scim.call(
      'GET',
      `/Users?filter=${encodeURIComponent('userName eq "alice@contoso.com"')}`,
    );
    expect(q.body?.totalResults).toBe(1);
    const p = await scim.call('PATCH', `/Users/${id}`, {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [
        { op: 'Replace', path: 'active', value: 'False' },
        { op: 'Replace', path: 'userName', value: 'bob@contoso.com' },
      ],
    });
    expect(p.status, JSON.stringify(p.body)).toBe(200);
    expect(p.body?.active).toBe(false);
    expect(p.body?.userName).toBe('bob@contoso.com');
    const g = await scim.call('POST', '/Groups', {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
      displayName: 'G1',
      members: [{ value: id }],
    });
    expect(g.status, JSON.stringify(g.body)).toBe(201);
    expect(g.body?.members?.length).toBe(1);
    const d = await scim.call('DELETE', `/Users/${id}`);
    expect(d.status).toBe(204);
    expect((await scim.call('GET', `/Users/${id}`)).status).toBe(404);
  });
});
