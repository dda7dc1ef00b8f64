/**
 * Entra sign-in through the real app on the local host, the Entra stand-in's real login form and
 * MSAL: docs/security.md sections A (login start), B (callback), C (matching and binding).
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import { createLocalJWKSet, exportJWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountObjectId, DEMO_ENTRA } from '../../scripts/standins/entra.ts';
import { manualClock } from '../../shared/core/clock.ts';
import { type LoginTransactionStore, loginCookieName } from '../../shared/signin/transactions.ts';
import { BrokerBrowser, createDemoIntegration, createUser, demoAccount } from '../helpers/signin.ts';
import { captureLogs, startTestApp, type TestApp } from '../helpers/stack.ts';

let app: TestApp;

async function countRows(table: import('@azure/data-tables').TableClient): Promise<number> {
  let n = 0;
  for await (const _ of table.listEntities()) n++;
  return n;
}
let integration: { id: string; title: string };
const clock = manualClock(Date.now());

beforeAll(async () => {
  app = await startTestApp({ clock });
  integration = await createDemoIntegration(app);
});
afterAll(() => app.close());

async function user(username: string, extra: Record<string, unknown> = {}) {
  return createUser(app, {
    username,
    email: demoAccount(username),
    verifyType: { integrationId: integration.id },
    ...extra,
  });
}

async function userRecord(username: string) {
  const res = await app.admin(`/api/manage/users/${encodeURIComponent(username)}`);
  return res.json();
}

describe('Entra sign-in: binding and matching', () => {
  it('binds on the first sign-in and matches by binding on the second', async () => {
    await user('alice');
    const b = new BrokerBrowser(app);
    const first = await b.signInWithEntra('alice', 'alice');
    expect(first.callback.status).toBe(302);
    expect(first.callback.headers.get('location')).toBe('/api/auth/login');
    const session = await b.session();
    expect(session.status).toBe(200);
    expect(await session.json()).toMatchObject({
      username: 'alice',
      method: 'entra',
      integrationId: integration.id,
    });
    const bound = await userRecord('alice');
    expect(bound.entraBinding).toMatchObject({
      tenantId: DEMO_ENTRA.tenantId,
      objectId: accountObjectId(DEMO_ENTRA.tenantId, 'alice'),
    });

    const b2 = new BrokerBrowser(app);
    const second = await b2.signInWithEntra('alice', 'alice');
    expect(second.callback.status).toBe(302);
    expect((await (await b2.session()).json()).username).toBe('alice');
    expect((await userRecord('alice')).entraBinding.boundAt).toBe(bound.entraBinding.boundAt);
  });

  it('AM1/AM2: a bound user is never reached through another oid carrying the same email', async () => {
    await user('victim');
    // The victim is bound to their real Entra identity (some other oid).
    const v = await userRecord('victim');
    await app.services.users.bind(
      'victim',
      { tenantId: DEMO_ENTRA.tenantId, objectId: '0badc0de-0000-4000-8000-000000000001' },
      v.etag,
    );
    // The stand-in's account "victim" has email victim@demo.example — same email, another oid.
    const b = new BrokerBrowser(app);
    const { callback } = await b.signInWithEntra('victim', 'victim');
    expect(callback.status).toBe(403);
    expect(callback.headers.getSetCookie().join()).not.toContain('__Host-broker_session=e');
    expect((await b.session()).status).toBe(401);
    // IdP-first with the same account: still not the victim.
    const idp = new BrokerBrowser(app);
    const start = await idp.get(`/api/auth/login/${integration.id}`);
    const cb = await idp.get(await idp.entraLogin(start.headers.get('location') as string, 'victim'));
    expect(cb.status).toBe(403);
    expect((await idp.session()).status).toBe(401);
  });

  it('AM2 (nOAuth): a multi-tenant integration can never match on the unverified email claim', async () => {
    const body = {
      kind: 'azure-ad',
      title: 'Multi-tenant',
      applicationId: DEMO_ENTRA.clientId,
      tenant: 'organizations',
      allowedTenants: [DEMO_ENTRA.tenantId],
      clientSecret: DEMO_ENTRA.clientSecret,
    };
    const refused = await app.admin('/api/manage/integrations', {
      method: 'POST',
      json: { ...body, matchClaim: 'email' },
    });
    expect(refused.status).toBe(400);
    expect((await refused.json()).errors.map((e: { field: string }) => e.field)).toContain('matchClaim');
    const ok = await app.admin('/api/manage/integrations', { method: 'POST', json: body });
    expect(ok.status).toBe(201);
    const id = (await ok.json()).id;
    const patched = await app.admin(`/api/manage/integrations/${id}`, {
      method: 'PATCH',
      json: { matchClaim: 'email' },
    });
    expect(patched.status).toBe(400);
    await app.admin(`/api/manage/integrations/${id}`, { method: 'DELETE' });
  });

  it('AM2 (nOAuth): a stored multi-tenant email integration (written before the rule) never binds by email', async () => {
    const legacy = await createDemoIntegration(app);
    // As if written before validation refused it: multi-tenant, matching on email.
    await app.services.tables.integrations.updateEntity(
      {
        partitionKey: 'integration',
        rowKey: legacy.id,
        tenant: 'organizations',
        allowedTenants: JSON.stringify([DEMO_ENTRA.tenantId]),
        matchClaim: 'email',
      },
      'Merge',
    );
    await createUser(app, {
      username: 'legacy-user',
      email: demoAccount('legacy'),
      verifyType: { integrationId: legacy.id },
    });
    const b = new BrokerBrowser(app);
    const start = await b.get(`/api/auth/login/${legacy.id}`);
    expect(start.status).toBe(302);
    const cb = await b.get(await b.entraLogin(start.headers.get('location') as string, 'legacy'));
    expect(cb.status).toBe(403);
    expect((await b.session()).status).toBe(401);
  });

  it('AM1: same oid with a different email/username claim is still the same (bound) user', async () => {
    await createUser(app, {
      username: 'dave',
      email: 'dave@elsewhere.example',
      verifyType: { integrationId: integration.id },
    });
    const d = await userRecord('dave');
    await app.services.users.bind(
      'dave',
      { tenantId: DEMO_ENTRA.tenantId, objectId: accountObjectId(DEMO_ENTRA.tenantId, 'carol') },
      d.etag,
    );
    const b = new BrokerBrowser(app);
    const start = await b.get(`/api/auth/login/${integration.id}`);
    const cb = await b.get(await b.entraLogin(start.headers.get('location') as string, 'carol'));
    expect(cb.status).toBe(302);
    expect((await (await b.session()).json()).username).toBe('dave');
  });

  it('signs in with a different account than typed → 403, no session', async () => {
    await user('erin');
    const b = new BrokerBrowser(app);
    const { callback } = await b.signInWithEntra('erin', 'mallory');
    expect(callback.status).toBe(403);
    expect(await callback.text()).toContain('different account');
    expect((await b.session()).status).toBe(401);
    expect((await userRecord('erin')).entraBinding).toBeNull();
  });

  it('AM3: password-type and disabled users cannot sign in through Entra', async () => {
    await createUser(app, {
      username: 'pat',
      email: demoAccount('pat'),
      verifyType: 'password',
      password: 'a-Long-enough-passphrase-1',
    });
    const idp = new BrokerBrowser(app);
    const start = await idp.get(`/api/auth/login/${integration.id}`);
    const cb = await idp.get(await idp.entraLogin(start.headers.get('location') as string, 'pat'));
    expect(cb.status).toBe(403);
    expect((await idp.session()).status).toBe(401);

    await user('dora');
    const disabled = await app.admin('/api/manage/users/dora', { method: 'PATCH', json: { disabled: true } });
    expect(disabled.status).toBe(200);
    const b = new BrokerBrowser(app);
    // A disabled user gets the password step (no enumeration), and IdP-first is refused.
    const step = await b.post('/api/auth/login', { username: 'dora' });
    expect(step.status).toBe(200);
    expect(await step.text()).toContain('name="password"');
    const s2 = await b.get(`/api/auth/login/${integration.id}`);
    const cb2 = await b.get(await b.entraLogin(s2.headers.get('location') as string, 'dora'));
    expect(cb2.status).toBe(403);
  });

  it('AM4: an unknown identity (no user, IdP-first) gets a 403 page', async () => {
    const b = new BrokerBrowser(app);
    const start = await b.get(`/api/auth/login/${integration.id}`);
    const cb = await b.get(await b.entraLogin(start.headers.get('location') as string, 'nobody-here'));
    expect(cb.status).toBe(403);
    expect(cb.headers.get('content-type')).toMatch(/text\/html/);
    expect((await b.session()).status).toBe(401);
  });

  it('AM5: changing the verify type revokes the session', async () => {
    await user('fred');
    const b = new BrokerBrowser(app);
    await b.signInWithEntra('fred', 'fred');
    expect((await b.session()).status).toBe(200);
    const res = await app.admin('/api/manage/users/fred', {
      method: 'PATCH',
      json: { verifyType: 'password' },
    });
    expect(res.status).toBe(200);
    expect((await b.session()).status).toBe(401);
  });
});

describe('login start (A)', () => {
  it('LS2/LS5: S256 PKCE, response_type=code, minimal scopes, exact redirect URI, login_hint', async () => {
    await user('gina');
    const b = new BrokerBrowser(app);
    const rowsBefore = await countRows(app.services.tables.loginTransactions);
    const start = await b.post(
      '/api/auth/login',
      { username: 'gina' },
      { host: 'evil.example', 'x-forwarded-host': 'evil.example' },
    );
    expect(start.status).toBe(302);
    const url = new URL(start.headers.get('location') as string);
    expect(url.origin + url.pathname).toBe(
      `${app.services.config.BROKER_ENTRA_PUBLIC_AUTHORITY_HOST}/${DEMO_ENTRA.tenantId}/oauth2/v2.0/authorize`,
    );
    const q = url.searchParams;
    expect(q.get('response_type')).toBe('code');
    expect(q.get('scope')).toBe('openid profile email');
    expect(q.get('code_challenge_method')).toBe('S256');
    expect(q.get('client_id')).toBe(DEMO_ENTRA.clientId);
    // LS4: from configuration, not from Host / X-Forwarded-Host.
    expect(q.get('redirect_uri')).toBe(`${app.url}/api/auth/callback`);
    expect(q.get('login_hint')).toBe('gina');
    const state = q.get('state') as string;
    // LS3: the transaction travels sealed in a __Host- cookie named after the state; nothing is stored.
    const cookie = start.headers.getSetCookie().find((c) => c.startsWith(`${loginCookieName(state)}=`));
    expect(cookie).toMatch(/; Path=\/; Max-Age=600; Secure; HttpOnly; SameSite=Lax$/);
    const sealed = (cookie as string).split(';')[0]?.split('=')[1] as string;
    const store = (app.services.signIn as unknown as { d: { transactions: LoginTransactionStore } }).d
      .transactions;
    const tx = await store.open(state, sealed);
    expect(q.get('code_challenge')).toBe(createHash('sha256').update(tx.verifier).digest('base64url'));
    expect(q.get('nonce')).toBe(tx.nonce);
    expect(tx).toMatchObject({ integrationId: integration.id, expectedUsername: 'gina', returnTo: null });
    // Sealed: neither the verifier, the nonce nor the username can be read from the cookie.
    for (const secret of [tx.verifier, tx.nonce, 'gina', state]) expect(sealed).not.toContain(secret);
    expect(await countRows(app.services.tables.loginTransactions)).toBe(rowsBefore);
    // The username form is answered with a redirect to Entra: the page's CSP form-action allows it.
    const pageCsp = (await b.get('/api/auth/login')).headers.get('content-security-policy') ?? '';
    expect(pageCsp).toContain(`form-action 'self' ${new URL(url).origin}`);
  });

  it("an application's prompt=login reaches Entra: the username step keeps it and the authorize URL asks for credentials", async () => {
    await user('paul');
    const b = new BrokerBrowser(app);
    const page = await (await b.get('/api/auth/login?prompt=login')).text();
    expect(page).toContain('name="prompt" value="login"');
    const fresh = await b.post('/api/auth/login', { username: 'paul', prompt: 'login' });
    expect(new URL(fresh.headers.get('location') as string).searchParams.get('prompt')).toBe('login');
    const usual = await b.post('/api/auth/login', { username: 'paul' });
    expect(new URL(usual.headers.get('location') as string).searchParams.get('prompt')).toBeNull();
    const bad = await b.post('/api/auth/login', { username: 'paul', prompt: 'none' });
    expect(bad.status).toBe(400);
  });

  it('LS3: a sealed transaction opens only for its own state, untampered, with a key of ours', async () => {
    const store = (app.services.signIn as unknown as { d: { transactions: LoginTransactionStore } }).d
      .transactions;
    const a = await store.create({ integrationId: integration.id, expectedUsername: 'x', returnTo: null });
    const b = await store.create({ integrationId: integration.id, expectedUsername: 'y', returnTo: null });
    await expect(store.open(a.state, a.cookie.value)).resolves.toMatchObject({ expectedUsername: 'x' });
    // Another sign-in's cookie for this state, a flipped byte, a foreign key id: refused.
    await expect(store.open(a.state, b.cookie.value)).rejects.toMatchObject({ reason: 'other_browser' });
    const body = a.cookie.value.slice(-10);
    const flipped = `${a.cookie.value.slice(0, -10)}${body[0] === 'A' ? 'B' : 'A'}${body.slice(1)}`;
    await expect(store.open(a.state, flipped)).rejects.toMatchObject({ reason: 'other_browser' });
    const foreignKid = a.cookie.value.replace(/^v1\.[0-9a-f]{32}\./, `v1.${'0'.repeat(32)}.`);
    await expect(store.open(a.state, foreignKid)).rejects.toMatchObject({ reason: 'other_browser' });
    await expect(store.open(a.state, undefined)).rejects.toMatchObject({ reason: 'other_browser' });
  });

  it('LS1: state, nonce and verifier are unique, 256-bit and base64url over 10,000 starts', async () => {
    const seen = new Set<string>();
    const started = performance.now();
    const store = (
      app.services.signIn as unknown as {
        d: { transactions: import('../../shared/signin/transactions.ts').LoginTransactionStore };
      }
    ).d.transactions;
    for (let batch = 0; batch < 100; batch++) {
      const created = await Promise.all(
        Array.from({ length: 100 }, () =>
          store.create({ integrationId: integration.id, expectedUsername: null, returnTo: null }),
        ),
      );
      for (const c of created) {
        for (const v of [c.state, c.nonce, c.verifier]) {
          expect(v).toMatch(/^[A-Za-z0-9_-]{43}$/); // 32 random bytes
          expect(seen.has(v)).toBe(false);
          seen.add(v);
        }
      }
    }
    expect(seen.size).toBe(30_000);
    expect(performance.now() - started).toBeGreaterThan(0);
  }, 120_000);

  it('LS6: an unknown or inactive integration gives an error page, no redirect', async () => {
    const b = new BrokerBrowser(app);
    const unknown = await b.get('/api/auth/login/6b0c4a5e-1111-4222-8333-444455556666');
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('location')).toBeNull();
    expect(await unknown.text()).toContain('not valid');
    const junk = await b.get('/api/auth/login/not-a-guid');
    expect(junk.status).toBe(404);

    const other = await createDemoIntegration(app);
    await app.admin(`/api/manage/integrations/${other.id}/deactivate`, { method: 'POST' });
    const inactive = await b.get(`/api/auth/login/${other.id}`);
    expect(inactive.status).toBe(403);
    expect(inactive.headers.get('location')).toBeNull();
    await createUser(app, { username: 'ivan', verifyType: { integrationId: other.id } });
    const typed = await b.post('/api/auth/login', { username: 'ivan' });
    expect(typed.status).toBe(403);
    expect(typed.headers.get('location')).toBeNull();
  });
});

describe('callback (B)', () => {
  it('LS3: a valid state from another browser (cookie jar) is refused', async () => {
    await user('hana');
    const b = new BrokerBrowser(app);
    const start = await b.post('/api/auth/login', { username: 'hana' });
    const callbackUrl = await b.entraLogin(start.headers.get('location') as string, 'hana');
    const other = new BrokerBrowser(app);
    await other.get('/api/auth/login');
    const stolen = await other.get(callbackUrl);
    expect(stolen.status).toBe(400);
    expect((await other.session()).status).toBe(401);
    // The rightful browser still completes (the transaction was not consumed by the impostor).
    const ok = await b.get(callbackUrl);
    expect(ok.status).toBe(302);
  });

  it('LS3: a transaction older than 10 minutes is refused', async () => {
    await user('ines');
    const b = new BrokerBrowser(app);
    const start = await b.post('/api/auth/login', { username: 'ines' });
    const callbackUrl = await b.entraLogin(start.headers.get('location') as string, 'ines');
    clock.advance(11 * 60_000);
    try {
      const late = await b.get(callbackUrl);
      expect(late.status).toBe(400);
      expect(await late.text()).toContain('took too long');
    } finally {
      clock.advance(-11 * 60_000);
    }
  });

  it('CB1: 20 parallel replays of one callback give exactly one session', async () => {
    await user('jack');
    const b = new BrokerBrowser(app);
    const start = await b.post('/api/auth/login', { username: 'jack' });
    const callbackUrl = await b.entraLogin(start.headers.get('location') as string, 'jack');
    const responses = await Promise.all(
      Array.from({ length: 20 }, () =>
        fetch(callbackUrl, { redirect: 'manual', headers: { cookie: b.jar.header() } }),
      ),
    );
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 302)).toHaveLength(1);
    // The other 19 are refused (400 replay; 429 once this address's callback budget is spent).
    expect(statuses.filter((s) => s === 400 || s === 429)).toHaveLength(19);
    const sessions = [];
    for await (const e of app.services.tables.sessions.listEntities({
      queryOptions: { filter: "PartitionKey eq 'jack'" },
    })) {
      sessions.push(e);
    }
    expect(sessions).toHaveLength(1);
  });

  it('CB1: a missing or unknown state is refused', async () => {
    const b = new BrokerBrowser(app);
    expect((await b.get('/api/auth/callback?code=abc')).status).toBe(400);
    expect((await b.get(`/api/auth/callback?code=abc&state=${'A'.repeat(43)}`)).status).toBe(400);
    expect((await b.get('/api/auth/callback')).status).toBe(400);
  });

  it('CB8: Entra errors give a fixed page; error_description is never reflected', async () => {
    await user('kate');
    const b = new BrokerBrowser(app);
    const start = await b.post('/api/auth/login', { username: 'kate', returnTo: '/after-login' });
    const state = new URL(start.headers.get('location') as string).searchParams.get('state') as string;
    const res = await b.get(
      `/api/auth/callback?state=${state}&error=access_denied&error_description=${encodeURIComponent('<script>alert(1)</script>AADSTS50105 secret detail')}`,
    );
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).not.toContain('<script>alert');
    expect(html).not.toContain('AADSTS50105');
    expect(html).not.toContain('secret detail');
    expect(html).toContain('cancelled or refused');
    expect(html).toMatch(/Reference: [0-9a-f-]{36}/);
    // RU2: the error page's "Start again" keeps the allow-listed return URL …
    expect(html).toContain('href="/api/auth/login?returnTo=%2Fafter-login"');
    // … and a refused one never reaches it.
    const evil = await b.post('/api/auth/login', { username: 'kate', returnTo: 'https://evil.example/' });
    const evilState = new URL(evil.headers.get('location') as string).searchParams.get('state') as string;
    const page = await (await b.get(`/api/auth/callback?state=${evilState}&error=access_denied`)).text();
    expect(page).not.toContain('evil.example');
    expect(page).toContain('href="/api/auth/login"');
  });

  it('CB9/SC6: codes, states and session tokens stay out of logs; the sign-in is audited', async () => {
    await user('liam');
    const logs = captureLogs();
    let callbackUrl = '';
    let sessionCookie = '';
    const b = new BrokerBrowser(app);
    try {
      const flow = await b.signInWithEntra('liam', 'liam');
      callbackUrl = flow.callbackUrl;
      sessionCookie = b.jar.cookies.get('__Host-broker_session') ?? '';
    } finally {
      logs.stop();
    }
    const q = new URL(callbackUrl).searchParams;
    const all = logs.lines.join('\n');
    expect(sessionCookie.length).toBeGreaterThan(100);
    for (const secret of [q.get('code') as string, q.get('state') as string, sessionCookie]) {
      expect(all).not.toContain(secret);
    }
    const audit = logs.records
      .filter((r) => r.event === 'audit')
      .map((r) => r.audit as Record<string, unknown>);
    const success = audit.find((e) => e.type === 'signin.succeeded' && e.actor === 'liam');
    expect(success).toMatchObject({
      details: { method: 'entra', integrationId: integration.id, tid: DEMO_ENTRA.tenantId },
      clientAddress: '127.0.0.1',
    });
    expect(success?.correlationId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("CB2: a code issued for another client is refused; the transaction's integration is the one used", async () => {
    // B: a second integration on another app registration (the expired-secret app cannot redeem anyway).
    const seen: string[] = [];
    const factory = (
      app.services.entraClients as unknown as { factory: (a: { applicationId: string }) => unknown }
    ).factory;
    (app.services.entraClients as unknown as { factory: unknown }).factory = (args: {
      applicationId: string;
    }) => {
      seen.push(args.applicationId);
      return factory(args);
    };
    try {
      await user('mia');
      const a = new BrokerBrowser(app);
      const startA = await a.post('/api/auth/login', { username: 'mia' });
      const stateA = new URL(startA.headers.get('location') as string).searchParams.get('state') as string;
      // A code for another client id (the expired app) obtained at the stand-in directly.
      const authorizeB = new URL(startA.headers.get('location') as string);
      authorizeB.searchParams.set('client_id', DEMO_ENTRA.expiredClientId);
      const cbB = await a.entraLogin(authorizeB.toString(), 'mia');
      const codeB = new URL(cbB).searchParams.get('code') as string;
      const mixed = await a.get(`/api/auth/callback?code=${encodeURIComponent(codeB)}&state=${stateA}`);
      expect(mixed.status).toBe(400);
      expect((await a.session()).status).toBe(401);
      expect(seen.every((id) => id === DEMO_ENTRA.clientId)).toBe(true);
    } finally {
      (app.services.entraClients as unknown as { factory: unknown }).factory = factory;
    }
  });

  it('a wrong PKCE verifier is refused by Entra and gives no session', async () => {
    await user('nora');
    const b = new BrokerBrowser(app);
    // Two sign-ins in one browser: A's code delivered with B's state, so it is redeemed with B's verifier.
    const startA = await b.post('/api/auth/login', { username: 'nora' });
    const startB = await b.post('/api/auth/login', { username: 'nora' });
    const callbackA = new URL(await b.entraLogin(startA.headers.get('location') as string, 'nora'));
    const stateB = new URL(startB.headers.get('location') as string).searchParams.get('state') as string;
    callbackA.searchParams.set('state', stateB);
    const res = await b.get(`${callbackA.pathname}${callbackA.search}`);
    expect(res.status).toBe(400);
    expect((await b.session()).status).toBe(401);
  });

  it('CB5 (end to end): a token whose signature does not verify against the tenant keys gives no session', async () => {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const wrongKeys = createLocalJWKSet({
      keys: [{ ...(await exportJWK(publicKey)), kid: 'other', alg: 'RS256' }],
    });
    const other = await startTestApp({ signingKeys: () => wrongKeys });
    try {
      const i = await createDemoIntegration(other);
      await createUser(other, {
        username: 'olga',
        email: demoAccount('olga'),
        verifyType: { integrationId: i.id },
      });
      const b = new BrokerBrowser(other);
      const { callback } = await b.signInWithEntra('olga', 'olga');
      expect(callback.status).toBe(400);
      expect(await callback.text()).toContain('could not verify');
      expect((await b.session()).status).toBe(401);
    } finally {
      await other.close();
    }
  });

  it('a sign-in started before a client-secret rotation still completes (new Key Vault version)', async () => {
    await user('rita');
    const b = new BrokerBrowser(app);
    const start = await b.post('/api/auth/login', { username: 'rita' });
    const callbackUrl = await b.entraLogin(start.headers.get('location') as string, 'rita');
    const before = await (await app.admin(`/api/manage/integrations/${integration.id}`)).json();
    const rotated = await app.admin(`/api/manage/integrations/${integration.id}/client-secret`, {
      method: 'PUT',
      json: { clientSecret: DEMO_ENTRA.clientSecret },
    });
    expect(rotated.status).toBe(200);
    const after = await rotated.json();
    expect(after.clientSecret.version).not.toBe(before.clientSecret.version);
    const cb = await b.get(callbackUrl);
    expect(cb.status).toBe(302);
    expect((await (await b.session()).json()).username).toBe('rita');
  });

  it('removes each account from the MSAL cache after the exchange', async () => {
    expect(await app.services.entraClients.cachedAccounts()).toBe(0);
  });
});

describe('AU1: every sign-in step records its failure', () => {
  const failures = async (run: () => Promise<Response>) => {
    const logs = captureLogs();
    let res: Response;
    try {
      res = await run();
    } finally {
      logs.stop();
    }
    const reasons = logs.records
      .filter((r) => r.event === 'audit' && (r.audit as { type: string }).type === 'signin.failed')
      .map((r) => (r.audit as { reason: string }).reason);
    return { res, reasons };
  };

  it('a callback whose parameters do not parse, an unknown IdP-first integration, an unknown state', async () => {
    const b = new BrokerBrowser(app);
    const badQuery = await failures(() => b.get(`/api/auth/callback?state=${'x'.repeat(300)}&code=c`));
    expect(badQuery.res.status).toBe(400);
    expect(badQuery.reasons).toEqual(['invalid_callback_query']);
    const unknownIdp = await failures(() => b.get('/api/auth/login/00000000-0000-4000-8000-000000000000'));
    expect(unknownIdp.res.status).toBeGreaterThanOrEqual(400);
    expect(unknownIdp.res.status).toBeLessThan(500);
    expect(unknownIdp.reasons).toHaveLength(1);
    const noState = await failures(() => b.get('/api/auth/callback?code=c&state=unknown'));
    expect(noState.res.status).toBe(400);
    expect(noState.reasons).toHaveLength(1);
  });
});
