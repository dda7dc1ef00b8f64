/**
 * A single-page application with oidc-client-ts (software nobody here wrote), served from its own
 * origin as a public client with PKCE, in headless Chromium: sign-in through the broker, automatic
 * silent renew with rotating refresh tokens, `signinSilent` through `prompt=none` in a hidden frame,
 * RP-initiated sign-out; and after an admin's "sign out everywhere" the SPA ends up signed out.
 * The SPA is on http://localhost:<its own port> (same site as the broker in the tests, so the hidden
 * frame carries the broker's SameSite=Lax cookie; a cross-site SPA keeps users signed in with its
 * refresh tokens and uses a top-level `prompt=none` redirect instead).
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../scripts/standins/ca.ts';
import { createUser } from '../helpers/signin.ts';
import { type E2eStack, newPage, screenshot, startE2eStack } from './helpers.ts';

const PASSWORD = 'Correct-Horse-Battery-42!';
const BUNDLE = readFileSync(
  path.join(repoRoot, 'node_modules', 'oidc-client-ts', 'dist', 'browser', 'oidc-client-ts.min.js'),
);

/** The SPA's pages: its settings are the README's (oidc-client-ts with the broker). */
function spaPage(settings: Record<string, unknown>, script: string): string {
  return `<!doctype html><meta charset="utf-8"><title>SPA</title>
<script src="/oidc-client-ts.min.js"></script>
<h1 id="who">…</h1><p id="error"></p>
<button id="signin" type="button">Sign in</button>
<script>
const settings = ${JSON.stringify(settings)};
const mgr = new oidc.UserManager(settings);
window.spa = { mgr, renewals: 0, errors: [] };
mgr.events.addUserLoaded(() => { window.spa.renewals++; });
// A renewal that fails (refresh token revoked, broker session ended) signs the SPA out.
mgr.events.addSilentRenewError(async (e) => {
  window.spa.errors.push(String(e && e.error || e));
  await mgr.removeUser();
  document.getElementById('who').textContent = 'Signed out';
});
document.getElementById('signin').onclick = () => mgr.signinRedirect();
${script}
</script>`;
}

interface Spa {
  url: string;
  /** The client id the SPA uses (known once it is registered with its origin). */
  clientId: string;
  close(): Promise<void>;
}

