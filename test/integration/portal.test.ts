/**
 * The broker's signed-in page as a portal: an application's `initiateLoginUri` (OIDC
 * `initiate_login_uri`) through the management API, its row and the OP's client metadata, and the
 * "Your applications" list a signed-in user sees, filtered by the application's `allowedRoles` with
 * the OP's own rule. Through the real app on the local host against Azurite; time is a manual clock,
 * so the list's per-instance cache is tested by moving it.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_CACHE_TTL_MS } from '../../shared/applications/service.ts';
import { APPLICATION_PARTITION } from '../../shared/applications/store.ts';
import { manualClock } from '../../shared/core/clock.ts';
import { signedInPage as renderSignedIn } from '../../shared/web/pages/render.ts';
import { authorize, createApplication, PASSWORD } from '../helpers/oidc.ts';
import { BrokerBrowser, createUser } from '../helpers/signin.ts';
import { startTestApp, type TestApp } from '../helpers/stack.ts';

// biome-ignore lint/suspicious/noExplicitAny: JSON bodies are checked by assertions.
type Json = Record<string, any>;

const clock = manualClock(Date.parse('2026-12-01T09:00:00Z'));
let app: TestApp;

beforeAll(async () => {
  app = await startTestApp({ clock });
});
afterAll(async () => {
  await app?.close();
});

async function call(method: string, path: string, json?: unknown): Promise<{ status: number; body: Json }> {
  const r = await app.admin(`/api/manage/applications${path}`, {
    method,
    ...(json !== undefined ? { json } : {}),
  });
  const text = await r.text();
  return { status: r.status, body: text ? (JSON.parse(text) as Json) : {} };
}

const valid = (over: Record<string, unknown> = {}) => ({
  name: `Portal ${randomUUID().slice(0, 8)}`,
  type: 'confidential',
  redirectUris: ['https://app.example/callback'],
  ...over,
});

async function create(over: Record<string, unknown> = {}): Promise<Json> {
  const r = await call('POST', '', valid(over));
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body;
}

/** The field errors of a 400 problem, by field name. */
function fieldErrors(body: Json): string[] {
  return (body.errors ?? []).map((e: Json) => String(e.field));
}

