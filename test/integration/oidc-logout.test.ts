/**
 * RP-initiated logout's confirmation: it names the application that asked and offers "Stay signed
 * in" (the user leaves that application only; the broker session stays), and every logout is audited
 * with the user as actor.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  authorize,
  createApplication,
  oidc,
  PASSWORD,
  type RegisteredApp,
  RP_LOGOUT,
  redeem,
} from '../helpers/oidc.ts';
import { BrokerBrowser, createUser } from '../helpers/signin.ts';
import { startTestApp, type TestApp } from '../helpers/stack.ts';

let app: TestApp;
let rp: RegisteredApp;

beforeAll(async () => {
  app = await startTestApp();
  rp = await createApplication(app, { name: 'Payroll Portal' });
});
afterAll(() => app.close());

async function confirmation(username: string) {
  const created = await createUser(app, { username, verifyType: 'password', password: PASSWORD });
  const b = new BrokerBrowser(app);
  const tokens = await redeem(rp, await authorize(b, rp, { login: { kind: 'password', username } }));
  const url = oidc.buildEndSessionUrl(rp.config, {
    id_token_hint: tokens.id_token as string,
    post_logout_redirect_uri: RP_LOGOUT,
  });
  const page = await b.get(url.href);
  expect(page.status).toBe(200);
  const html = await page.text();
  const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1] ?? '';
  const xsrf = /name="xsrf" value="([^"]+)"/.exec(html)?.[1] ?? '';
  return { b, html, action: new URL(action).pathname, xsrf, userId: created.id as string };
}

async function logoutEvents(): Promise<Record<string, unknown>[]> {
  const res = await app.admin('/api/manage/audit?type=oidc.logout');
  expect(res.status).toBe(200);
  return (await res.json()).items;
}

describe('RP-initiated logout', () => {
  it('names the application and offers "Stay signed in"', async () => {
    const { html } = await confirmation('lo-a');
    expect(html).toContain('Sign out?');
    expect(html).toContain('Payroll Portal asked to sign you out of');
    expect(html).toContain('you leave Payroll Portal only');
    expect(html).toMatch(
      /<button type="submit" form="op.logoutForm" name="logout" value="yes">Sign out<\/button>/,
    );
    expect(html).toMatch(
      /<button type="submit" form="op.logoutForm" class="secondary stay">Stay signed in<\/button>/,
    );
  });

  it('"Stay signed in": back to the app, the broker session stays; audited with the user as actor', async () => {
    const { b, action, xsrf, userId } = await confirmation('lo-b');
    const done = await b.post(action, { xsrf });
    expect(done.status).toBe(303);
    const back = new URL(done.headers.get('location') ?? '');
    expect(`${back.origin}${back.pathname}`).toBe(RP_LOGOUT);
    expect(done.headers.getSetCookie().some((c) => c.startsWith('__Host-broker_session=;'))).toBe(false);
    expect((await b.session()).status).toBe(200);
    const event = (await logoutEvents()).find((e) => e.actor === `user-id:${userId}`);
    expect(event).toMatchObject({
      outcome: 'success',
      target: `application:${rp.clientId}`,
      details: { clientId: rp.clientId, endedBrokerSession: false },
    });
  });

  it('"Sign out": the broker session ends; audited with the user as actor', async () => {
    const { b, action, xsrf, userId } = await confirmation('lo-c');
    const done = await b.post(action, { xsrf, logout: 'yes' });
    expect(done.status).toBe(303);
    expect((await b.session()).status).toBe(401);
    const event = (await logoutEvents()).find((e) => e.actor === `user-id:${userId}`);
    expect(event).toMatchObject({ details: { endedBrokerSession: true } });
    expect((await logoutEvents()).some((e) => e.actor === 'anonymous')).toBe(false);
  });
});