async function startSpa(issuer: string): Promise<Spa> {
  let origin = '';
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const settings = {
      authority: issuer,
      client_id: spa.clientId,
      redirect_uri: `${origin}/callback`,
      silent_redirect_uri: `${origin}/silent`,
      post_logout_redirect_uri: `${origin}/bye`,
      response_type: 'code',
      scope: 'openid profile email offline_access',
      automaticSilentRenew: true,
      // Renew five seconds after each sign-in (the access token lives ten minutes).
      accessTokenExpiringNotificationTimeInSeconds: 595,
    };
    const html = (script: string) => {
      res.setHeader('content-type', 'text/html; charset=utf-8');
      res.end(spaPage(settings, script));
    };
    if (url.pathname === '/oidc-client-ts.min.js') {
      res.setHeader('content-type', 'text/javascript');
      return res.end(BUNDLE);
    }
    if (url.pathname === '/callback')
      return html(`mgr.signinRedirectCallback().then(() => location.replace('/'), (e) => {
        document.getElementById('error').textContent = String(e && e.error || e); });`);
    if (url.pathname === '/silent') return html('mgr.signinSilentCallback();');
    if (url.pathname === '/bye') return html(`document.getElementById('who').textContent = 'Signed out';`);
    return html(`mgr.getUser().then((u) => {
      document.getElementById('who').textContent = u && !u.expired
        ? 'Signed in as ' + u.profile.preferred_username : 'Signed out';
    });`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://localhost:${(server.address() as AddressInfo).port}`;
  const spa: Spa = {
    url: origin,
    clientId: '',
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
  return spa;
}

interface SpaState {
  who: string;
  refreshToken?: string;
  renewals: number;
  errors: string[];
}

const state = (page: Page): Promise<SpaState> =>
  page.evaluate(async () => {
    const spa = (
      window as unknown as {
        spa: {
          mgr: { getUser(): Promise<{ refresh_token?: string } | null> };
          renewals: number;
          errors: string[];
        };
      }
    ).spa;
    const u = await spa.mgr.getUser();
    return {
      who: document.getElementById('who')?.textContent ?? '',
      ...(u?.refresh_token ? { refreshToken: u.refresh_token } : {}),
      renewals: spa.renewals,
      errors: spa.errors,
    };
  });

/** signinSilent from a manager with nothing stored: a hidden frame with prompt=none. */
const silentInFrame = (page: Page): Promise<{ sub?: string; error?: string }> =>
  page.evaluate(async () => {
    const w = window as unknown as {
      oidc: {
        UserManager: new (s: unknown) => { signinSilent(): Promise<{ profile: { sub: string } } | null> };
        InMemoryWebStorage: new () => Storage;
        WebStorageStateStore: new (o: unknown) => unknown;
      };
      spa: { mgr: { settings: Record<string, unknown> } };
    };
    const fresh = new w.oidc.UserManager({
      ...w.spa.mgr.settings,
      automaticSilentRenew: false,
      userStore: new w.oidc.WebStorageStateStore({ store: new w.oidc.InMemoryWebStorage() }),
    });
    try {
      const u = await fresh.signinSilent();
      return u ? { sub: u.profile.sub } : { error: 'no user' };
    } catch (e) {
      return { error: String((e as { error?: string }).error ?? e) };
    }
  });

let stack: E2eStack;
let spa: Spa;
// biome-ignore lint/suspicious/noExplicitAny: management API JSON
let user: any;

beforeAll(async () => {
  stack = await startE2eStack();
  user = await createUser(stack.app, {
    username: 'sally',
    displayName: 'Sally SPA',
    verifyType: 'password',
    password: PASSWORD,
  });
  spa = await startSpa(`${stack.app.url}/api/oidc`);
  const res = await stack.app.admin('/api/manage/applications', {
    method: 'POST',
    json: {
      name: 'SPA demo',
      type: 'public',
      redirectUris: [`${spa.url}/callback`, `${spa.url}/silent`],
      postLogoutRedirectUris: [`${spa.url}/bye`],
    },
  });
  expect(res.status).toBe(201);
  spa.clientId = (await res.json()).clientId;
}, 90_000);

afterAll(async () => {
  await spa?.close();
  await stack?.close();
});

async function signIn(page: Page): Promise<void> {
  await page.goto(spa.url);
  await page.click('#signin');
  await page.waitForSelector('input[name=username]');
  await page.fill('input[name=username]', 'sally');
  await page.click('button[type=submit]');
  await page.waitForSelector('input[name=password]');
  await page.fill('input[name=password]', PASSWORD);
  await page.click('button[type=submit]');
  await page.waitForFunction(() => document.getElementById('who')?.textContent?.startsWith('Signed in'));
}

describe('an SPA with oidc-client-ts (public client, PKCE) in Chromium', () => {
  it('signs in, renews silently with rotating refresh tokens, signs in silently with prompt=none, signs out', async () => {
    const { context, page } = await newPage(stack.browser);
    try {
      await signIn(page);
      await screenshot(page, 'oidc-spa-01-signed-in');
      const first = await state(page);
      expect(first.who).toBe('Signed in as sally');
      expect(first.refreshToken).toBeTruthy();
      // Automatic silent renew (refresh token grant from the SPA's origin: CORS for its redirect URIs).
      await page.waitForFunction(
        () => (window as unknown as { spa: { renewals: number } }).spa.renewals >= 1,
        undefined,
        { timeout: 20_000 },
      );
      const renewed = await state(page);
      expect(renewed.errors).toEqual([]);
      expect(renewed.refreshToken).toBeTruthy();
      expect(renewed.refreshToken).not.toBe(first.refreshToken);
      // signinSilent with nothing stored: a hidden frame, prompt=none, answered from the broker session.
      expect(await silentInFrame(page)).toEqual({ sub: user.id });
      // RP-initiated sign-out: the broker asks, then returns to the SPA.
      // (not awaited in the page: the navigation it starts ends the page's script)
      await page.evaluate(() => {
        void (
          window as unknown as { spa: { mgr: { signoutRedirect(): Promise<void> } } }
        ).spa.mgr.signoutRedirect();
      });
      await page.waitForSelector('button[name=logout]');
      await screenshot(page, 'oidc-spa-02-sign-out');
      await page.click('button[name=logout]');
      await page.waitForURL(`${spa.url}/bye**`);
      expect((await state(page)).who).toBe('Signed out');
      // The broker session is gone: prompt=none answers login_required, without a page.
      expect(await silentInFrame(page)).toEqual({ error: 'login_required' });
    } finally {
      await context.close();
    }
  }, 60_000);

  it('after "sign out everywhere" the SPA ends up signed out (its refresh token and prompt=none both refused)', async () => {
    const { context, page } = await newPage(stack.browser);
    try {
      await signIn(page);
      const res = await stack.app.admin('/api/manage/users/sally/sessions', { method: 'DELETE' });
      expect(res.status).toBeLessThan(300);
      // The next automatic renewal fails and the SPA signs itself out.
      await page.waitForFunction(
        () => document.getElementById('who')?.textContent === 'Signed out',
        undefined,
        {
          timeout: 20_000,
        },
      );
      const after = await state(page);
      expect(after.errors.join(' ')).toContain('invalid_grant');
      expect(after.refreshToken).toBeUndefined();
      expect(await silentInFrame(page)).toEqual({ error: 'login_required' });
      await screenshot(page, 'oidc-spa-03-signed-out-everywhere');
    } finally {
      await context.close();
    }
  }, 60_000);
});
