/**
 * The console's credential kinds, in Chromium against the real app and an Entra stand-in: an admin
 * who has never seen it sets up an integration with a federated credential (the default), copies the
 * three values Entra asks for, registers them in Entra (the stand-in's Graph, as an admin's tooling
 * would), activates, and the integration's user signs in through Entra; then adds a certificate as a
 * second credential and finds its download.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_ENTRA } from '../../scripts/standins/entra.ts';
import { createUser, demoAccount } from '../helpers/signin.ts';
import { graph } from '../standins/credential-helpers.ts';
import { type E2eStack, newPage, OUTPUT_DIR, standInLogin, startE2eStack } from './helpers.ts';

const STRONG = 'Correct-Horse-Battery-42!';
const TITLE = 'Contoso Federated';
const SHOTS = path.join(OUTPUT_DIR, 'console');

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
  mkdirSync(SHOTS, { recursive: true });
}, 60_000);

afterAll(async () => {
  await stack?.close();
});

async function passwordSignIn(page: Page, username: string): Promise<void> {
  await page.fill('#username', username);
  await Promise.all([page.waitForEvent('load'), page.press('#username', 'Enter')]);
  await page.fill('#password', STRONG);
  await Promise.all([page.waitForEvent('load'), page.press('#password', 'Enter')]);
}

const codeNextTo = (page: Page, label: string) =>
  page
    .locator('.copy', { has: page.getByRole('button', { name: `Copy ${label}`, exact: true }) })
    .locator('code');

describe('console: an integration without a client secret (Chromium)', { timeout: 120_000 }, () => {
  it('federated by default: three values to paste with Copy buttons, activate, the user signs in through Entra', async () => {
    const { context, page } = await newPage(stack.browser);
    try {
      await page.goto(url('/api/auth/login?returnTo=%2Fapi%2Fadmin%2Fintegrations%2Fnew'));
      await passwordSignIn(page, 'root');
      await page.waitForSelector('main[data-ready="true"]');
      expect(await page.getByLabel('Credential', { exact: true }).inputValue()).toBe('federated');
      expect(await page.getByLabel('Client secret', { exact: true }).isVisible()).toBe(false);
      await page.getByLabel('Title', { exact: true }).fill(TITLE);
      await page.getByLabel('Application ID').fill(DEMO_ENTRA.clientId);
      await page.getByLabel('Tenant', { exact: true }).fill(DEMO_ENTRA.tenantId);
      await page.getByRole('button', { name: 'Activate' }).click();
      await page.getByText('Saved. Do the steps for the federated credential below in Entra').waitFor();

      const saved = (
        (await (await stack.app.admin('/api/manage/integrations')).json()) as {
          items: { id: string; title: string }[];
        }
      ).items.find((i) => i.title === TITLE);
      if (!saved) throw new Error('not saved');
      const values = {
        issuer: (await codeNextTo(page, 'Issuer').textContent()) ?? '',
        subject: (await codeNextTo(page, 'Subject identifier').textContent()) ?? '',
        audience: (await codeNextTo(page, 'Audience').textContent()) ?? '',
      };
      expect(values).toEqual({
        issuer: `${stack.app.url}/api/oidc`,
        subject: `integration:${saved.id}`,
        audience: 'api://AzureADTokenExchange',
      });
      expect(await page.getByText('Other issuer').count()).toBeGreaterThan(0);
      await page.screenshot({ path: path.join(SHOTS, 'integration-federated-desktop.png'), fullPage: true });

      // The admin adds the federated credential in Entra with exactly these values.
      const fic = await graph(
        stack.standIn,
        'POST',
        `/applications(appId='${DEMO_ENTRA.clientId}')/federatedIdentityCredentials`,
        {
          name: 'broker-console',
          issuer: values.issuer,
          subject: values.subject,
          audiences: [values.audience],
        },
      );
      expect(fic.status).toBe(201);
      await page.getByRole('button', { name: 'Activate' }).click();
      await page.getByText(`${TITLE} is active.`).waitFor();

      // A second credential: a certificate, with its download, not used until its test passes.
      await page.getByLabel('Second credential', { exact: true }).selectOption('certificate');
      await page.getByRole('button', { name: 'Add second credential' }).click();
      await page.getByRole('button', { name: 'Download .cer' }).waitFor();
      expect(await page.getByRole('button', { name: 'Download PEM' }).count()).toBe(1);
      expect(await page.getByRole('button', { name: 'Test and make current' }).count()).toBe(1);
      const after = await (await stack.app.admin(`/api/manage/integrations/${saved.id}`)).json();
      expect(after).toMatchObject({
        credential: { kind: 'federated' },
        pendingCredential: { kind: 'certificate' },
      });
    } finally {
      await context.close();
    }

    await createUser(stack.app, {
      username: 'gina',
      email: demoAccount('gina'),
      verifyType: { title: TITLE },
    });
    const gina = await newPage(stack.browser);
    try {
      await gina.page.goto(url('/api/auth/login'));
      await gina.page.fill('#username', 'gina');
      await Promise.all([
        gina.page.waitForURL(/oauth2\/v2.0\/authorize|\/interaction\//),
        gina.page.press('#username', 'Enter'),
      ]);
      await standInLogin(gina.page, 'gina');
      const session = await gina.page.context().request.get(url('/api/auth/session'));
      expect(await session.json()).toMatchObject({ username: 'gina', method: 'entra' });
    } finally {
      await gina.context.close();
    }
  });
});
