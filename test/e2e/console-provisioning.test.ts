/**
 * The integration page's Provisioning panel in Chromium: turn provisioning on (Tenant URL and Secret
 * Token to paste into Entra, each with a Copy button; the token works against /api/scim/v2), see the
 * last request Entra made, rotate the token (the old one stops), turn it off; axe-core finds nothing
 * serious, and the screenshots go to test-output/e2e/console/.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../scripts/standins/ca.ts';
import { DEMO_ENTRA } from '../../scripts/standins/entra.ts';
import { createUser } from '../helpers/signin.ts';
import { type E2eStack, newPage, OUTPUT_DIR, startE2eStack } from './helpers.ts';

const STRONG = 'Correct-Horse-Battery-42!';
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
  mkdirSync(SHOTS, { recursive: true });
}, 60_000);

afterAll(async () => {
  await stack?.close();
});

async function serious(page: Page): Promise<string[]> {
  await page.evaluate(AXE);
  return page.evaluate(async () => {
    const w = window as unknown as {
      axe: { run(): Promise<{ violations: { id: string; impact: string }[] }> };
    };
    return (await w.axe.run()).violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => v.id);
  });
}

const scim = (token: string) =>
  fetch(url('/api/scim/v2/Users?filter=userName+eq+%22nobody%22'), {
    headers: { authorization: `Bearer ${token}` },
  });

describe('console: Provisioning panel (Chromium)', { timeout: 120_000 }, () => {
  it('turns provisioning on, shows the two values for Entra with Copy buttons, rotates, turns off', async () => {
    const created = await stack.app.admin('/api/manage/integrations', {
      method: 'POST',
      json: {
        kind: 'azure-ad',
        title: 'Provisioned Co',
        applicationId: DEMO_ENTRA.clientId,
        tenant: DEMO_ENTRA.tenantId,
        clientSecret: DEMO_ENTRA.clientSecret,
      },
    });
    const integration = await created.json();
    const { context, page } = await newPage(stack.browser);
    try {
      await page.goto(url('/api/auth/login'));
      await page.fill('#username', 'root');
      await Promise.all([page.waitForEvent('load'), page.press('#username', 'Enter')]);
      await page.fill('#password', STRONG);
      await Promise.all([page.waitForEvent('load'), page.press('#password', 'Enter')]);
      await page.goto(url(`/api/admin/integrations/${integration.id}`));
      await page.waitForSelector('main[data-ready="true"]');
      await page.getByRole('heading', { name: 'Provisioning' }).waitFor();
      await page.getByRole('button', { name: 'Turn on provisioning' }).click();
      await page.getByRole('button', { name: 'Copy Secret Token' }).waitFor();
      expect(await page.getByRole('button', { name: 'Copy Tenant URL' }).count()).toBe(1);
      const tenantUrl = await page.locator('.copy code').filter({ hasText: '/api/scim/v2' }).textContent();
      expect(tenantUrl).toBe(`${stack.app.url}/api/scim/v2`);
      const token = (await page.locator('.secret code').textContent()) ?? '';
      expect(token).toMatch(/^scim\./);
      expect((await scim(token)).status).toBe(200);
      expect(await serious(page)).toEqual([]);
      await page.screenshot({
        path: path.join(SHOTS, 'integration-provisioning-on-desktop.png'),
        fullPage: true,
      });

      // The last request Entra made shows after a reload.
      await page.reload();
      await page.waitForSelector('main[data-ready="true"]');
      expect(await page.textContent('#provisioning-last')).toContain('200');

      await page.getByRole('button', { name: 'Rotate token' }).click();
      await page.getByRole('button', { name: 'Yes, rotate token' }).click();
      await page.getByText('New token').waitFor();
      const rotated = (await page.locator('.secret code').textContent()) ?? '';
      expect(rotated).not.toBe(token);
      expect((await scim(token)).status).toBe(401);
      expect((await scim(rotated)).status).toBe(200);

      // A user Entra provisions says so on its page: which fields Entra owns.
      const made = await fetch(url('/api/scim/v2/Users'), {
        method: 'POST',
        headers: { authorization: `Bearer ${rotated}`, 'content-type': 'application/scim+json' },
        body: JSON.stringify({
          userName: 'pat@contoso.example',
          externalId: crypto.randomUUID(),
          active: true,
        }),
      });
      expect(made.status).toBe(201);
      await page.goto(url('/api/admin/users/pat@contoso.example'));
      await page.waitForSelector('main[data-ready="true"]');
      expect(await page.textContent('#provisioned-note')).toContain('Provisioned from Entra');
      expect(await serious(page)).toEqual([]);
      await page.screenshot({ path: path.join(SHOTS, 'user-provisioned-desktop.png'), fullPage: true });
      await page.goto(url(`/api/admin/integrations/${integration.id}`));
      await page.waitForSelector('main[data-ready="true"]');

      await page.getByRole('button', { name: 'Turn off' }).click();
      await page.getByRole('button', { name: 'Yes, turn off' }).click();
      await page.getByText('Provisioning is off').waitFor();
      expect((await scim(rotated)).status).toBe(401);
      expect(await page.getByRole('button', { name: 'Turn on provisioning' }).count()).toBe(1);
    } finally {
      await context.close();
    }
  });
});
