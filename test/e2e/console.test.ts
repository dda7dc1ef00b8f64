/**
 * The admin console end to end, in Chromium against the real app (local host), Azurite, the Key Vault
 * stand-in and an Entra stand-in: the seed's workflow as an admin does it (integration with a wrong
 * secret, then the right one; a user's Verify type by Title; Allow OAuth Passwords; that user signs in
 * through Entra), access rules (anonymous → sign-in and back, non-admin → 403), a stale edit from a
 * second tab, axe-core on every page, 390 px without horizontal scrolling, and screenshots of every
 * page under test-output/e2e/console/.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../scripts/standins/ca.ts';
import { DEMO_ENTRA } from '../../scripts/standins/entra.ts';
import { createUser, demoAccount } from '../helpers/signin.ts';
import { describedBy, type E2eStack, newPage, OUTPUT_DIR, standInLogin, startE2eStack } from './helpers.ts';

const STRONG = 'Correct-Horse-Battery-42!';
const TITLE = 'Contoso Console';
const SHOTS = path.join(OUTPUT_DIR, 'console');
const AXE = readFileSync(path.join(repoRoot, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');

let stack: E2eStack;
const url = (p: string) => `${stack.app.url}${p}`;

beforeAll(async () => {
  stack = await startE2eStack();
  await createUser(stack.app, {
    username: 'root',
    verifyType: 'password',
    password: STRONG,
    roles: ['admin'],
  });
  await createUser(stack.app, { username: 'bob', verifyType: 'password', password: STRONG });
  // Erin has a password today; the admin moves her to Entra in the console.
  await createUser(stack.app, {
    username: 'erin',
    email: demoAccount('erin'),
    displayName: 'Erin Example',
    verifyType: 'password',
    password: STRONG,
  });
  await createUser(stack.app, { username: 'frank', displayName: 'Frank', verifyType: 'password' });
  mkdirSync(SHOTS, { recursive: true });
}, 60_000);

afterAll(async () => {
  await stack?.close();
});

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

async function api(p: string) {
  const res = await stack.app.admin(p);
  expect(res.status, p).toBe(200);
  return res.json();
}

/** Password sign-in on the broker's own pages, from wherever the browser is now. */
async function passwordSignIn(page: Page, username: string): Promise<void> {
  await page.fill('#username', username);
  await Promise.all([page.waitForEvent('load'), page.press('#username', 'Enter')]);
  await page.fill('#password', STRONG);
  await Promise.all([page.waitForEvent('load'), page.press('#password', 'Enter')]);
}

/** Opens a console page and waits until its script has filled <main>. */
async function consolePage(page: Page, p: string): Promise<void> {
  await page.goto(url(`/api/admin${p}`));
  await page.waitForSelector('main[data-ready="true"]');
}

async function signedInAdmin(
  opts: { phone?: boolean } = {},
): Promise<{ context: BrowserContext; page: Page }> {
  const { context, page } = await newPage(stack.browser, opts);
  await page.goto(url('/api/auth/login'));
  await passwordSignIn(page, 'root');
  return { context, page };
}

const heading = async (page: Page) => ((await page.textContent('h1')) ?? '').trim();

