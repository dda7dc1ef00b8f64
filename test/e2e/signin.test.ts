/**
 * Browser sign-in end to end, in headless Chromium (Debian's, via playwright-core) against the real
 * app on the local host, the suite's Azurite and Key Vault stand-in, and an Entra stand-in started
 * here. Each test uses its own browser profile. Screenshots of every page step go to
 * test-output/e2e/.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDemoIntegration, createUser, demoAccount, patchSettings } from '../helpers/signin.ts';
import {
  describedBy,
  type E2eStack,
  newPage,
  screenshot,
  seriousViolations,
  standInLogin,
  startE2eStack,
  unlabelledInputs,
} from './helpers.ts';

const STRONG = 'Correct-Horse-Battery-42!';

let stack: E2eStack;
let integration: { id: string; title: string };

beforeAll(async () => {
  stack = await startE2eStack();
  integration = await createDemoIntegration(stack.app, { title: 'Contoso E2E' });
  await createUser(stack.app, {
    username: 'alice',
    email: demoAccount('alice'),
    displayName: 'Alice Example',
    verifyType: { integrationId: integration.id },
  });
  await createUser(stack.app, {
    username: 'carol',
    email: demoAccount('carol'),
    verifyType: { integrationId: integration.id },
    password: STRONG,
  });
  await createUser(stack.app, {
    username: 'dave',
    email: demoAccount('dave'),
    verifyType: { integrationId: integration.id },
  });
  await createUser(stack.app, { username: 'bob', verifyType: 'password', password: STRONG });
  await createUser(stack.app, {
    username: 'root',
    verifyType: 'password',
    password: STRONG,
    roles: ['admin'],
  });
}, 60_000);

afterAll(async () => {
  await stack?.close();
});

const url = (p: string) => `${stack.app.url}${p}`;

async function user(username: string) {
  const res = await stack.app.admin(`/api/manage/users/${username}`);
  expect(res.status).toBe(200);
  return res.json();
}

/**
 * GET /api/auth/session with the browser profile's cookies. (Not a fetch() from the page: the sign-in
 * pages' CSP has connect-src 'none', as it should.)
 */
async function sessionOf(page: Page): Promise<{ status: number; body: Record<string, unknown> | null }> {
  const res = await page.context().request.get(url('/api/auth/session'));
  return { status: res.status(), body: res.ok() ? await res.json() : null };
}

async function heading(page: Page): Promise<string> {
  return ((await page.textContent('h1')) ?? '').trim();
}

/** Username step: type, then Enter (keyboard only). */
async function submitUsername(page: Page, username: string) {
  await page.fill('#username', username);
  await Promise.all([page.waitForEvent('load'), page.press('#username', 'Enter')]);
  await notRefused(page);
}

/** Fails with the page's own words when a form post ended on the broker's error page. */
async function notRefused(page: Page) {
  if ((await heading(page)) === 'Sign-in did not work') {
    throw new Error(`the broker refused the form post: ${(await page.textContent('[role=alert]'))?.trim()}`);
  }
}