describe('initiateLoginUri in the applications API', () => {
  it('takes an https URI: answered, read back, and given to oidc-provider as initiate_login_uri', async () => {
    const a = await create({ initiateLoginUri: 'https://crm.example/login?from=broker' });
    expect(a.initiateLoginUri).toBe('https://crm.example/login?from=broker');
    const got = await call('GET', `/${a.clientId}`);
    expect(got.body.initiateLoginUri).toBe('https://crm.example/login?from=broker');
    const client = await app.services.applications.clientForProvider(a.clientId);
    expect(client?.initiate_login_uri).toBe('https://crm.example/login?from=broker');
  });

  it('takes http on a loopback host (development); oidc-provider, which takes https only, is not given it', async () => {
    for (const uri of ['http://localhost:3000/login', 'http://127.0.0.1:8400/start', 'http://[::1]:9/go']) {
      const a = await create({ initiateLoginUri: uri });
      expect(a.initiateLoginUri).toBe(uri);
      const client = await app.services.applications.clientForProvider(a.clientId);
      expect(client && 'initiate_login_uri' in client).toBe(false);
    }
  });

  it('refuses what the redirect URI rule refuses, with a 400 naming the field (create and PATCH)', async () => {
    const target = await create();
    for (const uri of [
      'http://crm.example/login',
      'http://localhost.evil.example/login',
      'javascript:alert(1)',
      'data:text/html,hi',
      'https://crm.example/login#x',
      'https://*.example/login',
      'https://u:p@crm.example/login',
      '/relative',
      '',
    ]) {
      const created = await call('POST', '', valid({ initiateLoginUri: uri }));
      expect(created.status, uri).toBe(400);
      expect(created.body.type).toBeDefined();
      expect(fieldErrors(created.body), uri).toEqual(['initiateLoginUri']);
      const patched = await call('PATCH', `/${target.clientId}`, { initiateLoginUri: uri });
      expect(patched.status, uri).toBe(400);
      expect(fieldErrors(patched.body), uri).toEqual(['initiateLoginUri']);
    }
    const http = await call('POST', '', valid({ initiateLoginUri: 'http://crm.example/login' }));
    expect(http.body.errors[0].message).toBe('must use https (http only for localhost, 127.0.0.1 or [::1])');
    expect((await call('GET', `/${target.clientId}`)).body.initiateLoginUri).toBeNull();
  });

  it('is set, changed and cleared (null) with PATCH; the audit event names the field', async () => {
    const a = await create();
    expect(a.initiateLoginUri).toBeNull();
    const set = await call('PATCH', `/${a.clientId}`, { initiateLoginUri: 'https://one.example/start' });
    expect(set.status).toBe(200);
    expect(set.body.initiateLoginUri).toBe('https://one.example/start');
    expect((await app.services.applications.clientForProvider(a.clientId))?.initiate_login_uri).toBe(
      'https://one.example/start',
    );
    const cleared = await call('PATCH', `/${a.clientId}`, { initiateLoginUri: null });
    expect(cleared.status).toBe(200);
    expect(cleared.body.initiateLoginUri).toBeNull();
    expect((await call('GET', `/${a.clientId}`)).body.initiateLoginUri).toBeNull();
    const client = await app.services.applications.clientForProvider(a.clientId);
    expect(client && 'initiate_login_uri' in client).toBe(false);

    const events = await app.services.auditQuery.list({ type: 'admin.application.updated' });
    const changes = events.items.filter((x) => x.target === `application:${a.clientId}`);
    expect(changes.map((e) => e.changedFields)).toEqual([['initiateLoginUri'], ['initiateLoginUri']]);
  });

  it('the OpenAPI document describes it on create, change and the resource', async () => {
    const doc = await (await app.admin('/api/manage/openapi.json')).json();
    const body = (path: string, method: string) =>
      doc.paths[path][method].requestBody.content['application/json'].schema;
    for (const schema of [
      body('/api/manage/applications', 'post'),
      body('/api/manage/applications/{clientId}', 'patch'),
    ]) {
      expect(schema.required ?? []).not.toContain('initiateLoginUri');
      expect(JSON.stringify(schema.properties.initiateLoginUri)).toContain('initiate_login_uri');
    }
    const view =
      doc.paths['/api/manage/applications/{clientId}'].get.responses['200'].content['application/json']
        .schema;
    const resolved = view.$ref ? doc.components.schemas[view.$ref.split('/').pop()] : view;
    expect(resolved.properties.initiateLoginUri).toBeDefined();
  });

  it('a row written before the column existed reads as none', async () => {
    const a = await create({ initiateLoginUri: 'https://old.example/start' });
    const table = app.services.tables.applications;
    const row = await table.getEntity<Json>(APPLICATION_PARTITION, a.clientId);
    const { initiateLoginUri: _dropped, etag: _etag, timestamp: _ts, ...older } = row;
    await table.updateEntity(older as Json & { partitionKey: string; rowKey: string }, 'Replace');
    expect((await app.services.applications.get(a.clientId)).initiateLoginUri).toBeNull();
  });

  it('oidc-provider accepts the client either way: the application signs a user in', async () => {
    const username = `portal-op-${randomUUID().slice(0, 6)}`;
    await createUser(app, { username, verifyType: 'password', password: PASSWORD });
    // oidc-provider refuses a whole client whose initiate_login_uri is not https: a loopback one must
    // not reach it.
    for (const initiateLoginUri of ['https://rp.example/login', 'http://127.0.0.1:9/login']) {
      const rp = await createApplication(app, { initiateLoginUri });
      const r = await authorize(new BrokerBrowser(app), rp, { login: { kind: 'password', username } });
      expect(r.callbackUrl?.searchParams.get('code'), initiateLoginUri).toBeTruthy();
    }
  });
});

