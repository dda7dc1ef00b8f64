/**
 * Turning provisioning on and off per integration (`/api/manage/integrations/{id}/provisioning`),
 * what the Integration shows of it, and the SCIM routes' protocol answers (discovery, errors, limits).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createIntegration,
  enableProvisioning,
  entraUser,
  type Json,
  type ScimClient,
} from '../helpers/scim.ts';
import { startTestApp, type TestApp } from '../helpers/stack.ts';

describe('provisioning settings', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(async () => app?.close());

  const read = async (id: string) => (await app.admin(`/api/manage/integrations/${id}`)).json();

  it('is off until turned on; POST answers the Tenant URL and a token shown once', async () => {
    const i = await createIntegration(app);
    const before = await read(i.id);
    expect(before).toMatchObject({ provisioning: null, groupRoles: {}, jitProvisioning: false });
    const on = await app.admin(`/api/manage/integrations/${i.id}/provisioning`, { method: 'POST' });
    expect(on.status).toBe(201);
    const body = await on.json();
    expect(body.tenantUrl).toBe(`${app.url}/api/scim/v2`);
    expect(body.secretToken).toMatch(new RegExp(`^scim\\.${i.id}\\.[A-Za-z0-9_-]{43}$`));
    expect(body.provisioning).toMatchObject({ enabled: true, tenantId: i.tenant, lastRequestAt: null });
    const after = await read(i.id);
    expect(after.provisioning).toMatchObject({ enabled: true, tenantUrl: body.tenantUrl });
    expect(JSON.stringify(after)).not.toContain(body.secretToken.split('.').at(-1));
    const list = await (await app.admin('/api/manage/integrations')).json();
    expect(list.items.find((x: Json) => x.id === i.id).provisioning.enabled).toBe(true);
    const audit = await app.services.auditQuery.list({ type: 'admin.integration.provisioning_enabled' });
    expect(audit.items.some((e) => e.target === `integration:${i.id}`)).toBe(true);
  });

  it('records the time and outcome of the last request Entra made', async () => {
    const i = await createIntegration(app);
    const scim = await enableProvisioning(app, i.id);
    expect((await scim.call('GET', '/Users?filter=userName+eq+%22nobody%22')).status).toBe(200);
    let view = await read(i.id);
    expect(view.provisioning.lastOutcome).toBe('200');
    expect(Date.parse(view.provisioning.lastRequestAt)).toBeGreaterThan(Date.now() - 60_000);
    expect((await scim.call('POST', '/Users', { userName: 'not valid!' })).status).toBe(400);
    view = await read(i.id);
    expect(view.provisioning.lastOutcome).toBe('400 invalidValue');
  });

  it('groupRoles and jitProvisioning are set with PATCH; turning off keeps them', async () => {
    const i = await createIntegration(app);
    const groupId = randomUUID();
    const patch = await app.admin(`/api/manage/integrations/${i.id}/provisioning`, {
      method: 'PATCH',
      json: { groupRoles: { [groupId]: 'staff', Sales: 'sales' }, jitProvisioning: true },
    });
    expect(patch.status, await patch.clone().text()).toBe(200);
    expect(await patch.json()).toMatchObject({
      groupRoles: { [groupId]: 'staff', Sales: 'sales' },
      jitProvisioning: true,
    });
    const bad = await app.admin(`/api/manage/integrations/${i.id}/provisioning`, {
      method: 'PATCH',
      json: { groupRoles: { Sales: 'Not A Role' } },
    });
    expect(bad.status).toBe(400);
    await enableProvisioning(app, i.id);
    expect(
      (await app.admin(`/api/manage/integrations/${i.id}/provisioning`, { method: 'DELETE' })).status,
    ).toBe(204);
    const view = await read(i.id);
    expect(view.provisioning.enabled).toBe(false);
    expect(view.groupRoles).toEqual({ [groupId]: 'staff', Sales: 'sales' });
    const rotate = await app.admin(`/api/manage/integrations/${i.id}/provisioning/token`, { method: 'POST' });
    expect(rotate.status).toBe(409);
  });

  it('needs the tenant id when the integration names a domain; 404 for an unknown integration', async () => {
    const i = await createIntegration(app, 'contoso.onmicrosoft.com');
    const missing = await app.admin(`/api/manage/integrations/${i.id}/provisioning`, {
      method: 'POST',
      json: {},
    });
    expect(missing.status).toBe(400);
    const tenantId = randomUUID();
    const on = await app.admin(`/api/manage/integrations/${i.id}/provisioning`, {
      method: 'POST',
      json: { tenantId },
    });
    expect(on.status).toBe(201);
    expect((await on.json()).provisioning.tenantId).toBe(tenantId);
    const unknown = await app.admin(`/api/manage/integrations/${randomUUID()}/provisioning`, {
      method: 'POST',
    });
    expect(unknown.status).toBe(404);
    expect(
      (await fetch(`${app.url}/api/manage/integrations/${i.id}/provisioning`, { method: 'POST' })).status,
    ).toBe(401);
  });

  it('an id that cannot be an integration is a 404 problem on every provisioning route', async () => {
    for (const id of ['a%2Fb', '..%2F..%2Fsettings', 'a%5Cb', 'x'.repeat(101), '%25ZZ']) {
      for (const [method, path] of [
        ['POST', '/provisioning'],
        ['PATCH', '/provisioning'],
        ['DELETE', '/provisioning'],
        ['POST', '/provisioning/token'],
      ] as const) {
        const res = await app.admin(`/api/manage/integrations/${id}${path}`, {
          method,
          ...(method === 'PATCH' ? { json: { jitProvisioning: true } } : {}),
        });
        expect(res.status, `${method} ${id}${path}`).toBe(404);
        expect(res.headers.get('content-type')).toContain('application/problem+json');
        expect((await res.json()).code).toBe('integration_not_found');
      }
    }
  });

  it("a deleted integration's token stops working", async () => {
    const i = await createIntegration(app);
    const scim = await enableProvisioning(app, i.id);
    expect((await app.admin(`/api/manage/integrations/${i.id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await scim.call('GET', '/Users')).status).toBe(401);
  });
});

describe('SCIM protocol answers', () => {
  let app: TestApp;
  let scim: ScimClient;
  beforeAll(async () => {
    app = await startTestApp();
    scim = await enableProvisioning(app, (await createIntegration(app)).id);
  });
  afterAll(async () => app?.close());

  it('serves the discovery documents, also at /serviceConfiguration', async () => {
    for (const p of ['/ServiceProviderConfig', '/serviceConfiguration']) {
      const r = await scim.call('GET', p);
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toMatch(/^application\/scim\+json/);
      expect(r.body?.patch.supported).toBe(true);
      expect(r.body?.bulk.supported).toBe(false);
    }
    const types = await scim.call('GET', '/ResourceTypes');
    expect(types.body?.Resources.map((t: Json) => t.id)).toEqual(['User', 'Group']);
    expect((await scim.call('GET', '/ResourceTypes/User')).body?.endpoint).toBe('/Users');
    const schemas = await scim.call('GET', '/Schemas');
    expect(schemas.body?.totalResults).toBeGreaterThanOrEqual(3);
    const user = await scim.call('GET', '/Schemas/urn:ietf:params:scim:schemas:core:2.0:User');
    expect(user.body?.id).toBe('urn:ietf:params:scim:schemas:core:2.0:User');
    expect((await scim.call('GET', '/Nothing')).status).toBe(404);
  });

  it('answers RFC 7644 error bodies: 401, invalidSyntax, 413, 404, 405, 409 uniqueness', async () => {
    const anon = await fetch(`${app.url}/api/scim/v2/Users`);
    expect(anon.status).toBe(401);
    expect(anon.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect((await anon.json()).schemas).toEqual(['urn:ietf:params:scim:api:messages:2.0:Error']);
    const junk = await scim.call('POST', '/Users', 'not json {');
    expect(junk.status).toBe(400);
    expect(junk.body?.scimType).toBe('invalidSyntax');
    const big = await scim.call(
      'POST',
      '/Users',
      JSON.stringify({ userName: 'x', pad: 'y'.repeat(1024 * 1024) }),
    );
    expect(big.status).toBe(413);
    const missing = await scim.call('GET', `/Users/${randomUUID()}`);
    expect(missing).toMatchObject({ status: 404, body: { status: '404' } });
    expect((await scim.call('PUT', '/Users')).status).toBe(405);
    const name = `dup-${randomUUID().slice(0, 6)}@contoso.com`;
    expect((await scim.call('POST', '/Users', entraUser(name))).status).toBe(201);
    const dup = await scim.call('POST', '/Users', entraUser(name));
    expect(dup).toMatchObject({ status: 409, body: { scimType: 'uniqueness', status: '409' } });
    const filter = await scim.call('GET', '/Users?filter=userName+sw+%22a%22');
    expect(filter).toMatchObject({ status: 400, body: { scimType: 'invalidFilter' } });
    // application/json is accepted as well as application/scim+json.
    const plain = await scim.call(
      'POST',
      '/Users',
      entraUser(`plain-${randomUUID().slice(0, 6)}@contoso.com`),
      {
        'content-type': 'application/json',
      },
    );
    expect(plain.status).toBe(201);
  });

  it('pages users with startIndex and count', async () => {
    for (let k = 0; k < 5; k++) {
      expect(
        (await scim.call('POST', '/Users', entraUser(`page-${k}-${randomUUID().slice(0, 4)}@contoso.com`)))
          .status,
      ).toBe(201);
    }
    const all = await scim.call('GET', '/Users?count=200');
    const total = all.body?.totalResults as number;
    expect(total).toBeGreaterThanOrEqual(5);
    const page = await scim.call('GET', '/Users?startIndex=2&count=2');
    expect(page.body).toMatchObject({ totalResults: total, startIndex: 2, itemsPerPage: 2 });
    expect(page.body?.Resources.map((u: Json) => u.id)).toEqual(
      all.body?.Resources.slice(1, 3).map((u: Json) => u.id),
    );
    const none = await scim.call('GET', '/Users?count=0');
    expect(none.body).toMatchObject({ totalResults: total, itemsPerPage: 0, Resources: [] });
  });

  it('a rename keeps the id, the binding and the email; the old name is free', async () => {
    const objectId = randomUUID();
    const before = await scim.call(
      'POST',
      '/Users',
      entraUser(`old-${randomUUID().slice(0, 6)}@contoso.com`, objectId),
    );
    expect(before.status).toBe(201);
    const newName = `new-${randomUUID().slice(0, 6)}@contoso.com`;
    const renamed = await scim.call('PATCH', `/Users/${before.body?.id}`, {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'Replace', path: 'userName', value: newName }],
    });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({ id: before.body?.id, userName: newName, externalId: objectId });
    expect((await app.admin(`/api/manage/users/${before.body?.userName}`)).status).toBe(404);
    const view = await (await app.admin(`/api/manage/users/${newName}`)).json();
    expect(view).toMatchObject({ id: before.body?.id, email: before.body?.emails[0].value });
    expect(view.entraBinding.objectId).toBe(objectId);
    const found = await scim.call(
      'GET',
      `/Users?filter=${encodeURIComponent(`externalId eq "${objectId}"`)}`,
    );
    expect(found.body?.Resources[0]?.userName).toBe(newName);
  });

  it('a user an admin deleted can be created again by Entra with the same externalId', async () => {
    const objectId = randomUUID();
    const first = await scim.call(
      'POST',
      '/Users',
      entraUser(`gone-${randomUUID().slice(0, 6)}@contoso.com`, objectId),
    );
    expect((await app.admin(`/api/manage/users/${first.body?.userName}`, { method: 'DELETE' })).status).toBe(
      204,
    );
    expect((await scim.call('GET', `/Users/${first.body?.id}`)).status).toBe(404);
    const again = await scim.call('POST', '/Users', entraUser(first.body?.userName, objectId));
    expect(again.status, JSON.stringify(again.body)).toBe(201);
    expect(again.body?.id).not.toBe(first.body?.id);
  });
});
