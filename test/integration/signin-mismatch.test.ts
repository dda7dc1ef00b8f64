/**
 * An unmatched first Entra sign-in says what did not match: the page names the account Entra
 * returned (to the user who just signed in with it) and what to ask the admin; the audit names the
 * integration's match claim and whether the user's email was empty, without the account itself.
 * And the "You are signed in" page leads an admin to the console.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrokerBrowser, createDemoIntegration, createUser, demoAccount } from '../helpers/signin.ts';
import { startTestApp, type TestApp } from '../helpers/stack.ts';

let app: TestApp;
let integration: { id: string; title: string };

beforeAll(async () => {
  app = await startTestApp();
  integration = await createDemoIntegration(app);
});
afterAll(() => app.close());

async function failures(): Promise<Record<string, unknown>[]> {
  const res = await app.admin('/api/manage/audit?type=signin.failed');
  expect(res.status).toBe(200);
  return (await res.json()).items;
}

describe('an unmatched first Entra sign-in', () => {
  it('a user without an email signing in as themselves: the page says what Entra returned and what to ask', async () => {
    await createUser(app, { username: 'nomail', verifyType: { integrationId: integration.id } });
    const b = new BrokerBrowser(app);
    const { callback } = await b.signInWithEntra('nomail', 'nomail');
    expect(callback.status).toBe(403);
    const html = await callback.text();
    const account = demoAccount('nomail');
    expect(html).toContain(`Your organisation signed you in as ${account}.`);
    expect(html).toContain('must be the username or the email address set for nomail here');
    expect(html).toContain('No email address is set for nomail here.');
    expect(html).toContain('ask your administrator to set it as your email address here');
    expect(html).toContain('preferred_username');
    expect((await b.session()).status).toBe(401);

    const event = (await failures()).find((e) => e.actor === 'nomail');
    expect(event).toMatchObject({
      reason: 'claim_mismatch',
      details: {
        method: 'entra',
        integrationId: integration.id,
        matchClaim: 'preferred_username',
        comparedWith: 'username or email',
        userEmailEmpty: true,
      },
    });
    // No personal data of the Entra account, no token.
    expect(JSON.stringify(event)).not.toContain(account);
    expect(JSON.stringify(event)).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
  });

  it('a user with another email: the page does not say the email is empty', async () => {
    await createUser(app, {
      username: 'withmail',
      email: 'someone.else@elsewhere.example',
      verifyType: { integrationId: integration.id },
    });
    const b = new BrokerBrowser(app);
    const { callback } = await b.signInWithEntra('withmail', 'withmail');
    expect(callback.status).toBe(403);
    const html = await callback.text();
    expect(html).toContain(`Your organisation signed you in as ${demoAccount('withmail')}.`);
    expect(html).not.toContain('No email address is set');
    expect(html).not.toContain('someone.else@elsewhere.example');
    const event = (await failures()).find((e) => e.actor === 'withmail');
    expect(event).toMatchObject({ reason: 'claim_mismatch', details: { userEmailEmpty: false } });
  });

  it('IdP-first with an account nobody has: the page names the account', async () => {
    const b = new BrokerBrowser(app);
    const start = await b.get(`/api/auth/login/${integration.id}`);
    const cb = await b.get(await b.entraLogin(start.headers.get('location') as string, 'stranger'));
    expect(cb.status).toBe(403);
    const html = await cb.text();
    expect(html).toContain('There is no account here');
    expect(html).toContain(
      `No account here has ${demoAccount('stranger')} as its username or email address.`,
    );
  });
});

describe('the "You are signed in" page', () => {
  it('links the console for an admin, not for other users', async () => {
    const password = 'a long and unusual passphrase';
    await createUser(app, { username: 'boss', verifyType: 'password', password, roles: ['admin'] });
    await createUser(app, { username: 'staff1', verifyType: 'password', password });
    for (const [username, linked] of [
      ['boss', true],
      ['staff1', false],
    ] as const) {
      const b = new BrokerBrowser(app);
      await b.post('/api/auth/login', { username });
      const signedIn = await b.post('/api/auth/password', { username, password });
      expect(signedIn.status).toBe(303);
      const html = await (await b.get('/api/auth/login')).text();
      expect(html).toContain('You are signed in');
      expect(html.includes('href="/api/admin"'), username).toBe(linked);
    }
  });
});