/** axe-core inside the page (evaluated through the DevTools protocol, so the page's CSP stays on). */
async function seriousViolations(page: Page): Promise<string[]> {
  await page.evaluate(AXE);
  const violations = await page.evaluate(async () => {
    const w = window as unknown as {
      axe: {
        run(): Promise<{ violations: { id: string; impact: string; nodes: { target: string[] }[] }[] }>;
      };
    };
    const result = await w.axe.run();
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      targets: v.nodes.map((n) => n.target.join(' ')),
    }));
  });
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.targets.slice(0, 3).join(', ')}`);
}

// Each test drives Chromium through many page loads on a shared CPU: give each two minutes.
describe('admin console (Chromium)', { timeout: 120_000 }, () => {
  it('anonymous → the sign-in page, and back to the console page after sign-in', async () => {
    const { context, page } = await newPage(stack.browser);
    try {
      await page.goto(url('/api/admin/users?prefix=er'));
      const there = new URL(page.url());
      expect(there.pathname).toBe('/api/auth/login');
      expect(there.searchParams.get('returnTo')).toBe('/api/admin/users?prefix=er');
      await passwordSignIn(page, 'root');
      expect(new URL(page.url()).pathname).toBe('/api/admin/users');
      await page.waitForSelector('main[data-ready="true"]');
      expect(await heading(page)).toBe('Users');
      expect(await page.getByRole('link', { name: 'erin' }).count()).toBe(1);
      expect(await page.getByRole('link', { name: 'bob' }).count()).toBe(0);
    } finally {
      await context.close();
    }
  });

  it('a signed-in user without the admin role gets a 403 page', async () => {
    const { context, page } = await newPage(stack.browser);
    try {
      await page.goto(url('/api/auth/login'));
      await passwordSignIn(page, 'bob');
      const res = await page.goto(url('/api/admin/integrations'));
      expect(res?.status()).toBe(403);
      expect(await heading(page)).toBe('No access to the admin console');
      expect(await seriousViolations(page)).toEqual([]);
      await shot(page, 'forbidden-desktop');
      // The management API refuses the session as well (the console is no second door).
      const api = await page
        .context()
        .request.get(url('/api/manage/users'), { headers: { 'X-Broker-Csrf': '1' } });
      expect(api.status()).toBe(403);
    } finally {
      await context.close();
    }
  });

  it('the seed workflow: integration (wrong secret, then right), Verify type by Title, Allow OAuth Passwords, Entra sign-in', async () => {
    const { context, page } = await signedInAdmin();
    try {
      await consolePage(page, '');
      expect(await heading(page)).toBe('Integrations');
      for (const name of [
        'Integrations',
        'Users',
        'Global settings',
        'Applications',
        'Audit log',
        'API tokens',
      ]) {
        expect(await page.getByRole('link', { name, exact: true }).count(), name).toBe(1);
      }
      await Promise.all([
        page.waitForEvent('load'),
        page.getByRole('link', { name: 'Configure Azure AD' }).click(),
      ]);
      await page.waitForSelector('main[data-ready="true"]');
      expect(await heading(page)).toBe('Configure Azure AD');
      // The Redirect URI to paste into Entra, before anything is saved.
      const redirectUri = `${stack.app.services.config.BROKER_PUBLIC_BASE_URL}/api/auth/callback`;
      expect(await page.locator('code').first().textContent()).toBe(redirectUri);
      expect(await page.getByRole('button', { name: 'Copy Redirect URI' }).count()).toBe(1);

      await page.getByLabel('Title', { exact: true }).fill(TITLE);
      await page.getByLabel('Application ID').fill(DEMO_ENTRA.clientId);
      await page.getByLabel('Tenant', { exact: true }).fill(DEMO_ENTRA.tenantId);
      // A federated credential is the default kind; this walk-through uses a client secret.
      await page.getByLabel('Credential', { exact: true }).selectOption('clientSecret');
      await page.getByLabel('Client secret', { exact: true }).fill('the-secret-id-not-its-value');
      await page.getByRole('button', { name: 'Activate' }).click();
      await page.waitForSelector('#integration-status');
      await page.getByText('Activation failed').first().waitFor();
      const secret = page.getByLabel('Client secret', { exact: true });
      expect(await secret.getAttribute('aria-invalid')).toBe('true');
      const described = (await describedBy(page, '[name="clientSecret"]')).join(' | ');
      expect(described).toContain('Activation failed');
      expect(described).toContain('How to fix');
      expect(described).toContain('Value');
      expect(await secret.inputValue()).toBe(''); // never shown back
      expect(await page.textContent('#integration-status')).toContain('Inactive');
      await shot(page, 'integration-activation-failed-desktop');
      const saved = (await api('/api/manage/integrations')).items.find(
        (i: { title: string }) => i.title === TITLE,
      );
      expect(saved).toMatchObject({ status: 'inactive', lastTest: { ok: false, reason: 'wrong_secret' } });
      expect(new URL(page.url()).pathname).toBe(`/api/admin/integrations/${saved.id}`);

      await secret.fill(DEMO_ENTRA.clientSecret);
      await page.getByRole('button', { name: 'Activate' }).click();
      await page.getByText(`${TITLE} is active.`).waitFor();
      expect(await page.textContent('#integration-status')).toContain('Active');
      expect(await secret.inputValue()).toBe('');
      expect(await secret.getAttribute('aria-invalid')).toBeNull();
      expect((await api(`/api/manage/integrations/${saved.id}`)).status).toBe('active');

      // Users → erin → Verify type = the integration's Title.
      await Promise.all([
        page.waitForEvent('load'),
        page.getByRole('link', { name: 'Users', exact: true }).click(),
      ]);
      await page.waitForSelector('main[data-ready="true"]');
      await Promise.all([page.waitForEvent('load'), page.getByRole('link', { name: 'erin' }).click()]);
      await page.waitForSelector('main[data-ready="true"]');
      expect(await heading(page)).toBe('User: erin');
      await page.getByLabel('Verify type').selectOption({ label: TITLE });
      await page.getByRole('button', { name: 'Save' }).click();
      await page.getByText('Saved erin.').waitFor();
      expect((await api('/api/manage/users/erin')).verifyType).toMatchObject({
        kind: 'integration',
        integrationId: saved.id,
        title: TITLE,
      });

      // Global settings → Allow OAuth Passwords.
      await Promise.all([
        page.waitForEvent('load'),
        page.getByRole('link', { name: 'Global settings', exact: true }).click(),
      ]);
      await page.waitForSelector('main[data-ready="true"]');
      await page.getByLabel('Allow OAuth Passwords').check();
      await page.getByRole('button', { name: 'Save' }).click();
      await page.getByText('Settings saved.').waitFor();
      expect((await api('/api/manage/settings')).allowOAuthPasswords).toBe(true);
    } finally {
      await context.close();
    }

    // Erin signs in: with Allow OAuth Passwords on she may choose; she continues with Entra.
    const erin = await newPage(stack.browser);
    try {
      await erin.page.goto(url('/api/auth/login'));
      await erin.page.fill('#username', 'erin');
      await Promise.all([erin.page.waitForEvent('load'), erin.page.press('#username', 'Enter')]);
      expect(await heading(erin.page)).toBe('How do you want to sign in?');
      expect(await seriousViolations(erin.page), 'choice page').toEqual([]);
      await shot(erin.page, 'signin-choice-desktop');
      await Promise.all([
        erin.page.waitForURL(/\/interaction\//),
        erin.page.getByRole('button', { name: `Continue with ${TITLE}` }).click(),
      ]);
      await standInLogin(erin.page, 'erin');
      expect(await heading(erin.page)).toBe('You are signed in');
      expect(await seriousViolations(erin.page), 'signed-in page').toEqual([]);
      const session = await erin.page.context().request.get(url('/api/auth/session'));
      expect(await session.json()).toMatchObject({ username: 'erin', method: 'entra' });
    } finally {
      await erin.context.close();
    }
  });

  it('warns of a secret expiring within 30 days, and explains a refused delete while users are assigned', async () => {
    const soon = new Date(Date.now() + 10 * 86_400_000).toISOString().slice(0, 10);
    const created = await stack.app.admin('/api/manage/integrations', {
      method: 'POST',
      json: {
        kind: 'azure-ad',
        title: 'Expiring Soon',
        applicationId: DEMO_ENTRA.clientId,
        tenant: DEMO_ENTRA.tenantId,
        clientSecret: DEMO_ENTRA.clientSecret,
        clientSecretExpiresOn: soon,
      },
    });
    expect(created.status).toBe(201);
    const integration = await created.json();
    await createUser(stack.app, { username: 'gina', verifyType: { integrationId: integration.id } });
    const { context, page } = await signedInAdmin();
    try {
      await consolePage(page, '/integrations');
      const row = page.getByRole('row', { name: /Expiring Soon/ });
      expect(await row.textContent()).toMatch(/Warning: expires in (9|10) days/);
      await Promise.all([
        page.waitForEvent('load'),
        page.getByRole('link', { name: 'Expiring Soon' }).click(),
      ]);
      await page.waitForSelector('main[data-ready="true"]');
      await page.getByRole('button', { name: 'Delete' }).click();
      await page.getByRole('button', { name: 'Yes, delete' }).click();
      await page.getByText('Not deleted:').waitFor();
      expect(await page.getByRole('link', { name: 'Users with Verify type Expiring Soon' }).count()).toBe(1);
      await shot(page, 'integration-delete-refused-desktop');
      expect((await stack.app.admin(`/api/manage/integrations/${integration.id}`)).status).toBe(200);
    } finally {
      await context.close();
    }
  });

  it('applications: register (secret shown once, with a copy button), rotate the secret, delete', async () => {
    const { context, page } = await signedInAdmin();
    try {
      await consolePage(page, '/applications');
      await page.getByLabel('Name', { exact: true }).fill('Console CRM');
      await page.getByLabel('Redirect URIs', { exact: true }).fill('https://crm.console.example/callback');
      await page.getByLabel('Allowed roles (optional)').fill('staff');
      await page.getByRole('button', { name: 'Register' }).click();
      await page.getByText('Registered Console CRM').waitFor();
      const secret = ((await page.locator('.secret code').textContent()) ?? '').trim();
      expect(secret).toMatch(/^[A-Za-z0-9_-]{43,}$/); // 256 bits, base64url
      await page.getByRole('button', { name: 'Copy client secret' }).waitFor();
      await shot(page, 'applications-secret-once-desktop');
      const [registered] = (await api('/api/manage/applications')).items.filter(
        (a: { name: string }) => a.name === 'Console CRM',
      );
      expect(registered).toMatchObject({ type: 'confidential', allowedRoles: ['staff'] });
      expect(JSON.stringify(registered)).not.toContain(secret);
      // Shown only once: a reload lists the application without its secret.
      await consolePage(page, '/applications');
      expect(await page.locator('.secret code').count()).toBe(0);
      expect(await page.textContent('main')).not.toContain(secret);

      await page.getByRole('button', { name: 'Rotate the secret of Console CRM' }).click();
      await page.locator('.secret code').waitFor();
      const rotated = ((await page.locator('.secret code').textContent()) ?? '').trim();
      expect(rotated).toMatch(/^[A-Za-z0-9_-]{43,}$/);
      expect(rotated).not.toBe(secret);

      await consolePage(page, '/applications');
      const row = page.getByRole('row', { name: /Console CRM/ });
      await row.getByRole('button', { name: 'Delete' }).click();
      await Promise.all([
        page.waitForEvent('load'),
        row.getByRole('button', { name: 'Yes, delete' }).click(),
      ]);
      await page.waitForSelector('main[data-ready="true"]');
      const left = (await api('/api/manage/applications')).items.map((a: { name: string }) => a.name);
      expect(left).not.toContain('Console CRM');
    } finally {
      await context.close();
    }
  });

  it('applications: the initiate login URI on register and edit, refused like a redirect URI', async () => {
    const { context, page } = await signedInAdmin();
    try {
      await consolePage(page, '/applications');
      await page.getByLabel('Name', { exact: true }).fill('Console Portal');
      await page.getByLabel('Redirect URIs', { exact: true }).fill('https://portal.console.example/cb');
      const field = page.getByLabel('Initiate login URI (optional)');
      await field.fill('http://portal.console.example/login');
      await page.getByRole('button', { name: 'Register' }).click();
      await page.locator('[name="initiateLoginUri"][aria-invalid="true"]').waitFor();
      expect(await describedBy(page, '[name="initiateLoginUri"]')).toEqual([
        expect.stringContaining('signed-in page'),
        'This must use https (http only for localhost, 127.0.0.1 or [::1]).',
      ]);
      await field.fill('https://portal.console.example/login');
      await page.getByRole('button', { name: 'Register' }).click();
      await page.getByText('Registered Console Portal').waitFor();
      const [registered] = (await api('/api/manage/applications')).items.filter(
        (a: { name: string }) => a.name === 'Console Portal',
      );
      expect(registered.initiateLoginUri).toBe('https://portal.console.example/login');

      await consolePage(page, `/applications/${registered.clientId}`);
      expect(await field.inputValue()).toBe('https://portal.console.example/login');
      await field.fill('');
      await page.getByRole('button', { name: 'Save' }).click();
      await page.getByText('Saved Console Portal').waitFor();
      expect((await api(`/api/manage/applications/${registered.clientId}`)).initiateLoginUri).toBeNull();
    } finally {
      await context.close();
    }
  });

  it('APIs: register one for an application, listed with its scopes, edit, delete', async () => {
    const { context, page } = await signedInAdmin();
    try {
      const [first] = (await api('/api/manage/applications')).items;
      await consolePage(page, '/apis');
      await page.getByLabel('Resource URI', { exact: true }).fill('https://orders.console.example/api');
      await page.getByLabel('Name', { exact: true }).fill('Console Orders');
      await page.getByLabel('Scopes (optional)').fill('orders.read orders.write');
      if (first) await page.getByLabel('Applications allowed to ask (optional)').fill(first.clientId);
      await Promise.all([page.waitForEvent('load'), page.getByRole('button', { name: 'Register' }).click()]);
      await page.waitForSelector('main[data-ready="true"]');
      await page.getByRole('row', { name: /Console Orders/ }).waitFor();
      await shot(page, 'apis-desktop');
      const [registered] = (await api('/api/manage/apis')).items.filter(
        (a: { name: string }) => a.name === 'Console Orders',
      );
      expect(registered).toMatchObject({
        resource: 'https://orders.console.example/api',
        scopes: ['orders.read', 'orders.write'],
        allowedApplications: first ? [first.clientId] : [],
        accessTokenLifetimeSeconds: 600,
      });
      // Its own page edits it with the ETag it read; the resource URI is shown, not edited.
      await Promise.all([
        page.waitForEvent('load'),
        page.getByRole('link', { name: 'Edit Console Orders' }).click(),
      ]);
      await page.waitForSelector('main[data-ready="true"]');
      await page.getByLabel('Scopes (optional)').fill('orders.read');
      await page.getByLabel('Access token lifetime in seconds').fill('900');
      await page.getByRole('button', { name: 'Save' }).click();
      await page.getByText('Saved Console Orders.').waitFor();
      expect(await api(`/api/manage/apis/${registered.id}`)).toMatchObject({
        resource: 'https://orders.console.example/api',
        scopes: ['orders.read'],
        accessTokenLifetimeSeconds: 900,
      });
      await consolePage(page, '/apis');
      const row = page.getByRole('row', { name: /Console Orders/ });
      await row.getByRole('button', { name: 'Delete' }).click();
      await Promise.all([
        page.waitForEvent('load'),
        row.getByRole('button', { name: 'Yes, delete' }).click(),
      ]);
      await page.waitForSelector('main[data-ready="true"]');
      expect((await api('/api/manage/apis')).items).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('a stale edit from a second tab shows "changed by someone else" and keeps the typed values', async () => {
    const { context, page } = await signedInAdmin();
    try {
      const second = await context.newPage();
      await consolePage(page, '/users/frank');
      await consolePage(second, '/users/frank');
      await second.getByLabel('Display name').fill('Frank from tab two');
      await second.getByRole('button', { name: 'Save' }).click();
      await second.getByText('Saved frank.').waitFor();

      await page.getByLabel('Display name').fill('Frank from tab one');
      await page.getByRole('button', { name: 'Save' }).click();
      await page.getByText('changed by someone else').waitFor();
      expect(await page.getByLabel('Display name').inputValue()).toBe('Frank from tab one');
      await shot(page, 'user-stale-edit-desktop');
      expect((await api('/api/manage/users/frank')).displayName).toBe('Frank from tab two');

      await Promise.all([page.waitForEvent('load'), page.getByRole('button', { name: 'Reload' }).click()]);
      await page.waitForSelector('main[data-ready="true"]');
      expect(await page.getByLabel('Display name').inputValue()).toBe('Frank from tab two');
    } finally {
      await context.close();
    }
  });

  it('every console page and the sign-in pages: axe (no serious/critical), 390 px without scrolling, screenshots', async () => {
    const integrationId = (await api('/api/manage/integrations')).items[0]?.id ?? 'new';
    const pages: [string, string][] = [
      ['integrations', '/integrations'],
      ['integration-new', '/integrations/new'],
      ['integration', `/integrations/${integrationId}`],
      ['users', '/users'],
      ['user', '/users/erin'],
      ['settings', '/settings'],
      ['applications', '/applications'],
      ['apis', '/apis'],
      ['audit', '/audit'],
      ['tokens', '/tokens'],
    ];
    for (const phone of [false, true]) {
      const suffix = phone ? 'phone' : 'desktop';
      const anonymous = await newPage(stack.browser, { phone });
      try {
        const p = anonymous.page;
        await p.goto(url('/api/auth/login'));
        expect(await seriousViolations(p), `sign-in ${suffix}`).toEqual([]);
        await shot(p, `signin-username-${suffix}`);
        await p.fill('#username', 'root');
        await Promise.all([p.waitForEvent('load'), p.press('#username', 'Enter')]);
        expect(await seriousViolations(p), `password ${suffix}`).toEqual([]);
        await shot(p, `signin-password-${suffix}`);
      } finally {
        await anonymous.context.close();
      }

      const { context, page } = await signedInAdmin({ phone });
      try {
        for (const [name, p] of pages) {
          await consolePage(page, p);
          expect(await page.locator('h1').count(), name).toBe(1);
          expect(await seriousViolations(page), `${name} ${suffix}`).toEqual([]);
          if (phone) {
            const width = await page.evaluate(() => document.documentElement.scrollWidth);
            expect(width, `${name} scrollWidth at 390 px`).toBeLessThanOrEqual(390);
          }
          await shot(page, `${name}-${suffix}`);
        }
        // A token: created in the page, its value shown once with a copy button.
        if (!phone) {
          await consolePage(page, '/tokens');
          await page.getByLabel('Name').fill('console e2e');
          await page.getByRole('button', { name: 'Create token' }).click();
          await page.getByText('shown only this once').waitFor();
          expect(await page.locator('.secret code').textContent()).toMatch(/^brk\./);
          expect(await seriousViolations(page)).toEqual([]);
          await shot(page, 'token-created-desktop');
        }
      } finally {
        await context.close();
      }
    }
  }, 300_000);

  it('keyboard alone: Tab reaches the navigation and the form, Enter saves', async () => {
    const { context, page } = await signedInAdmin();
    try {
      await consolePage(page, '/settings');
      await page.keyboard.press('Tab'); // skip link
      expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to content');
      await page.keyboard.press('Enter');
      let reached = false;
      for (let i = 0; i < 5 && !reached; i++) {
        await page.keyboard.press('Tab');
        reached = await page.evaluate(
          () => (document.activeElement as HTMLInputElement | null)?.name === 'sessionLifetimeMinutes',
        );
      }
      expect(reached).toBe(true);
      await page.keyboard.press('Control+A');
      await page.keyboard.type('90');
      await page.keyboard.press('Enter');
      await page.getByText('Settings saved.').waitFor();
      expect((await api('/api/manage/settings')).sessionLifetimeMinutes).toBe(90);
      // Audit retention: out of range is named under its field; in range is saved.
      const retention = page.getByLabel('Audit retention (days)');
      await retention.fill('7');
      await page.getByRole('button', { name: 'Save' }).click();
      await page.locator('[name="auditRetentionDays"][aria-invalid="true"]').waitFor();
      expect((await api('/api/manage/settings')).auditRetentionDays).toBe(400);
      await retention.fill('730');
      await page.getByRole('button', { name: 'Save' }).click();
      await page.getByText('Settings saved.').waitFor();
      expect((await api('/api/manage/settings')).auditRetentionDays).toBe(730);
    } finally {
      await context.close();
    }
  });

  it('a change that needs a fresh sign-in (AD5) asks for it in the page, and comes back after', async () => {
    const settings = await stack.app.admin('/api/manage/settings', {
      method: 'PATCH',
      json: { allowOAuthPasswords: false },
    });
    expect(settings.status).toBe(200);
    const { context, page } = await signedInAdmin();
    const clock = stack.app.services.clock as { now(): number };
    const realNow = clock.now;
    try {
      await consolePage(page, '/settings');
      await page.getByLabel('Allow OAuth Passwords').check();
      // Eleven minutes later (the app's clock), the sign-in is no longer fresh.
      clock.now = () => realNow.call(clock) + 11 * 60_000;
      await page.getByRole('button', { name: 'Save' }).click();
      await page.getByText('Please sign in again').waitFor();
      clock.now = realNow;
      expect(await page.getByLabel('Allow OAuth Passwords').isChecked()).toBe(true);
      expect((await api('/api/manage/settings')).allowOAuthPasswords).toBe(false);
      await shot(page, 'settings-fresh-sign-in-desktop');
      await Promise.all([
        page.waitForEvent('load'),
        page.getByRole('button', { name: 'Sign in again' }).click(),
      ]);
      expect(new URL(page.url()).pathname).toBe('/api/auth/login');
      await passwordSignIn(page, 'root');
      expect(new URL(page.url()).pathname).toBe('/api/admin/settings');
      await page.waitForSelector('main[data-ready="true"]');
      await page.getByLabel('Allow OAuth Passwords').check();
      await page.getByRole('button', { name: 'Save' }).click();
      await page.getByText('Settings saved.').waitFor();
      expect((await api('/api/manage/settings')).allowOAuthPasswords).toBe(true);
    } finally {
      clock.now = realNow;
      await context.close();
    }
  });

  it('measures the integrations page: requests and bytes transferred (HTML + script + style + API)', async () => {
    const { context, page } = await signedInAdmin();
    try {
      await consolePage(page, '/integrations');
      const m = await page.evaluate(() => {
        const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming;
        const res = performance.getEntriesByType('resource') as PerformanceResourceTiming[];
        return {
          html: nav.transferSize,
          resources: res.map((r) => ({
            name: new URL(r.name).pathname,
            size: r.transferSize,
            body: r.encodedBodySize,
          })),
        };
      });
      const total = m.html + m.resources.reduce((n, r) => n + r.size, 0);
      console.log(
        `integrations page: ${1 + m.resources.length} requests, ${total} bytes transferred`,
        JSON.stringify(m),
      );
      expect(m.resources.length).toBeLessThanOrEqual(4);
      // Assets are fingerprinted and immutable: a second load takes them from the cache.
      const asset = m.resources.find((r) => r.name.endsWith('.js'))?.name ?? '';
      const res = await page.context().request.get(url(asset));
      expect(res.headers()['cache-control']).toBe('public, max-age=31536000, immutable');
      expect(res.headers()['content-type']).toContain('text/javascript');
    } finally {
      await context.close();
    }
  });
});