describe('browser sign-in (Chromium)', () => {
  it('first Entra sign-in binds the user; the second matches by the binding', async () => {
    const { context, page } = await newPage(stack.browser);
    try {
      await page.goto(url('/api/auth/login'));
      expect(await page.locator('h1').count()).toBe(1);
      expect(await unlabelledInputs(page)).toEqual([]);
      // Keyboard: from the top of the page, Tab reaches the username field, Enter submits.
      // Clicking the product line (not focusable) moves the focus navigation starting point there.
      await page.click('p.product');
      await page.keyboard.press('Tab');
      expect(await page.evaluate(() => document.activeElement?.id)).toBe('username');
      await screenshot(page, '01-username');
      await page.keyboard.type('alice');
      await Promise.all([page.waitForEvent('load'), page.keyboard.press('Enter')]);
      await notRefused(page);
      expect(new URL(page.url()).origin).toBe(stack.standIn.host);
      await standInLogin(page, 'alice', '04-standin-login');
      expect(new URL(page.url()).pathname).toBe('/api/auth/login');
      expect(await heading(page)).toBe('You are signed in');
      await screenshot(page, '05-signed-in');
      const s = await sessionOf(page);
      expect(s.status).toBe(200);
      expect(s.body).toMatchObject({ username: 'alice', method: 'entra', integrationId: integration.id });

      const bound = await user('alice');
      expect(bound.entraBinding).toMatchObject({
        tenantId: expect.any(String),
        objectId: expect.any(String),
      });
      const binding = bound.entraBinding;

      // Second sign-in in a fresh browser: matched by (tid, oid), the binding is unchanged.
      const second = await newPage(stack.browser);
      try {
        await second.page.goto(url('/api/auth/login'));
        await submitUsername(second.page, 'alice');
        await standInLogin(second.page, 'alice');
        expect(await heading(second.page)).toBe('You are signed in');
        expect((await sessionOf(second.page)).body).toMatchObject({ username: 'alice', method: 'entra' });
        expect((await user('alice')).entraBinding).toEqual(binding);
      } finally {
        await second.context.close();
      }
    } finally {
      await context.close();
    }
  });

  it('password sign-in, with an accessible error on a wrong password', async () => {
    const { context, page } = await newPage(stack.browser);
    try {
      await page.goto(url('/api/auth/login'));
      await submitUsername(page, 'bob');
      expect(await heading(page)).toBe('Enter your password');
      expect(await unlabelledInputs(page)).toEqual([]);
      expect(await page.evaluate(() => document.activeElement?.id)).toBe('password');
      await screenshot(page, '02-password');

      await page.fill('#password', 'not the password');
      await Promise.all([page.waitForEvent('load'), page.press('#password', 'Enter')]);
      expect(await page.getAttribute('#password', 'aria-invalid')).toBe('true');
      expect(await describedBy(page, '#password')).toEqual(['The username or password is not right.']);
      await screenshot(page, '06-password-error');

      await page.fill('#password', STRONG);
      await Promise.all([page.waitForEvent('load'), page.press('#password', 'Enter')]);
      expect(await heading(page)).toBe('You are signed in');
      expect((await sessionOf(page)).body).toMatchObject({ username: 'bob', method: 'password' });
    } finally {
      await context.close();
    }
  });

  it('password sign-in lands on an allow-listed return URL of another origin (CSP form-action allows it)', async () => {
    await patchSettings(stack.app, { allowedReturnOrigins: ['https://app.example'] });
    const { context, page } = await newPage(stack.browser);
    try {
      await page.goto(url(`/api/auth/login?returnTo=${encodeURIComponent('https://app.example/after')}`));
      await submitUsername(page, 'bob');
      await page.fill('#password', STRONG);
      // No network here, so the return app cannot answer; what matters is that the browser follows the
      // 303 there at all (a CSP form-action without that origin stops it before any request is made).
      const violations: string[] = [];
      page.on('console', (m) => {
        if (m.text().includes('form-action')) violations.push(m.text());
      });
      const [request] = await Promise.all([
        page.waitForRequest((r) => r.url() === 'https://app.example/after', { timeout: 10_000 }),
        page.press('#password', 'Enter'),
      ]);
      expect(request.isNavigationRequest()).toBe(true);
      expect(violations).toEqual([]);
    } finally {
      await context.close();
      await patchSettings(stack.app, { allowedReturnOrigins: [] });
    }
  });

  it('an empty username is an error tied to its field', async () => {
    const { context, page } = await newPage(stack.browser);
    try {
      await page.goto(url('/api/auth/login'));
      await Promise.all([page.waitForEvent('load'), page.press('#username', 'Enter')]);
      expect(await heading(page)).toBe('Sign in');
      expect(await page.getAttribute('#username', 'aria-invalid')).toBe('true');
      expect(await describedBy(page, '#username')).toContain('Enter your username.');
    } finally {
      await context.close();
    }
  });

  it('the choice page with Allow OAuth Passwords on; the password path refused with it off', async () => {
    await patchSettings(stack.app, { allowOAuthPasswords: true });
    const { context, page } = await newPage(stack.browser);
    try {
      await page.goto(url('/api/auth/login'));
      await submitUsername(page, 'carol');
      expect(await heading(page)).toBe('How do you want to sign in?');
      const buttons = page.locator('button[type=submit]');
      expect((await buttons.allTextContents()).map((t) => t.trim())).toEqual([
        `Continue with ${integration.title}`,
        'Use my password',
      ]);
      await screenshot(page, '03-choice');

      // Password branch of the choice page.
      await Promise.all([page.waitForEvent('load'), buttons.nth(1).click()]);
      expect(await heading(page)).toBe('Enter your password');
      await page.fill('#password', STRONG);
      await Promise.all([page.waitForEvent('load'), page.press('#password', 'Enter')]);
      expect(await heading(page)).toBe('You are signed in');
      expect((await sessionOf(page)).body).toMatchObject({ username: 'carol', method: 'password' });
    } finally {
      await context.close();
    }

    // The Entra branch of the choice page.
    const other = await newPage(stack.browser);
    try {
      await other.page.goto(url('/api/auth/login'));
      await submitUsername(other.page, 'carol');
      await Promise.all([
        other.page.waitForURL(/\/interaction\//),
        other.page.locator('button[type=submit]').first().click(),
      ]);
      await standInLogin(other.page, 'carol');
      expect((await sessionOf(other.page)).body).toMatchObject({ username: 'carol', method: 'entra' });
    } finally {
      await other.context.close();
    }

    await patchSettings(stack.app, { allowOAuthPasswords: false });
    const off = await newPage(stack.browser);
    try {
      // With the setting off, carol's username goes straight to Entra, and her password is refused.
      await off.page.goto(url('/api/auth/login'));
      await submitUsername(off.page, 'carol');
      expect(new URL(off.page.url()).origin).toBe(stack.standIn.host);
      // Her password on the password form (reached through an unknown username) is refused.
      await off.page.goto(url('/api/auth/login'));
      await submitUsername(off.page, 'nobody');
      await off.page.fill('#username', 'carol');
      await off.page.fill('#password', STRONG);
      const [refused] = await Promise.all([
        off.page.waitForResponse((r) => r.url().endsWith('/api/auth/password')),
        off.page.press('#password', 'Enter'),
      ]);
      await off.page.waitForLoadState('load');
      expect(refused.status()).toBe(401);
      expect(await off.page.textContent('#password-error')).toContain(
        'The username or password is not right.',
      );
      expect((await sessionOf(off.page)).status).toBe(401);
    } finally {
      await off.context.close();
    }
  });

  it('IdP-first sign-in finds the user after the callback', async () => {
    const { context, page } = await newPage(stack.browser);
    try {
      await page.goto(url(`/api/auth/login/${integration.id}`));
      expect(new URL(page.url()).origin).toBe(stack.standIn.host);
      await standInLogin(page, 'dave');
      expect(await heading(page)).toBe('You are signed in');
      expect((await sessionOf(page)).body).toMatchObject({ username: 'dave', method: 'entra' });
      expect((await user('dave')).entraBinding).not.toBeNull();
    } finally {
      await context.close();
    }
  });

  it('an unknown account at IdP-first ends on an error page with a reference', async () => {
    const { context, page } = await newPage(stack.browser);
    try {
      await page.goto(url(`/api/auth/login/${integration.id}`));
      await standInLogin(page, 'mallory');
      expect(await heading(page)).toBe('Sign-in did not work');
      expect(await page.textContent('[role=alert]')).toContain('There is no account here');
      expect(await page.textContent('.ref')).toContain('Reference:');
      await screenshot(page, '07-error');
      expect((await sessionOf(page)).status).toBe(401);
    } finally {
      await context.close();
    }
  });

  it('logout ends the session', async () => {
    const { context, page } = await newPage(stack.browser);
    try {
      await page.goto(url('/api/auth/login'));
      await submitUsername(page, 'bob');
      await page.fill('#password', STRONG);
      await Promise.all([page.waitForEvent('load'), page.press('#password', 'Enter')]);
      expect(await heading(page)).toBe('You are signed in');
      await Promise.all([
        page.waitForEvent('framenavigated'),
        page.getByRole('button', { name: 'Sign out' }).click(),
      ]);
      expect(new URL(page.url()).pathname).toBe('/api/auth/login');
      expect(await page.locator('#username').isVisible()).toBe(true);
      await screenshot(page, '08-signed-out');
      expect((await sessionOf(page)).status).toBe(401);
      expect((await context.cookies()).map((c) => c.name)).not.toContain('__Host-broker_session');
    } finally {
      await context.close();
    }
  });

  it('an admin uses the management API with the session and X-Broker-Csrf', async () => {
    // fetch() runs in the page, like an admin console would; the sign-in page's own CSP forbids
    // connections, so this profile ignores CSP (the other tests keep it on).
    const { context, page } = await newPage(stack.browser, { bypassCSP: true });
    try {
      await page.goto(url('/api/auth/login'));
      await submitUsername(page, 'root');
      await page.fill('#password', STRONG);
      await Promise.all([page.waitForEvent('load'), page.press('#password', 'Enter')]);
      expect(await heading(page)).toBe('You are signed in');
      const result = await page.evaluate(async () => {
        const withHeader = await fetch('/api/manage/users', { headers: { 'X-Broker-Csrf': '1' } });
        const without = await fetch('/api/manage/users');
        const body = (await withHeader.json()) as { items: { username: string }[] };
        return { with: withHeader.status, without: without.status, users: body.items.map((u) => u.username) };
      });
      expect(result).toMatchObject({ with: 200, without: 403 });
      expect(result.users).toContain('root');
    } finally {
      await context.close();
    }
  });

  it('the signed-in page lists the applications the user may open, accessibly (axe)', async () => {
    const registered = await stack.app.admin('/api/manage/applications', {
      method: 'POST',
      json: {
        name: 'Expenses & <Travel>',
        type: 'confidential',
        redirectUris: ['https://expenses.example/callback'],
        initiateLoginUri: 'https://expenses.example/login?from=broker&x=1',
      },
    });
    expect(registered.status).toBe(201);
    const { context, page } = await newPage(stack.browser);
    try {
      await page.goto(url('/api/auth/login'));
      await submitUsername(page, 'bob');
      await page.fill('#password', STRONG);
      await Promise.all([page.waitForEvent('load'), page.press('#password', 'Enter')]);
      expect(await heading(page)).toBe('You are signed in');
      const list = page.getByRole('region', { name: 'Your applications' });
      const link = list.getByRole('link', { name: 'Expenses & <Travel>' });
      expect(await link.getAttribute('href')).toBe('https://expenses.example/login?from=broker&x=1');
      expect(await seriousViolations(page)).toEqual([]);
      await screenshot(page, '11-signed-in-applications');
    } finally {
      await context.close();
    }
  });

  it('reads well on a phone', async () => {
    const { context, page } = await newPage(stack.browser, { phone: true });
    try {
      await page.goto(url('/api/auth/login'));
      await screenshot(page, '09-phone-username');
      const overflow = await page.evaluate(
        () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
      );
      expect(overflow).toBeLessThanOrEqual(0);
      const box = await page.locator('#username').boundingBox();
      expect(box?.height ?? 0).toBeGreaterThanOrEqual(40);
      await submitUsername(page, 'bob');
      await screenshot(page, '10-phone-password');
    } finally {
      await context.close();
    }
  });
});
