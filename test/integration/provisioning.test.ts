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

describe('SCIM input the broker cannot hold', () => {
  let app: TestApp;
  let scim: ScimClient;
  beforeAll(async () => {
    app = await startTestApp();
    scim = await enableProvisioning(app, (await createIntegration(app)).id);
  });
  afterAll(async () => app?.close());

  const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
  const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
  const patch = (...Operations: Json[]) => ({ schemas: [PATCH_OP], Operations });
  /** Characters a Table key may not hold, and a lone surrogate (sent as a JSON escape). */
  const BAD_IDS = ['a/b', 'a\\b', 'a#b', 'a?b', '\ud800', `${randomUUID()}/x`];

  /** Every row but the audit log, the throttle counters and the integration's last-request note. */
  async function snapshot(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const [key, table] of Object.entries(app.services.tables)) {
      if (key === 'auditEvents' || key === 'throttle') continue;
      for await (const e of table.listEntities()) {
        if (key === 'provisioning' && e.partitionKey === 'config') continue;
        out.set(`${key}/${e.partitionKey}/${e.rowKey}`, e.etag);
      }
    }
    return out;
  }

  function refused(r: { status: number; body: Json | undefined }, status: number, scimType?: string) {
    expect(r.status, JSON.stringify(r.body)).toBe(status);
    expect(r.body?.schemas).toEqual(['urn:ietf:params:scim:api:messages:2.0:Error']);
    expect(r.body?.status).toBe(String(status));
    expect(r.body?.scimType).toBe(scimType);
  }

  async function user(): Promise<Json> {
    const r = await scim.call('POST', '/Users', entraUser(`in-${randomUUID().slice(0, 8)}@contoso.com`));
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    return r.body as Json;
  }

  it('reads an id in the path as the host decoded it: one that cannot be ours is a 404', async () => {
    const before = await snapshot();
    const ids = ['%25ZZ', '%25', 'a%25', '%25E0%25A4%25A', '%25ED%25A0%2580'];
    for (const id of ids) {
      for (const [resource, body, ops] of [
        ['Users', entraUser(`p-${randomUUID().slice(0, 8)}@contoso.com`), { path: 'active', value: false }],
        ['Groups', { displayName: `p-${randomUUID().slice(0, 8)}` }, { path: 'displayName', value: 'x' }],
      ] as const) {
        for (const method of ['GET', 'PUT', 'PATCH', 'DELETE']) {
          const sent =
            method === 'PUT' ? body : method === 'PATCH' ? patch({ op: 'replace', ...ops }) : undefined;
          refused(await scim.call(method, `/${resource}/${id}`, sent), 404);
        }
      }
    }
    for (const p of [
      '/ResourceTypes/%25',
      '/Schemas/%25ZZ',
      '/ResourceTypes/a%25',
      '/Schemas/%25E0%25A4%25A',
    ]) {
      refused(await scim.call('GET', p), 404);
    }
    expect(await snapshot()).toEqual(before);
    // An unknown resource is audited by its first 40 characters, never half of a surrogate pair.
    refused(await scim.call('GET', `/${'x'.repeat(39)}${encodeURIComponent('😀')}`), 404);
    const audit = await app.services.auditQuery.list({ type: 'scim.request.refused', limit: 5 });
    expect(audit.items[0]?.details).toMatchObject({ resource: `${'x'.repeat(39)}😀` });
  });

  it('refuses a member value that cannot be a user id the broker issued: 400 invalidValue, nothing written', async () => {
    const [m1, m2] = [await user(), await user()];
    const name = `g-${randomUUID().slice(0, 8)}`;
    const g = await scim.call('POST', '/Groups', { displayName: name, members: [{ value: m1.id }] });
    expect(g.status).toBe(201);
    const before = await snapshot();
    // Beside what no key may hold, anything but the shape of the ids the broker gives its users.
    for (const bad of [...BAD_IDS, 'id3', `${m2.id}0`, ` ${m2.id}x`]) {
      const members = [{ value: m2.id }, { value: bad }];
      const fresh = `g-${randomUUID().slice(0, 8)}`;
      refused(
        await scim.call('POST', '/Groups', {
          schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
          displayName: fresh,
          members,
        }),
        400,
        'invalidValue',
      );
      refused(
        await scim.call('PUT', `/Groups/${g.body?.id}`, { displayName: `${name}-renamed`, members }),
        400,
        'invalidValue',
      );
      for (const op of [
        { op: 'add', path: 'members', value: members },
        { op: 'Add', path: 'members', value: bad },
        { op: 'remove', path: 'members', value: [{ value: bad }] },
        { op: 'remove', path: `members[value eq ${JSON.stringify(bad)}]` },
      ]) {
        // A rename before the bad operation is not applied either.
        const r = await scim.call(
          'PATCH',
          `/Groups/${g.body?.id}`,
          patch({ op: 'replace', path: 'displayName', value: `${name}-renamed` }, op),
        );
        refused(r, 400, 'invalidValue');
      }
      const found = await scim.call(
        'GET',
        `/Groups?filter=${encodeURIComponent(`displayName eq "${fresh}"`)}`,
      );
      expect(found.body?.totalResults).toBe(0);
    }
    expect(await snapshot()).toEqual(before);
    const read = await scim.call('GET', `/Groups/${g.body?.id}`);
    expect(read.body?.displayName).toBe(name);
    expect(read.body?.members.map((m: Json) => m.value)).toEqual([m1.id]);
    // A well-formed id that names no user of this integration is still left out, as before.
    const unknown = await scim.call(
      'PATCH',
      `/Groups/${g.body?.id}`,
      patch({ op: 'add', path: 'members', value: [{ value: randomUUID() }, { value: m2.id }] }),
    );
    expect(unknown.status).toBe(204);
    const after = await scim.call('GET', `/Groups/${g.body?.id}`);
    expect(new Set(after.body?.members.map((m: Json) => m.value))).toEqual(new Set([m1.id, m2.id]));
  });

  it('a members filter value that cannot be a user id matches no group (200, no 5xx)', async () => {
    const g = await scim.call('POST', '/Groups', { displayName: `f-${randomUUID().slice(0, 8)}` });
    for (const bad of ['a/b', 'a#b', 'a?b', 'a\\b']) {
      const filter = `id eq "${g.body?.id}" and members eq ${JSON.stringify(bad)}`;
      const r = await scim.call('GET', `/Groups?filter=${encodeURIComponent(filter)}`);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(r.body?.totalResults).toBe(0);
    }
  });

  it('refuses a manager that no id can be: 400 invalidValue, the user unchanged', async () => {
    const u = await user();
    const boss = randomUUID();
    const set = await scim.call(
      'PATCH',
      `/Users/${u.id}`,
      patch({ op: 'add', path: `${ENTERPRISE}:manager`, value: boss }),
    );
    expect(set.status, JSON.stringify(set.body)).toBe(200);
    const before = await snapshot();
    for (const bad of BAD_IDS) {
      const name = `mgr-${randomUUID().slice(0, 8)}@contoso.com`;
      refused(
        await scim.call(
          'POST',
          '/Users',
          entraUser(name, randomUUID(), { [ENTERPRISE]: { manager: { value: bad } } }),
        ),
        400,
        'invalidValue',
      );
      refused(
        await scim.call(
          'PUT',
          `/Users/${u.id}`,
          entraUser(u.userName, u.externalId, { [ENTERPRISE]: { manager: bad } }),
        ),
        400,
        'invalidValue',
      );
      for (const op of [
        { op: 'replace', path: `${ENTERPRISE}:manager`, value: bad },
        { op: 'add', path: 'manager', value: [{ value: bad }] },
        { op: 'replace', value: { [ENTERPRISE]: { manager: { value: bad } } } },
      ]) {
        refused(
          await scim.call(
            'PATCH',
            `/Users/${u.id}`,
            patch({ op: 'replace', path: 'displayName', value: 'Renamed' }, op),
          ),
          400,
          'invalidValue',
        );
      }
    }
    expect(await snapshot()).toEqual(before);
    const read = await scim.call('GET', `/Users/${u.id}`);
    expect(read.body?.[ENTERPRISE]).toEqual({ manager: { value: boss } });
    expect(read.body?.displayName).toBe(u.displayName);
  });

  it('refuses a lone surrogate in any string attribute: 400 invalidValue, nothing written', async () => {
    const u = await user();
    const g = await scim.call('POST', '/Groups', { displayName: `s-${randomUUID().slice(0, 8)}` });
    const before = await snapshot();
    const lone = 'x\udc00y';
    const name = () => `s-${randomUUID().slice(0, 8)}@contoso.com`;
    const users: Json[] = [
      { userName: lone },
      entraUser(name(), lone),
      entraUser(name(), randomUUID(), { displayName: lone }),
      entraUser(name(), randomUUID(), { name: { givenName: lone } }),
      entraUser(name(), randomUUID(), {
        emails: [{ primary: true, type: 'work', value: `${lone}@contoso.com` }],
      }),
      entraUser(name(), randomUUID(), { addresses: [{ type: 'work', formatted: lone }] }),
      entraUser(name(), randomUUID(), { title: lone }),
      entraUser(name(), randomUUID(), { [lone]: 'x' }),
    ];
    for (const body of users) {
      refused(await scim.call('POST', '/Users', body), 400, 'invalidValue');
      const put = body.userName === lone ? body : { ...body, userName: u.userName };
      refused(await scim.call('PUT', `/Users/${u.id}`, put), 400, 'invalidValue');
    }
    for (const op of [
      { op: 'replace', path: 'displayName', value: lone },
      { op: 'replace', path: 'externalId', value: lone },
      { op: 'replace', path: 'title', value: lone },
      { op: 'replace', path: `name.givenName`, value: lone },
      { op: 'replace', path: `emails[type eq "${lone}"].value`, value: 'a@contoso.com' },
    ]) {
      refused(await scim.call('PATCH', `/Users/${u.id}`, patch(op)), 400, 'invalidValue');
      refused(await scim.call('PATCH', `/Groups/${g.body?.id}`, patch(op)), 400, 'invalidValue');
    }
    for (const body of [{ displayName: lone }, { displayName: 'ok', externalId: lone }]) {
      refused(await scim.call('POST', '/Groups', body), 400, 'invalidValue');
      refused(await scim.call('PUT', `/Groups/${g.body?.id}`, body), 400, 'invalidValue');
    }
    expect(await snapshot()).toEqual(before);
  });
});
