/**
 * Every Entra request shape in test/fixtures/scim/entra replayed over HTTP against the real stack
 * (local host, Azurite, Key Vault stand-in), in the order Entra's provisioning service sends them:
 * Test Connection and lookups that find nothing, create, reads and queries, the PATCH shapes,
 * disable and re-enable, manager, groups with members in batches, renames, deletes. The ids in a
 * vector's path and members are Entra's; each is mapped to a real resource of this run, and every
 * answer is checked against the canonical result written in the vector.
 */
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENTERPRISE_USER_SCHEMA } from '../../shared/scim/urns.ts';
import {
  createIntegration,
  enableProvisioning,
  entraUser,
  type Json,
  type ScimClient,
} from '../helpers/scim.ts';
import { startTestApp, type TestApp } from '../helpers/stack.ts';

interface Vector {
  name: string;
  request: { method: string; path: string; body?: unknown };
  expect: { kind: string; [key: string]: unknown };
}

const dir = path.resolve(import.meta.dirname, '..', 'fixtures', 'scim', 'entra');
const all = new Map(
  readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => [f.replace(/\.json$/, ''), JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as Vector]),
);

/** Entra's order: connection test, lookups, create, changes, disable/enable, groups, deletes. */
const ORDER = [
  'tutorial-test-connection',
  'tutorial-get-user-by-query-zero-results',
  'logicapp-create-user-filter',
  'tutorial-create-user',
  'tutorial-get-user-by-query',
  'tutorial-get-user',
  'tutorial-example-1-query-externalid',
  'tutorial-example-2-provision-user',
  'tutorial-example-3-get-user',
  'tutorial-example-4-query-manager',
  'tutorial-query-by-work-email',
  'tutorial-update-user-multi-valued',
  'tutorial-update-user-single-valued',
  'qna-add-work-email',
  'tutorial-default-mapping-paths',
  'known-issues-add-single-value-without-flag',
  'known-issues-add-single-value-with-flag',
  'known-issues-replace-multiple-without-flag',
  'known-issues-replace-multiple-with-flag',
  'tutorial-example-5-add-manager',
  'logicapp-manager-set',
  'logicapp-manager-change',
  'logicapp-manager-remove',
  'logicapp-null-update-empty-strings',
  'logicapp-null-update-nulls',
  'tutorial-disable-user',
  'known-issues-disable-user-without-flag',
  'known-issues-disable-user-with-flag',
  'postman-patch-user-active-boolean',
  'tutorial-example-schema-user',
  'postman-post-user',
  'postman-post-enterprise-user',
  'postman-post-enterprise-user-department',
  'postman-post-user-active-string-true',
  'postman-post-user-omalley',
  'postman-post-user-no-username',
  'postman-complex-email-not-an-address',
  'postman-get-user-filter-displayname',
  'postman-filter-starts-with',
  'postman-filter-greater-than',
  'postman-filter-and-or-co',
  'postman-paginate',
  'logicapp-user-pagination',
  'postman-patch-user-username',
  'postman-patch-user-new-username',
  'postman-put-user-omalley',
  'postman-put-user-misspelled-attribute',
  'postman-put-user-replace',
  'postman-put-user-no-username',
  'tutorial-create-group',
  'tutorial-get-group',
  'tutorial-get-group-by-displayname',
  'postman-post-group',
  'postman-create-empty-group',
  'postman-create-filled-group',
  'postman-get-group-exclude-members',
  'tutorial-update-group-add-members',
  'postman-patch-group-add-member',
  'postman-patch-group-add-member-string',
  'tutorial-update-group-remove-members',
  'known-issues-remove-member-without-flag',
  'known-issues-remove-member-with-flag',
  'postman-patch-group-remove-member-filter',
  'postman-patch-group-remove-all',
  'tutorial-update-group-non-member',
  'postman-put-group',
  'postman-put-replace-group',
  'logicapp-group-pagination',
  'logicapp-delete-group-lookup',
  'tutorial-delete-group',
  'tutorial-delete-user',
  'tutorial-example-6-deprovision',
  'tutorial-get-user-not-found',
];

