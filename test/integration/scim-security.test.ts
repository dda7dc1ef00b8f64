/**
 * docs/security.md SP1–SP5 over HTTP against the real stack, plus what deprovisioning promises:
 * a disabled user's refresh token and broker session are refused within the same second, a deleted
 * user's `sub` is never issued again, and 200 parallel PATCHes of one user lose none.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountObjectId, DEMO_ENTRA } from '../../scripts/standins/entra.ts';
import { TABLE_NAMES } from '../../shared/storage/tables.ts';
import { authorize, createApplication, type RegisteredApp, redeem, tokenRequest } from '../helpers/oidc.ts';
import {
  createIntegration,
  enableProvisioning,
  entraUser,
  type Json,
  type ScimClient,
  scimClient,
} from '../helpers/scim.ts';
import { BrokerBrowser, createDemoIntegration, demoAccount } from '../helpers/signin.ts';
import { startTestApp, type TestApp } from '../helpers/stack.ts';

const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const patch = (...Operations: Json[]) => ({ schemas: [PATCH_OP], Operations });

describe('provisioning security (SP1–SP5)', () => {
  let app: TestApp;
  let a: ScimClient;
  let b: ScimClient;
  let demo: ScimClient;
  let rp: RegisteredApp;

  beforeAll(async () => {
    app = await startTestApp();
    a = await enableProvisioning(app, (await createIntegration(app)).id);
    b = await enableProvisioning(app, (await createIntegration(app)).id);
    const d = await createDemoIntegration(app);
    demo = await enableProvisioning(app, d.id, { groupRoles: { Staff: 'staff' } });
    rp = await createApplication(app);
  });
  afterAll(async () => app?.close());

  async function created(client: ScimClient, userName: string, over: Json = {}): Promise<Json> {
    const r = await client.call('POST', '/Users', entraUser(userName, randomUUID(), over));
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    return r.body as Json;
  }

  it('SP1: the token is 256 random bits, shown once, stored only as a hash', async () => {
    const secret = a.token.split('.').at(-1) as string;
    expect(Buffer.from(secret, 'base64url').length).toBe(32);
    const rows: Json[] = [];
    for await (const e of app.services.tables.provisioning.listEntities()) rows.push(e);
    const text = JSON.stringify(rows);
    expect(text).not.toContain(secret);
    expect(text).not.toContain(a.token);
    const view = await (await app.admin(`/api/manage/integrations/${a.integrationId}`)).json();
    expect(JSON.stringify(view)).not.toContain(secret);
    expect(view.provisioning).toMatchObject({ enabled: true, tenantUrl: a.tenantUrl });
  });

  it("SP1: integration A's token cannot read or change B's users and groups (404)", async () => {
    const user = await created(b, `b-user-${randomUUID().slice(0, 6)}@contoso.com`);
    const group = await b.call('POST', '/Groups', { displayName: 'B group', members: [{ value: user.id }] });
    expect(group.status).toBe(201);
    expect((await a.call('GET', `/Users/${user.id}`)).status).toBe(404);
    expect(
      (await a.call('PATCH', `/Users/${user.id}`, patch({ op: 'Replace', path: 'active', value: false })))
        .status,
    ).toBe(404);
    expect((await a.call('PUT', `/Users/${user.id}`, entraUser(user.userName))).status).toBe(404);
    expect((await a.call('DELETE', `/Users/${user.id}`)).status).toBe(404);
    const found = await a.call(
      'GET',
      `/Users?filter=${encodeURIComponent(`userName eq "${user.userName}"`)}`,
    );
    expect(found.body?.totalResults).toBe(0);
    expect((await a.call('GET', '/Users')).body?.Resources.map((u: Json) => u.id)).not.toContain(user.id);
    expect((await a.call('GET', `/Groups/${group.body?.id}`)).status).toBe(404);
    expect(
      (await a.call('PATCH', `/Groups/${group.body?.id}`, patch({ op: 'Remove', path: 'members' }))).status,
    ).toBe(404);
    expect((await a.call('DELETE', `/Groups/${group.body?.id}`)).status).toBe(404);
    // A's group cannot take B's user as a member either.
    const mine = await a.call('POST', '/Groups', { displayName: 'A group', members: [{ value: user.id }] });
    expect(mine.body?.members).toEqual([]);
    // B still sees its user, unchanged.
    const still = await b.call('GET', `/Users/${user.id}`);
    expect(still.body?.active).toBe(true);
    expect((await b.call('GET', `/Groups/${group.body?.id}`)).body?.members).toHaveLength(1);
  });

  it('SP1: a rotated token stops at once; turning provisioning off stops the new one', async () => {
    const i = await createIntegration(app);
    const first = await enableProvisioning(app, i.id);
    expect((await first.call('GET', '/Users')).status).toBe(200);
    const rotated = await app.admin(`/api/manage/integrations/${i.id}/provisioning/token`, {
      method: 'POST',
    });
    expect(rotated.status).toBe(200);
    const second = scimClient(app, first.tenantUrl, (await rotated.json()).secretToken, i.id);
    expect((await first.call('GET', '/Users')).status).toBe(401);
    expect((await second.call('GET', '/Users')).status).toBe(200);
    expect(
      (await app.admin(`/api/manage/integrations/${i.id}/provisioning`, { method: 'DELETE' })).status,
    ).toBe(204);
    expect((await second.call('GET', '/Users')).status).toBe(401);
  });

  it('SP3: active:false refuses the refresh token and the broker session within the same second; re-activation works', async () => {
    const name = `sp3-${randomUUID().slice(0, 6)}`;
    const account = demoAccount(name);
    // userName differs from the Entra account: the first sign-in matches by the binding, not a claim.
    const userName = `sp3-user-${randomUUID().slice(0, 6)}`;
    const user = await created(demo, userName, { externalId: accountObjectId(DEMO_ENTRA.tenantId, name) });
    const browser = new BrokerBrowser(app);
    const tokens = await redeem(
      rp,
      await authorize(browser, rp, { login: { kind: 'entra', username: userName, account } }),
    );
    expect(tokens.claims()?.sub).toBe(user.id);
    expect((await browser.session()).status).toBe(200);
    const disabled = await demo.call(
      'PATCH',
      `/Users/${user.id}`,
      patch({ op: 'Replace', path: 'active', value: 'False' }),
    );
    expect(disabled.status).toBe(200);
    const at = Date.now();
    const refresh = await tokenRequest(
      app,
      { grant_type: 'refresh_token', refresh_token: tokens.refresh_token as string },
      { clientId: rp.clientId, secret: rp.secret as string },
    );
    expect(refresh).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect((await browser.session()).status).toBe(401);
    const info = await fetch(`${app.url}/api/oidc/me`, {
      headers: { authorization: `Bearer ${tokens.access_token}` },
    });
    expect(info.status).toBe(401);
    expect(Date.now() - at).toBeLessThan(1000);
    const back = await demo.call(
      'PATCH',
      `/Users/${user.id}`,
      patch({ op: 'Replace', path: 'active', value: true }),
    );
    expect(back.body?.active).toBe(true);
    // Tokens from the second of the revocation count as revoked (users-id.test.ts): sign in again in
    // the next second, as a re-activated user would.
    await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 10));
    const again = await redeem(
      rp,
      await authorize(new BrokerBrowser(app), rp, { login: { kind: 'entra', username: userName, account } }),
    );
    expect(again.claims()?.sub).toBe(user.id);
  });

  it("SP3: active:false sends a back-channel logout token to every app with a grant in the user's sessions", async () => {
    const tokens: string[] = [];
    const receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        tokens.push(new URLSearchParams(body).get('logout_token') ?? '');
        res.end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    try {
      const port = (receiver.address() as AddressInfo).port;
      const listening = await createApplication(app, {
        backchannelLogoutUri: `http://127.0.0.1:${port}/logout`,
      });
      const name = `sp3bc-${randomUUID().slice(0, 6)}`;
      const account = demoAccount(name);
      const userName = `sp3bc-user-${randomUUID().slice(0, 6)}`;
      const user = await created(demo, userName, { externalId: accountObjectId(DEMO_ENTRA.tenantId, name) });
      const signedIn = await redeem(
        listening,
        await authorize(new BrokerBrowser(app), listening, {
          login: { kind: 'entra', username: userName, account },
        }),
      );
      const disabled = await demo.call(
        'PATCH',
        `/Users/${user.id}`,
        patch({ op: 'Replace', path: 'active', value: 'False' }),
      );
      expect(disabled.status).toBe(200);
      const until = Date.now() + 15_000;
      while (tokens.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
      expect(tokens).toHaveLength(1);
      const jwks = createRemoteJWKSet(new URL(`${app.url}/api/oidc/jwks`));
      const { payload } = await jwtVerify(tokens[0] as string, jwks, {
        issuer: `${app.url}/api/oidc`,
        audience: listening.clientId,
        typ: 'logout+jwt',
      });
      expect(payload.sub).toBe(user.id);
      expect(payload.sid).toBe(signedIn.claims()?.sid);
      expect(payload.events).toEqual({ 'http://schemas.openid.net/event/backchannel-logout': {} });
      expect(payload.nonce).toBeUndefined();
    } finally {
      receiver.closeAllConnections();
      await new Promise((r) => receiver.close(r));
    }
  });

  it("a deleted user's sub is never issued again, even for the same Entra identity", async () => {
    const name = `del-${randomUUID().slice(0, 6)}`;
    const account = demoAccount(name);
    const userName = `del-user-${randomUUID().slice(0, 6)}`;
    const externalId = accountObjectId(DEMO_ENTRA.tenantId, name);
    const first = await created(demo, userName, { externalId });
    const tokens = await redeem(
      rp,
      await authorize(new BrokerBrowser(app), rp, { login: { kind: 'entra', username: userName, account } }),
    );
    expect(tokens.claims()?.sub).toBe(first.id);
    expect((await demo.call('DELETE', `/Users/${first.id}`)).status).toBe(204);
    const refresh = await tokenRequest(
      app,
      { grant_type: 'refresh_token', refresh_token: tokens.refresh_token as string },
      { clientId: rp.clientId, secret: rp.secret as string },
    );
    expect(refresh.body.error).toBe('invalid_grant');
    const second = await created(demo, userName, { externalId });
    expect(second.id).not.toBe(first.id);
    const later = await redeem(
      rp,
      await authorize(new BrokerBrowser(app), rp, { login: { kind: 'entra', username: userName, account } }),
    );
    expect(later.claims()?.sub).toBe(second.id);
    expect((await demo.call('GET', `/Users/${first.id}`)).status).toBe(404);
  });

  it('200 parallel PATCHes of one user all land; the last write wins; 200 parallel member adds lose none', async () => {
    const user = await created(a, `par-${randomUUID().slice(0, 6)}@contoso.com`);
    const names = Array.from({ length: 200 }, (_, i) => `Name ${i}`);
    const results = await Promise.all(
      names.map((n) =>
        a.call('PATCH', `/Users/${user.id}`, patch({ op: 'Replace', path: 'displayName', value: n })),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(names.map(() => 200));
    const final = (await a.call('GET', `/Users/${user.id}`)).body?.displayName;
    expect(names).toContain(final);
    const last = await a.call(
      'PATCH',
      `/Users/${user.id}`,
      patch({ op: 'Replace', path: 'displayName', value: 'Last' }),
    );
    expect(last.body?.displayName).toBe('Last');
    expect((await a.call('GET', `/Users/${user.id}`)).body?.displayName).toBe('Last');
    const audit = await app.services.auditQuery.list({ type: 'scim.user.updated', limit: 500 });
    expect(audit.items.filter((e) => e.target === `user:${user.userName}`).length).toBeGreaterThanOrEqual(2);

    const members = await Promise.all(
      Array.from({ length: 40 }, (_, i) => created(a, `m${i}-${randomUUID().slice(0, 6)}@contoso.com`)),
    );
    const group = await a.call('POST', '/Groups', { displayName: `par-${randomUUID().slice(0, 6)}` });
    const adds = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        a.call(
          'PATCH',
          `/Groups/${group.body?.id}`,
          patch({ op: 'Add', path: 'members', value: [{ value: members[i % 40]?.id }] }),
        ),
      ),
    );
    expect(adds.every((r) => r.status === 204)).toBe(true);
    const read = await a.call('GET', `/Groups/${group.body?.id}`);
    expect(new Set(read.body?.members.map((m: Json) => m.value))).toEqual(new Set(members.map((m) => m.id)));
  }, 180_000);

  it('SP4: a role that comes only from a group opens an application that requires it, at the sign-in page and by single sign-on', async () => {
    const name = `sp4g-${randomUUID().slice(0, 6)}`;
    const account = demoAccount(name);
    const userName = `sp4g-user-${randomUUID().slice(0, 6)}`;
    const user = await created(demo, userName, { externalId: accountObjectId(DEMO_ENTRA.tenantId, name) });
    // A group of its own, mapped to the same role: the next test creates "Staff" itself, and
    // display names are unique within an integration.
    const groupName = `Staff ${name}`;
    const mapped = await app.admin(`/api/manage/integrations/${demo.integrationId}/provisioning`, {
      method: 'PATCH',
      json: { groupRoles: { Staff: 'staff', [groupName]: 'staff' } },
    });
    expect(mapped.status).toBe(200);
    const group = await demo.call('POST', '/Groups', {
      displayName: groupName,
      members: [{ value: user.id }],
    });
    expect(group.status).toBe(201);
    const view = await (await app.admin(`/api/manage/users/${userName}`)).json();
    expect(view.roles).toEqual([]);
    expect(view.groupRoles).toEqual(['staff']);
    const staffOnly = await createApplication(app, { allowedRoles: ['staff'] });
    const browser = new BrokerBrowser(app);
    const first = await authorize(browser, staffOnly, {
      login: { kind: 'entra', username: userName, account },
    });
    expect(first.callbackUrl?.searchParams.get('code'), first.callbackUrl?.href).toBeTruthy();
    // The same browser again: answered from the broker session, no page.
    const again = await authorize(browser, staffOnly);
    expect(again.loginPages).toBe(0);
    expect(again.callbackUrl?.searchParams.get('error')).toBeNull();
    expect(again.callbackUrl?.searchParams.get('code'), again.callbackUrl?.href).toBeTruthy();
    const silent = await authorize(browser, staffOnly, { prompt: 'none' });
    expect(silent.callbackUrl?.searchParams.get('code'), silent.callbackUrl?.href).toBeTruthy();
    expect((await redeem(staffOnly, again)).claims()?.roles).toEqual(['staff']);
  });

  it('SP4: roles come only from groupRoles, never make a broker admin; group removal takes only its role', async () => {
    const user = await created(demo, `sp4-${randomUUID().slice(0, 6)}@demo.example`);
    const username = user.userName;
    const setRoles = await app.admin(`/api/manage/users/${username}`, {
      method: 'PATCH',
      json: { roles: ['editor'] },
    });
    expect(setRoles.status).toBe(200);
    const staff = await demo.call('POST', '/Groups', { displayName: 'Staff', members: [{ value: user.id }] });
    const other = await demo.call('POST', '/Groups', {
      displayName: 'Unmapped',
      members: [{ value: user.id }],
    });
    expect(staff.status).toBe(201);
    expect(other.status).toBe(201);
    let view = await (await app.admin(`/api/manage/users/${username}`)).json();
    expect(view.roles).toEqual(['editor']);
    expect(view.groupRoles).toEqual(['staff']);
    expect(view.provisionedBy).toBe(demo.integrationId);
    // A group mapped to admin reaches applications' tokens but never the broker's admin rights.
    const mapAdmin = await app.admin(`/api/manage/integrations/${demo.integrationId}/provisioning`, {
      method: 'PATCH',
      json: { groupRoles: { Staff: 'staff', Owners: 'admin' } },
    });
    expect(mapAdmin.status).toBe(200);
    await demo.call('POST', '/Groups', { displayName: 'Owners', members: [{ value: user.id }] });
    view = await (await app.admin(`/api/manage/users/${username}`)).json();
    expect(view.groupRoles.sort()).toEqual(['admin', 'staff']);
    expect(view.roles).toEqual(['editor']);
    expect(await app.services.users.store.adminUsernames()).not.toContain(username);
    // Removing the member removes only the group's role.
    await demo.call(
      'PATCH',
      `/Groups/${staff.body?.id}`,
      patch({ op: 'Remove', path: 'members', value: [{ value: user.id }] }),
    );
    view = await (await app.admin(`/api/manage/users/${username}`)).json();
    expect(view.groupRoles).toEqual(['admin']);
    expect(view.roles).toEqual(['editor']);
  });

  it('SP4: SCIM cannot change or delete a broker admin, nor a user of another verify type', async () => {
    const user = await created(a, `sp4a-${randomUUID().slice(0, 6)}@contoso.com`);
    const promote = await app.admin(`/api/manage/users/${user.userName}`, {
      method: 'PATCH',
      json: { roles: ['admin'] },
    });
    expect(promote.status).toBe(200);
    const change = await a.call(
      'PATCH',
      `/Users/${user.id}`,
      patch({ op: 'Replace', path: 'active', value: false }),
    );
    expect(change.status).toBe(403);
    expect((await a.call('DELETE', `/Users/${user.id}`)).status).toBe(403);
    expect((await app.admin(`/api/manage/users/${user.userName}`).then((r) => r.json())).disabled).toBe(
      false,
    );
    const pw = await app.admin('/api/manage/users', {
      method: 'POST',
      json: {
        username: `pw-${randomUUID().slice(0, 6)}`,
        verifyType: 'password',
        password: 'a long and unusual passphrase',
      },
    });
    const pwUser = await pw.json();
    expect((await a.call('GET', `/Users/${pwUser.id}`)).status).toBe(404);
    expect((await a.call('DELETE', `/Users/${pwUser.id}`)).status).toBe(404);
    const taken = await a.call('POST', '/Users', entraUser(pwUser.username));
    expect(taken.status).toBe(409);
    expect(taken.body?.scimType).toBe('uniqueness');
  });

  it('SP4: SCIM cannot bind an identity already bound to another user', async () => {
    const objectId = randomUUID();
    const first = await created(demo, `bind1-${randomUUID().slice(0, 6)}@demo.example`, {
      externalId: objectId,
    });
    expect(
      (await app.admin(`/api/manage/users/${first.userName}`).then((r) => r.json())).entraBinding,
    ).toMatchObject({
      tenantId: DEMO_ENTRA.tenantId,
      objectId,
    });
    const second = await demo.call(
      'POST',
      '/Users',
      entraUser(`bind2-${randomUUID().slice(0, 6)}@demo.example`, objectId.toUpperCase()),
    );
    expect(second.status).toBe(409);
    expect(second.body?.scimType).toBe('uniqueness');
    const other = await created(demo, `bind3-${randomUUID().slice(0, 6)}@demo.example`);
    const steal = await demo.call(
      'PATCH',
      `/Users/${other.id}`,
      patch({ op: 'Replace', path: 'externalId', value: objectId }),
    );
    expect(steal.status).toBe(409);
  });

  it('SP5: every SCIM change and refusal is audited with actor scim:<integrationId>, never with the token', async () => {
    const user = await created(a, `sp5-${randomUUID().slice(0, 6)}@contoso.com`);
    await a.call('PATCH', `/Users/${user.id}`, patch({ op: 'Replace', path: 'displayName', value: 'Five' }));
    await a.call('POST', '/Users', { userName: 'bad name with spaces' });
    await a.call('DELETE', `/Users/${user.id}`);
    const events = (await app.services.auditQuery.list({ limit: 500 })).items.filter(
      (e) => e.actor === `scim:${a.integrationId}`,
    );
    const types = new Set(events.map((e) => e.type));
    for (const t of [
      'admin.user.created',
      'scim.user.created',
      'scim.user.updated',
      'scim.request.refused',
      'admin.user.deleted',
      'scim.user.deleted',
    ]) {
      expect(types, t).toContain(t);
    }
    const refused = events.find((e) => e.type === 'scim.request.refused');
    expect(refused?.reason).toBe('invalidValue');
    const rows: Json[] = [];
    for await (const e of app.services.tables.auditEvents.listEntities()) rows.push(e);
    const text = JSON.stringify(rows);
    for (const c of [a, b, demo]) {
      expect(text).not.toContain(c.token);
      expect(text).not.toContain(c.token.split('.').at(-1));
    }
  });
});

describe('provisioning security: wrong tokens (SP2)', () => {
  let app: TestApp;
  let a: ScimClient;
  beforeAll(async () => {
    app = await startTestApp();
    a = await enableProvisioning(app, (await createIntegration(app)).id);
  });
  afterAll(async () => app?.close());

  async function countRows(except: string[]): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const [key, table] of Object.entries(app.services.tables)) {
      if (except.includes(key)) continue;
      let n = 0;
      for await (const _ of table.listEntities({ queryOptions: { select: ['RowKey'] } })) n++;
      out[key] = n;
    }
    return out;
  }
  it('SP2: 50 wrong tokens write no row (but the address counter) and the address is then throttled', async () => {
    // The local host appends the socket's address (127.0.0.1), as Azure's front end would: this
    // app's own Throttle table makes the address's counter start at zero.
    const headers = {};
    const before = await countRows(['throttle']);
    const throttleBefore = (await countRows([])).throttle ?? 0;
    const wrong = [
      ...Array.from(
        { length: 25 },
        () => `scim.${a.integrationId}.${randomUUID().replace(/-/g, '').padEnd(43, 'x')}`,
      ),
      ...Array.from({ length: 25 }, () => `brk.${randomUUID()}`),
    ];
    for (const token of wrong) {
      const r = await scimClient(app, a.tenantUrl, token, a.integrationId).call(
        'GET',
        '/Users',
        undefined,
        headers,
      );
      expect(r.status).toBe(401);
      expect(r.body?.schemas).toEqual(['urn:ietf:params:scim:api:messages:2.0:Error']);
    }
    expect(await countRows(['throttle'])).toEqual(before);
    // One counter row for the address: the only write the 50 wrong tokens cost.
    expect(((await countRows([])).throttle ?? 0) - throttleBefore).toBeLessThanOrEqual(1);
    let limited = false;
    for (let k = 0; k < 5 && !limited; k++) {
      const r = await scimClient(app, a.tenantUrl, 'scim.wrong', a.integrationId).call(
        'GET',
        '/Users',
        undefined,
        headers,
      );
      limited = r.status === 429;
      if (limited) expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
    }
    expect(limited).toBe(true);
    // Even the right token is refused from that address for now.
    expect((await a.call('GET', '/Users', undefined, headers)).status).toBe(429);
    expect(Object.keys(TABLE_NAMES)).toContain('provisioning');
  });
});
