/**
 * The seed's workflow with the console alone, in Chromium, from an empty store after
 * `bootstrap-admin --user`: sign in as that admin, configure the integration and activate it, create
 * a user (New user, Verify type = the Title, an initial password), turn on Allow OAuth Passwords,
 * register an application; that user signs in through Entra; the admin edits the application's
 * redirect URI and the user signs in to the application through it. axe-core on every console page
 * (the new ones included), screenshots at 390 and 1280 px under test-output/e2e/console-seed/.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootstrapAdmin } from '../../scripts/bootstrap-admin.ts';
import { DEMO_ENTRA } from '../../scripts/standins/entra.ts';
import { oidc, rpConfig } from '../helpers/oidc.ts';
import { demoAccount } from '../helpers/signin.ts';
import { type E2eStack, newPage, OUTPUT_DIR, seriousViolations, startE2eStack } from './helpers.ts';

const TITLE = 'Contoso';
const SHOTS = path.join(OUTPUT_DIR, 'console-seed');
const ERIN_PASSWORD = 'Erin-Initial-Passphrase-7';

let stack: E2eStack;
let rp: Server;
let rpUrl: string;
let admin: { username: string; password: string };
const url = (p: string) => `${stack.app.url}${p}`;

beforeAll(async () => {
  stack = await startE2eStack();
  const done = await bootstrapAdmin(stack.app.services, { token: { name: 'me' }, user: 'root' });
  if (!done.user) throw new Error('bootstrap-admin made no user');
  admin = done.user;
  // The application's new redirect URI: a page that only says it got the answer.
  rp = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('app callback'));
  await new Promise<void>((resolve) => rp.listen(0, '127.0.0.1', resolve));
  rpUrl = `http://127.0.0.1:${(rp.address() as AddressInfo).port}`;
}, 60_000);

afterAll(async () => {
  await new Promise((resolve) => rp?.close(resolve));
  await stack?.close();
});

async function shots(page: Page, name: string): Promise<void> {
  for (const width of [1280, 390]) {
    await page.setViewportSize({ width, height: 900 });
    if (width === 390) {
      const scroll = await page.evaluate(() => document.documentElement.scrollWidth);
      expect(scroll, `${name} scrollWidth at 390 px`).toBeLessThanOrEqual(390);
    }
    await page.screenshot({ path: path.join(SHOTS, `${name}-${width}.png`), fullPage: true });
  }
  await page.setViewportSize({ width: 1280, height: 900 });
}

async function ready(page: Page): Promise<void> {
  await page.waitForSelector('main[data-ready="true"]');
}

async function follow(page: Page, name: string): Promise<void> {
  await Promise.all([page.waitForEvent('load'), page.getByRole('link', { name, exact: true }).click()]);
  await ready(page);
}

const heading = async (page: Page) => ((await page.textContent('h1')) ?? '').trim();

async function noSeriousFindings(page: Page, name: string): Promise<void> {
  expect(await seriousViolations(page), name).toEqual([]);
}

describe('the seed workflow in the console alone (Chromium)', { timeout: 300_000 }, () => {
  it('from an empty store: integration, New user by Title, Allow OAuth Passwords, Entra sign-in, an application edited and used', async () => {
    const { context, page } = await newPage(stack.browser);
    await page.setViewportSize({ width: 1280, height: 900 });
    // Nothing the pages load is missing (the icon included).
    const missing: string[] = [];
    page.on('response', (r) => {
      if (r.status() === 404) missing.push(r.url());
    });
    let clientId = '';
    let clientSecret = '';
    try {
      // The admin bootstrap-admin made signs in; the console opens on Integrations.
      await page.goto(url('/api/admin'));
      await page.fill('#username', admin.username);
      await Promise.all([page.waitForEvent('load'), page.press('#username', 'Enter')]);
      await page.fill('#password', admin.password);
      await Promise.all([page.waitForEvent('load'), page.press('#password', 'Enter')]);
      await ready(page);
      expect(await heading(page)).toBe('Integrations');
      expect(await page.textContent('main')).toContain('Microsoft Entra ID (Azure AD)');
      // The "You are signed in" page leads an admin to the console.
      await page.goto(url('/api/auth/login'));
      expect(await heading(page)).toBe('You are signed in');
      await noSeriousFindings(page, 'signed-in page');
      await shots(page, 'signed-in-admin');
      await Promise.all([
        page.waitForEvent('load'),
        page.getByRole('link', { name: 'Open the admin console' }).click(),
      ]);
      await ready(page);
      await noSeriousFindings(page, 'integrations (empty)');

      // Configure Azure AD → Activate (saves and tests in one step).
      await follow(page, 'Configure Azure AD');
      expect(await heading(page)).toBe('Configure Azure AD');
      expect(await page.textContent('#activate-hint')).toContain('saves the form and tests the connection');
      await page.getByLabel('Title', { exact: true }).fill(TITLE);
      await page.getByLabel('Application ID').fill(DEMO_ENTRA.clientId);
      await page.getByLabel('Tenant', { exact: true }).fill(DEMO_ENTRA.tenantId);
      // A federated credential is the default kind; the seed's workflow uses a client secret.
      await page.getByLabel('Credential', { exact: true }).selectOption('clientSecret');
      await page.getByLabel('Client secret', { exact: true }).fill(DEMO_ENTRA.clientSecret);
      await page.getByRole('button', { name: 'Activate' }).click();
      await page.getByText(`${TITLE} is active.`).waitFor();
      // The heading follows the saved integration (no longer "Configure Azure AD").
      expect(await heading(page)).toBe(`Integration: ${TITLE}`);
      await noSeriousFindings(page, 'integration (active)');
      await shots(page, 'integration-active');

      // Users → New user: the API's messages under their fields, then the user.
      await follow(page, 'Users');
      await follow(page, 'New user');
      expect(await heading(page)).toBe('New user');
      await noSeriousFindings(page, 'new user');
      await page.getByLabel('Username').fill('Erin Example');
      await page.getByLabel('Email (optional)').fill('not-an-email');
      await page.getByRole('button', { name: 'Create user' }).click();
      await page.waitForSelector('[name="username"][aria-invalid="true"]');
      expect(await page.locator('[name="email"]').getAttribute('aria-invalid')).toBe('true');
      const usernameMsg = await page.locator('.field:has([name="username"]) .error').textContent();
      expect(usernameMsg).toContain('may contain letters a-z, digits and . _ @ - only');
      await shots(page, 'user-new-errors');

      await page.getByLabel('Username').fill('erin');
      await page.getByLabel('Display name (optional)').fill('Erin Example');
      await page.getByLabel('Email (optional)').fill(demoAccount('erin'));
      await page.getByLabel('Verify type').selectOption({ label: TITLE });
      expect(await page.textContent('#match-rule')).toContain('preferred_username');
      await page.getByLabel('Initial password (optional)').fill(ERIN_PASSWORD);
      await page.getByLabel('Roles (optional)').fill('staff');
      await shots(page, 'user-new');
      await Promise.all([
        page.waitForEvent('load'),
        page.getByRole('button', { name: 'Create user' }).click(),
      ]);
      await ready(page);
      expect(await heading(page)).toBe('User: erin');
      await page.getByText('Created erin.').waitFor();
      // What must match on her first Entra sign-in, on her page.
      expect(await page.textContent('#match-rule')).toContain('must equal this user’s username or email');
      await noSeriousFindings(page, 'user (created)');
      await shots(page, 'user-created');
      const erin = await (await stack.app.admin('/api/manage/users/erin')).json();
      expect(erin).toMatchObject({
        username: 'erin',
        email: demoAccount('erin'),
        verifyType: { kind: 'integration', title: TITLE },
        hasPassword: true,
        roles: ['staff'],
      });

      // Global settings → Allow OAuth Passwords.
      await follow(page, 'Global settings');
      await page.getByLabel('Allow OAuth Passwords').check();
      await page.getByRole('button', { name: 'Save' }).click();
      await page.getByText('Settings saved.').waitFor();

      // Applications → register (the secret shown once), then open it to edit.
      await follow(page, 'Applications');
      await page.getByLabel('Name', { exact: true }).fill('Seed App');
      await page.getByLabel('Redirect URIs', { exact: true }).fill('https://seed-app.example/callback');
      await page.getByLabel('Allowed roles (optional)').fill('staff');
      await page.getByRole('button', { name: 'Register' }).click();
      await page.getByText('Registered Seed App').waitFor();
      clientSecret = ((await page.locator('.secret code').textContent()) ?? '').trim();
      expect(clientSecret).toMatch(/^[A-Za-z0-9_-]{43,}$/);
      await noSeriousFindings(page, 'applications');
      await shots(page, 'applications');
      await follow(page, 'Seed App');
      expect(await heading(page)).toBe('Application: Seed App');
      clientId = ((await page.locator('.copy code').first().textContent()) ?? '').trim();
      await noSeriousFindings(page, 'application');
      await page.getByLabel('Redirect URIs', { exact: true }).fill(`${rpUrl}/callback`);
      await page.getByLabel('Post-logout redirect URIs (optional)').fill(`${rpUrl}/bye`);
      await page.getByRole('button', { name: 'Save' }).click();
      await page.getByText('Saved Seed App.').waitFor();
      await shots(page, 'application-edited');
      const saved = await (await stack.app.admin(`/api/manage/applications/${clientId}`)).json();
      expect(saved.redirectUris).toEqual([`${rpUrl}/callback`]);

      // The API tokens page names the OpenAPI address.
      await follow(page, 'API tokens');
      expect(await page.textContent('main')).toContain(`${stack.app.url}/api/manage/openapi.json`);
      await noSeriousFindings(page, 'tokens');
      await shots(page, 'tokens');
      for (const name of ['Users', 'Audit log', 'Integrations']) {
        await follow(page, name);
        await noSeriousFindings(page, name);
      }
      expect(missing).toEqual([]);
      const icon = await page.context().request.get(url('/api/favicon.svg'));
      expect(icon.status()).toBe(200);
      expect(icon.headers()['content-type']).toBe('image/svg+xml');
    } finally {
      await context.close();
    }

    // Erin signs in to the application through its new redirect URI, with Entra.
    const config = await rpConfig(stack.app, clientId, clientSecret);
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const authorizeUrl = oidc.buildAuthorizationUrl(config, {
      redirect_uri: `${rpUrl}/callback`,
      scope: 'openid profile email',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    const user = await newPage(stack.browser);
    try {
      const p = user.page;
      await p.goto(authorizeUrl.href);
      await p.fill('#username', 'erin');
      await Promise.all([p.waitForEvent('load'), p.press('#username', 'Enter')]);
      expect(await heading(p)).toBe('How do you want to sign in?');
      await p.getByRole('button', { name: `Continue with ${TITLE}` }).click();
      await p.waitForSelector('input[name=login]');
      await p.fill('input[name=login]', 'erin');
      await p.fill('input[name=password]', 'any password');
      await Promise.all([p.waitForURL(`${rpUrl}/callback?**`), p.click('button[type=submit]')]);
      const tokens = await oidc.authorizationCodeGrant(config, new URL(p.url()), {
        pkceCodeVerifier: verifier,
        expectedState: state,
        expectedNonce: nonce,
        idTokenExpected: true,
      });
      expect(tokens.claims()).toMatchObject({ preferred_username: 'erin', amr: ['fed'], roles: ['staff'] });
      const session = await user.context.request.get(url('/api/auth/session'));
      expect(await session.json()).toMatchObject({ username: 'erin', method: 'entra' });

      // The app signs her out at the broker: the page names it; she stays signed in at the broker.
      const endSession = oidc.buildEndSessionUrl(config, {
        id_token_hint: tokens.id_token as string,
        post_logout_redirect_uri: `${rpUrl}/bye`,
      });
      await p.goto(endSession.href);
      expect(await heading(p)).toBe('Sign out?');
      expect(await p.textContent('main')).toContain('Seed App asked to sign you out of');
      expect(await seriousViolations(p), 'logout confirmation').toEqual([]);
      await shots(p, 'logout-confirm');
      await Promise.all([
        p.waitForURL(`${rpUrl}/bye**`),
        p.getByRole('button', { name: 'Stay signed in' }).click(),
      ]);
      const still = await user.context.request.get(url('/api/auth/session'));
      expect(still.status()).toBe(200);
    } finally {
      await user.context.close();
    }
  });

  it('an application edited in a second tab meanwhile: "changed by someone else", the typed values kept', async () => {
    const { context, page } = await newPage(stack.browser);
    try {
      await page.goto(url('/api/auth/login?returnTo=%2Fapi%2Fadmin%2Fapplications'));
      await page.fill('#username', admin.username);
      await Promise.all([page.waitForEvent('load'), page.press('#username', 'Enter')]);
      await page.fill('#password', admin.password);
      await Promise.all([page.waitForEvent('load'), page.press('#password', 'Enter')]);
      await ready(page);
      await follow(page, 'Seed App');
      const appPath = new URL(page.url()).pathname;
      const second = await context.newPage();
      await second.goto(url(appPath));
      await ready(second);
      await second.getByLabel('Name', { exact: true }).fill('Seed App (renamed)');
      await second.getByRole('button', { name: 'Save' }).click();
      await second.getByText('Saved Seed App (renamed).').waitFor();

      await page.getByLabel('Post-logout redirect URIs (optional)').fill(`${rpUrl}/elsewhere`);
      await page.getByRole('button', { name: 'Save' }).click();
      await page.getByText('changed by someone else').waitFor();
      expect(await page.getByLabel('Post-logout redirect URIs (optional)').inputValue()).toBe(
        `${rpUrl}/elsewhere`,
      );
      await shots(page, 'application-stale-edit');
      const clientId = appPath.split('/').pop();
      const saved = await (await stack.app.admin(`/api/manage/applications/${clientId}`)).json();
      expect(saved).toMatchObject({ name: 'Seed App (renamed)', postLogoutRedirectUris: [`${rpUrl}/bye`] });
    } finally {
      await context.close();
    }
  });
});