const RESOURCE_ID = /^\/(Users|Groups)\/([^/?]+)/;

describe('Entra SCIM test vectors, over HTTP', () => {
  let app: TestApp;
  let scim: ScimClient;
  /** The user and group the current vectors act on. */
  let subject: string | undefined;
  let group: string | undefined;
  /** Entra's member ids → users of this run. */
  const memberMap = new Map<string, string>();
  /** The members the group should have after each vector. */
  let model = new Set<string>();
  const replayed: string[] = [];

  beforeAll(async () => {
    app = await startTestApp();
    const integration = await createIntegration(app);
    scim = await enableProvisioning(app, integration.id);
  });
  afterAll(async () => app?.close());

  const q = (filter: string) => `?filter=${encodeURIComponent(filter)}`;

  /** Frees a userName, email or externalId a vector reuses (Entra never creates the same user twice). */
  async function free(body: Json, keep?: string) {
    const lookups: string[] = [];
    if (typeof body.userName === 'string') lookups.push(q(`userName eq "${body.userName}"`));
    if (typeof body.externalId === 'string') lookups.push(q(`externalId eq "${body.externalId}"`));
    for (const e of (body.emails as Json[] | undefined) ?? []) {
      if (typeof e.value === 'string') lookups.push(q(`emails[type eq "work"].value eq "${e.value}"`));
    }
    for (const l of lookups) {
      const r = await scim.call('GET', `/Users${l}`);
      for (const u of r.body?.Resources ?? []) {
        if (u.id === keep) continue;
        expect((await scim.call('DELETE', `/Users/${u.id}`)).status).toBe(204);
        if (u.id === subject) subject = undefined;
      }
    }
  }

  async function newSubject(): Promise<string> {
    const name = `subject-${randomUUID().slice(0, 8)}@contoso.com`;
    const r = await scim.call('POST', '/Users', entraUser(name));
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    subject = r.body?.id;
    return subject as string;
  }

  async function member(entraId: string): Promise<string> {
    let id = memberMap.get(entraId);
    if (!id) {
      const r = await scim.call(
        'POST',
        '/Users',
        entraUser(`member-${randomUUID().slice(0, 8)}@contoso.com`),
      );
      expect(r.status).toBe(201);
      id = r.body?.id as string;
      memberMap.set(entraId, id);
    }
    return id;
  }

  async function newGroup(): Promise<string> {
    const r = await scim.call('POST', '/Groups', {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
      displayName: `group-${randomUUID().slice(0, 8)}`,
    });
    expect(r.status).toBe(201);
    group = r.body?.id;
    model = new Set();
    return group as string;
  }

  /** The request of a vector with Entra's ids swapped for this run's. */
  async function localise(v: Vector): Promise<{ path: string; body: unknown }> {
    let p = v.request.path;
    let text = v.request.body === undefined ? undefined : JSON.stringify(v.request.body);
    const ids = new Set<string>([
      ...((v.expect.changes as Json[] | undefined) ?? []).flatMap((c) =>
        c.attribute === 'members' ? c.ids : [],
      ),
      ...(((v.expect.input as Json | undefined)?.memberIds as string[] | undefined) ?? []),
    ]);
    for (const id of ids) {
      const mine = await member(id);
      text = text?.split(JSON.stringify(id).slice(1, -1)).join(mine);
    }
    const m = RESOURCE_ID.exec(p);
    if (m && v.name !== all.get('tutorial-get-user-not-found')?.name) {
      const mine = m[1] === 'Users' ? (subject ?? (await newSubject())) : (group ?? (await newGroup()));
      p = p.replace(m[2] as string, mine);
      text = text?.split(m[2] as string).join(mine);
    }
    return { path: p, body: text === undefined ? undefined : JSON.parse(text) };
  }

  function checkUser(resource: Json, changes: Json[]) {
    const final = new Map<string, unknown>();
    for (const c of changes) if (c.attribute !== 'ignored') final.set(c.attribute, c.value);
    const ent = resource[ENTERPRISE_USER_SCHEMA] as Json | undefined;
    const shown: Record<string, unknown> = {
      active: resource.active,
      userName: resource.userName,
      displayName: resource.displayName === resource.userName ? null : (resource.displayName ?? null),
      email: resource.emails?.[0]?.value ?? null,
      externalId: resource.externalId ?? null,
      givenName: resource.name?.givenName ?? null,
      familyName: resource.name?.familyName ?? null,
      formattedName: resource.name?.formatted ?? null,
      workAddress: resource.addresses?.[0]?.formatted ?? null,
      manager: ent?.manager?.value ?? null,
    };
    for (const [attr, value] of final) {
      const expected = attr === 'userName' && typeof value === 'string' ? value.toLowerCase() : value;
      expect(shown[attr], `${attr} in ${JSON.stringify(resource)}`).toEqual(expected);
    }
  }

  for (const name of ORDER) {
    it(name, async () => {
      const v = all.get(name);
      expect(v, `vector ${name}`).toBeDefined();
      if (!v) return;
      replayed.push(name);
      const e = v.expect;
      const method = v.request.method;

      if (name === 'tutorial-get-user-not-found') {
        // After the deletes: the subject is gone, and Entra's own id was never ours.
        expect((await scim.call('GET', v.request.path)).status).toBe(404);
        if (subject) expect((await scim.call('GET', `/Users/${subject}`)).status).toBe(404);
        return;
      }
      if (e.kind === 'error') {
        if (method === 'PUT' && !subject) await newSubject();
        const { path: p, body } = await localise(v);
        const r = await scim.call(method, p, body);
        expect(r.status, JSON.stringify(r.body)).toBe(e.status);
        expect(r.body?.scimType).toBe(e.scimType);
        expect(r.body?.schemas).toEqual(['urn:ietf:params:scim:api:messages:2.0:Error']);
        expect(r.body?.status).toBe(String(e.status));
        return;
      }
      if (e.kind === 'filter' || e.kind === 'page') {
        const r = await scim.call('GET', v.request.path);
        expect(r.status, JSON.stringify(r.body)).toBe(200);
        expect(r.body?.schemas).toEqual(['urn:ietf:params:scim:api:messages:2.0:ListResponse']);
        expect(r.body?.Resources.length).toBe(r.body?.itemsPerPage);
        if (e.kind === 'page') expect(r.body?.startIndex).toBe((e.page as Json).startIndex);
        // Filters on names no user of this run has find nothing, with 200 and an empty list.
        if (
          /non-existent|3f0e4a1c|jyoung|user@contoso|scimtest_5c1e|SCIM Test Group 5c1e|a0a0a0a0/.test(
            v.request.path,
          )
        ) {
          expect(r.body?.totalResults).toBe(0);
        }
        return;
      }
      if (e.kind === 'userCreate' && method === 'POST') {
        await free(v.request.body as Json);
        const r = await scim.call('POST', '/Users', v.request.body);
        expect(r.status, JSON.stringify(r.body)).toBe(201);
        const input = e.input as Json;
        expect(r.body?.userName).toBe(input.username);
        expect(r.body?.active).toBe(input.active);
        expect(r.body?.emails?.[0]?.value ?? null).toBe(input.email);
        expect(r.body?.externalId ?? null).toBe(input.externalId);
        expect(r.headers.get('content-type')).toMatch(/^application\/scim\+json/);
        subject = r.body?.id;
        const read = await scim.call('GET', `/Users/${subject}`);
        expect(read.body?.userName).toBe(input.username);
        return;
      }
      if (e.kind === 'userCreate' && method === 'PUT') {
        if (!subject) await newSubject();
        await free(v.request.body as Json, subject);
        const { path: p, body } = await localise(v);
        const r = await scim.call('PUT', p, body);
        expect(r.status, JSON.stringify(r.body)).toBe(200);
        const input = e.input as Json;
        expect(r.body?.userName).toBe(input.username);
        expect(r.body?.active).toBe(input.active);
        expect(r.body?.addresses?.[0]?.formatted ?? null).toBe(input.workAddress);
        return;
      }
      if (e.kind === 'userPatch') {
        if (!subject) await newSubject();
        const { path: p, body } = await localise(v);
        const r = await scim.call('PATCH', p, body);
        expect(r.status, JSON.stringify(r.body)).toBe(200);
        checkUser(r.body as Json, e.changes as Json[]);
        checkUser((await scim.call('GET', p)).body as Json, e.changes as Json[]);
        if ((e.changes as Json[]).some((c) => c.attribute === 'active' && c.value === false)) {
          // Re-enabled at once, as Entra does when the user is assigned again.
          const back = await scim.call('PATCH', p, {
            schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
            Operations: [{ op: 'Replace', path: 'active', value: 'True' }],
          });
          expect(back.status).toBe(200);
          expect(back.body?.active).toBe(true);
        }
        return;
      }
      if (e.kind === 'groupCreate') {
        const input = e.input as Json;
        if (method === 'POST') {
          const existing = await scim.call('GET', `/Groups${q(`displayName eq "${input.displayName}"`)}`);
          for (const g of existing.body?.Resources ?? []) await scim.call('DELETE', `/Groups/${g.id}`);
        } else if (!group) await newGroup();
        const { path: p, body } = await localise(v);
        const r = await scim.call(method, method === 'POST' ? '/Groups' : p, body);
        expect(r.status, JSON.stringify(r.body)).toBe(method === 'POST' ? 201 : 200);
        expect(r.body?.displayName).toBe(input.displayName);
        expect(r.body?.externalId ?? null).toBe(input.externalId);
        group = r.body?.id;
        model = new Set(await Promise.all((input.memberIds as string[]).map(member)));
        expect(new Set((r.body?.members ?? []).map((m: Json) => m.value))).toEqual(model);
        return;
      }
      if (e.kind === 'groupPatch') {
        if (!group) await newGroup();
        const { path: p, body } = await localise(v);
        for (const c of e.changes as Json[]) {
          if (c.attribute !== 'members') continue;
          const ids = await Promise.all((c.ids as string[]).map(member));
          if (c.action === 'add') for (const id of ids) model.add(id);
          if (c.action === 'remove') for (const id of ids) model.delete(id);
          if (c.action === 'replace') model = new Set(ids);
        }
        const r = await scim.call('PATCH', p, body);
        expect(r.status, JSON.stringify(r.body)).toBe(204);
        const read = await scim.call('GET', p);
        expect(new Set((read.body?.members ?? []).map((m: Json) => m.value))).toEqual(model);
        const renamed = (e.changes as Json[]).find((c) => c.attribute === 'displayName');
        if (renamed) expect(read.body?.displayName).toBe(renamed.value);
        return;
      }
      if (e.kind === 'route') {
        const { path: p } = await localise(v);
        if (method === 'DELETE') {
          const r = await scim.call('DELETE', p);
          expect(r.status, JSON.stringify(r.body)).toBe(204);
          expect((await scim.call('GET', p)).status).toBe(404);
          if (p.startsWith('/Users/')) subject = undefined;
          else group = undefined;
          return;
        }
        const r = await scim.call('GET', p);
        expect(r.status, JSON.stringify(r.body)).toBe(200);
        if (/excludedAttributes=members/.test(p)) expect(r.body?.members).toBeUndefined();
        return;
      }
      throw new Error(`no replay for ${e.kind}`);
    });
  }

  it('replays every vector in the fixtures folder', () => {
    expect(new Set(ORDER)).toEqual(new Set(all.keys()));
    expect(replayed.length).toBe(all.size);
  });
});