describe('the signed-in page lists "Your applications"', () => {
  /** Signs the user in with a password, then opens the sign-in page as a browser does: the signed-in page. */
  async function signedInPage(username: string): Promise<string> {
    const b = new BrokerBrowser(app);
    await b.post('/api/auth/login', { username });
    const signedIn = await b.post('/api/auth/password', { username, password: PASSWORD });
    expect(signedIn.status, await signedIn.clone().text()).toBe(303);
    const res = await b.get('/api/auth/login', { accept: 'text/html' });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('You are signed in');
    return html;
  }

  /** The links in the "Your applications" section, as written in the HTML (href still escaped). */
  function listed(html: string): { href: string; name: string }[] {
    const section = /<section aria-labelledby="apps-h">([\s\S]*?)<\/section>/.exec(html)?.[1] ?? '';
    return [...section.matchAll(/<li><a href="([^"]*)">([^<]*)<\/a><\/li>/g)].map((m) => ({
      href: m[1] ?? '',
      name: m[2] ?? '',
    }));
  }

  it('links an application with initiateLoginUri (href exactly the URI, escaped), sorted by name; not one without it', async () => {
    const tag = randomUUID().slice(0, 6);
    const uri = `https://crm.example/start?tenant=a&next="/home"&x='<b>'`;
    const escaped = 'https://crm.example/start?tenant=a&amp;next=&quot;/home&quot;&amp;x=&#39;&lt;b&gt;&#39;';
    await create({ name: `Zeta ${tag} & <Co>`, initiateLoginUri: uri });
    await create({ name: `Alpha ${tag}`, initiateLoginUri: 'http://localhost:3000/login' });
    await create({ name: `Hidden ${tag}` });
    const username = `portal-${tag}`;
    await createUser(app, { username, verifyType: 'password', password: PASSWORD });

    const html = await signedInPage(username);
    expect(html).toContain('<h2 id="apps-h">Your applications</h2>');
    const mine = listed(html).filter((l) => l.name.includes(tag));
    expect(mine).toEqual([
      { name: `Alpha ${tag}`, href: 'http://localhost:3000/login' },
      { name: `Zeta ${tag} &amp; &lt;Co&gt;`, href: escaped },
    ]);
    expect(html).not.toContain(`Hidden ${tag}`);
    // Unescaped, the href is exactly the registered URI.
    const fromHtml = (s: string) =>
      s
        .replace(/&quot;/g, '"')
        .replace(/&#39;/g, "'")
        .replace(/&lt;/g, '<')
        .replace(/&gt;/g, '>')
        .replace(/&amp;/g, '&');
    expect(fromHtml(mine[1]?.href ?? '')).toBe(uri);
    // All listed applications are in name order.
    const names = listed(html).map((l) => fromHtml(l.name));
    expect(names).toEqual([...names].sort((a, b) => a.localeCompare(b)));
  });

  it('shows an application with allowedRoles only to a user holding one of them', async () => {
    const tag = randomUUID().slice(0, 6);
    const role = `finance-${tag}`;
    await create({
      name: `Ledger ${tag}`,
      initiateLoginUri: 'https://ledger.example/login',
      allowedRoles: [role, 'auditor'],
    });
    await create({ name: `Open ${tag}`, initiateLoginUri: 'https://open.example/login' });
    const username = `portal-role-${tag}`;
    await createUser(app, { username, verifyType: 'password', password: PASSWORD, roles: ['staff'] });

    const before = listed(await signedInPage(username)).map((l) => l.name);
    expect(before).toContain(`Open ${tag}`);
    expect(before).not.toContain(`Ledger ${tag}`);

    const patched = await app.admin(`/api/manage/users/${username}`, {
      method: 'PATCH',
      json: { roles: ['staff', role] },
    });
    expect(patched.status, await patched.clone().text()).toBe(200);
    // A change of roles ends the user's sessions: a new sign-in, which now lists the application.
    const after = listed(await signedInPage(username));
    expect(after).toContainEqual({ name: `Ledger ${tag}`, href: 'https://ledger.example/login' });
    expect(after.map((l) => l.name)).toContain(`Open ${tag}`);
  });

  it('never links a URI outside the rule, even one written to the row around the API', async () => {
    const tag = randomUUID().slice(0, 6);
    const a = await create({ name: `Tampered ${tag}`, initiateLoginUri: 'https://fine.example/' });
    await app.services.tables.applications.updateEntity(
      { partitionKey: APPLICATION_PARTITION, rowKey: a.clientId, initiateLoginUri: 'javascript:alert(1)' },
      'Merge',
    );
    clock.advance(CLIENT_CACHE_TTL_MS);
    const username = `portal-tamper-${tag}`;
    await createUser(app, { username, verifyType: 'password', password: PASSWORD });
    const html = await signedInPage(username);
    expect(html).not.toContain(`Tampered ${tag}`);
    expect(html).not.toContain('javascript:');
  });

  it('with nothing to list, the page has no list at all', async () => {
    const page = renderSignedIn({ product: 'Broker', username: 'u', applications: [] });
    expect(String(page.body)).toContain('You are signed in');
    expect(String(page.body)).not.toContain('apps-h');
  });

  it('listing makes no Table request per page: one query per cache time per instance, and a change here shows at once', async () => {
    const tag = randomUUID().slice(0, 6);
    const username = `portal-cache-${tag}`;
    await createUser(app, { username, verifyType: 'password', password: PASSWORD });
    let queries = 0;
    app.services.tables.applications.pipeline.addPolicy({
      name: `count-${tag}`,
      sendRequest: (req, next) => {
        if (req.method === 'GET' && decodeURIComponent(req.url).includes('$filter=')) queries++;
        return next(req);
      },
    });
    await signedInPage(username);
    await signedInPage(username);
    await signedInPage(username);
    expect(queries).toBeLessThanOrEqual(1);

    queries = 0;
    clock.advance(CLIENT_CACHE_TTL_MS);
    await signedInPage(username);
    await signedInPage(username);
    expect(queries).toBe(1);

    // A change made on this instance is listed at once (the cached list is dropped).
    await create({ name: `Fresh ${tag}`, initiateLoginUri: 'https://fresh.example/' });
    const names = listed(await signedInPage(username)).map((l) => l.name);
    expect(names).toContain(`Fresh ${tag}`);
    expect(queries).toBe(2);
  });
});
