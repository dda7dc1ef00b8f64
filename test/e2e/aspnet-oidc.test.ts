/**
 * An ASP.NET Core app (test/clients/aspnet: Microsoft.AspNetCore.Authentication.OpenIdConnect from
 * NuGet, the handler's defaults: code flow, PKCE, PAR, form_post, SaveTokens, userinfo) signs a
 * password user in through the broker in headless Chromium, refreshes its tokens, signs out through
 * RP-initiated logout and receives the broker's back-channel logout.
 *
 * The app is built once per run with the .NET SDK. Where no SDK exists the suite is skipped with a
 * message, except in CI, where a missing SDK fails it.
 */
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { importJWK, type JWK, SignJWT } from 'jose';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../scripts/standins/azurite.ts';
import { repoRoot } from '../../scripts/standins/ca.ts';
import { createUser } from '../helpers/signin.ts';
import { type E2eStack, newPage, screenshot, startE2eStack } from './helpers.ts';

const PROJECT_DIR = path.join(repoRoot, 'test', 'clients', 'aspnet');
// Directory.Build.props puts the build output under .local/aspnet/ (ignored by git and biome).
const APP_DLL = path.join(
  repoRoot,
  '.local',
  'aspnet',
  'bin',
  'Release',
  'net10.0',
  'AspNetBrokerClient.dll',
);
const PASSWORD = 'Correct-Horse-Battery-42!';
const USERNAME = 'dana';
const CLAIM_EMAIL = 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress';
const CLAIM_IDP = 'http://schemas.microsoft.com/identity/claims/identityprovider';

const dotnetPresent = spawnSync('dotnet', ['--version'], { encoding: 'utf8' }).status === 0;
const skip = !dotnetPresent && !process.env.CI;
if (skip) {
  console.warn(
    'aspnet-oidc.test.ts: SKIPPED, no .NET SDK (`dotnet`) on this machine; install the .NET 10 SDK to run the ASP.NET Core client tests.',
  );
}

interface AspNetApp {
  url: string;
  /** Everything the app printed, for failure messages. */
  output(): string;
  close(): Promise<void>;
}

async function buildApp(): Promise<void> {
  if (!dotnetPresent)
    throw new Error('CI requires the .NET SDK (`dotnet`) for the ASP.NET Core client tests');
  try {
    await promisify(execFile)('dotnet', ['build', '-c', 'Release', '-nologo', '-v', 'q'], {
      cwd: PROJECT_DIR,
      env: { ...process.env, DOTNET_CLI_TELEMETRY_OPTOUT: '1', DOTNET_NOLOGO: '1' },
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`dotnet build of ${PROJECT_DIR} failed:\n${e.stdout ?? ''}\n${e.stderr ?? e.message}`);
  }
  if (!existsSync(APP_DLL)) throw new Error(`dotnet build produced no ${APP_DLL}`);
}

async function startAspNetApp(
  port: number,
  settings: { authority: string; clientId: string; clientSecret: string },
): Promise<AspNetApp> {
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn('dotnet', [APP_DLL, '--urls', url], {
    cwd: PROJECT_DIR,
    env: {
      ...process.env,
      ASPNETCORE_ENVIRONMENT: 'Development',
      DOTNET_CLI_TELEMETRY_OPTOUT: '1',
      Oidc__Authority: settings.authority,
      Oidc__ClientId: settings.clientId,
      Oidc__ClientSecret: settings.clientSecret,
      // The local CA (system bundle + CA, as npm test builds it) for any https the app reaches.
      ...(process.env.NODE_EXTRA_CA_CERTS ? { SSL_CERT_FILE: process.env.NODE_EXTRA_CA_CERTS } : {}),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d) => {
    out += String(d);
  });
  child.stderr?.on('data', (d) => {
    out += String(d);
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the ASP.NET Core app exited (${child.exitCode}):\n${out}`);
    try {
      if ((await fetch(`${url}/health`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await close();
      throw new Error(`the ASP.NET Core app did not start within 30 s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { url, output: () => out, close };
}

let stack: E2eStack;
let aspnet: AspNetApp;
let clientId = '';

/** Registers the ASP.NET app with its redirect, post-logout and back-channel logout URIs. */
async function registerApplication(appUrl: string): Promise<{ clientId: string; clientSecret: string }> {
  const res = await stack.app.admin('/api/manage/applications', {
    method: 'POST',
    json: {
      name: `ASP.NET Core ${randomUUID().slice(0, 8)}`,
      type: 'confidential',
      redirectUris: [`${appUrl}/signin-oidc`],
      postLogoutRedirectUris: [`${appUrl}/signout-callback-oidc`],
      // The handler authenticates at the PAR and token endpoints with client_secret_post.
      tokenEndpointAuthMethod: 'client_secret_post',
      backchannelLogoutUri: `${appUrl}/backchannel-logout`,
      // The app ends sessions by sid (its cookie keeps the ID token's sid claim).
      backchannelLogoutSessionRequired: true,
    },
  });
  expect(res.status, await res.clone().text()).toBe(201);
  const body = (await res.json()) as { clientId: string; clientSecretValue: string };
  return { clientId: body.clientId, clientSecret: body.clientSecretValue };
}

beforeAll(async () => {
  if (skip) return;
  const started = Date.now();
  await buildApp();
  console.info(`aspnet-oidc.test.ts: dotnet build took ${((Date.now() - started) / 1000).toFixed(1)} s`);
  stack = await startE2eStack();
  await createUser(stack.app, {
    username: USERNAME,
    displayName: 'Dana Dotnet',
    email: 'dana@example.com',
    verifyType: 'password',
    password: PASSWORD,
  });
  const port = await freePort();
  const appUrl = `http://127.0.0.1:${port}`;
  const client = await registerApplication(appUrl);
  clientId = client.clientId;
  aspnet = await startAspNetApp(port, { authority: `${stack.app.url}/api/oidc`, ...client });
}, 300_000);

afterAll(async () => {
  await aspnet?.close();
  await stack?.close();
});

/** The JSON the app answered with (Chromium shows it as the page's text). */
async function pageJson(page: Page): Promise<Record<string, unknown>> {
  const text = (await page.textContent('body')) ?? '';
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new Error(`not JSON at ${page.url()}: ${text.slice(0, 500)}\napp output:\n${aspnet.output()}`);
  }
}

/** Opens the app anonymously and signs in at the broker; returns the authorization requests seen. */
async function signIn(page: Page, shot?: string): Promise<URL[]> {
  const authorizations: URL[] = [];
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (u.origin === new URL(stack.app.url).origin && u.pathname === '/api/oidc/auth') authorizations.push(u);
  });
  await page.goto(aspnet.url);
  await page.waitForSelector('input[name=username]');
  if (shot) await screenshot(page, `${shot}-broker-username`);
  await page.fill('input[name=username]', USERNAME);
  await page.click('button[type=submit]');
  await page.waitForSelector('input[name=password]');
  await page.fill('input[name=password]', PASSWORD);
  await page.click('button[type=submit]');
  await page.waitForURL((u) => u.origin === aspnet.url && u.pathname === '/', { timeout: 15_000 });
  await page.waitForLoadState('load');
  if (shot) await screenshot(page, `${shot}-app-signed-in`);
  return authorizations;
}

async function withPage(fn: (page: Page, context: BrowserContext) => Promise<void>): Promise<void> {
  const { context, page } = await newPage(stack.browser);
  try {
    await fn(page, context);
  } finally {
    await context.close();
  }
}

/** Whether the app's `/` challenges (redirects to the broker) for this browser's cookies. */
async function challenges(context: BrowserContext): Promise<boolean> {
  const res = await context.request.get(`${aspnet.url}/`, { maxRedirects: 0 });
  if (res.status() === 200) return false;
  expect(res.status()).toBe(302);
  expect(res.headers().location ?? '').toContain(`${stack.app.url}/api/oidc/`);
  return true;
}

const BACKCHANNEL_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

/** A logout token signed with the broker's current RS256 key (or a stranger's), claims overridable. */
async function logoutToken(
  claims: Record<string, unknown>,
  opts: { foreignKey?: boolean } = {},
): Promise<string> {
  const { jwks } = await stack.app.services.oidc.keys.load();
  const brokerKey = jwks.keys.find((k) => k.alg === 'RS256') as JWK;
  const key = opts.foreignKey
    ? (
        (await crypto.subtle.generateKey(
          {
            name: 'RSASSA-PKCS1-v1_5',
            modulusLength: 2048,
            publicExponent: new Uint8Array([1, 0, 1]),
            hash: 'SHA-256',
          },
          true,
          ['sign', 'verify'],
        )) as CryptoKeyPair
      ).privateKey
    : await importJWK(brokerKey, 'RS256');
  const now = Math.floor(Date.now() / 1000);
  const payload: Record<string, unknown> = {
    iss: `${stack.app.url}/api/oidc`,
    aud: clientId,
    iat: now,
    exp: now + 120,
    jti: randomUUID(),
    events: { [BACKCHANNEL_EVENT]: {} },
    ...claims,
  };
  for (const [k, v] of Object.entries(payload)) if (v === undefined) delete payload[k];
  return new SignJWT(payload as Record<string, unknown>)
    .setProtectedHeader({ alg: 'RS256', kid: brokerKey.kid as string, typ: 'logout+jwt' })
    .sign(key);
}

async function postLogoutToken(token: string): Promise<number> {
  const res = await fetch(`${aspnet.url}/backchannel-logout`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ logout_token: token }),
  });
  return res.status;
}

describe.skipIf(skip)('ASP.NET Core app with the OpenID Connect handler defaults (Chromium)', () => {
  it('signs in through the broker with PAR (no scope in the front-channel request) and shows the user', async () => {
    await withPage(async (page) => {
      const authorizations = await signIn(page, 'aspnet-01');
      const first = authorizations[0];
      expect(first, 'the browser went to the authorization endpoint').toBeDefined();
      // The handler pushed the request (PAR): the browser carries only client_id and request_uri.
      expect(first?.searchParams.get('request_uri')).toMatch(/^urn:ietf:params:oauth:request_uri:/);
      expect(first?.searchParams.has('scope')).toBe(false);
      const me = await pageJson(page);
      const claims = me.claims as Record<string, unknown>;
      expect(me.name).toBe('Dana Dotnet');
      // The handler's default inbound claim mapping renames some JWT claims to .NET claim types.
      expect(claims).toMatchObject({
        preferred_username: USERNAME,
        [CLAIM_EMAIL]: 'dana@example.com',
        [CLAIM_IDP]: 'password',
      });
      expect(me.sub).toEqual(expect.any(String));
    });
  });

  it('refresh: the saved refresh token gets new tokens at the token endpoint', async () => {
    await withPage(async (page) => {
      await signIn(page);
      expect((await pageJson(page)).hasRefreshToken, 'a refresh token was saved at sign-in').toBe(true);
      await page.goto(`${aspnet.url}/refresh`);
      const first = await pageJson(page);
      expect(first).toMatchObject({ refreshed: true, refreshTokenReturned: true, refreshTokenRotated: true });
      expect(first.expiresIn).toBeGreaterThan(0);
      // The rotated token was saved in the app's cookie and works in turn.
      await page.goto(`${aspnet.url}/refresh`);
      expect(await pageJson(page)).toMatchObject({ refreshed: true, refreshTokenReturned: true });
    });
  });

  it('RP-initiated logout: broker confirmation, back at the app signed out; the next visit signs in again', async () => {
    await withPage(async (page, context) => {
      await signIn(page);
      await page.goto(`${aspnet.url}/logout`);
      await page.waitForSelector('button[name=logout]');
      await screenshot(page, 'aspnet-02-broker-sign-out');
      await page.click('button[name=logout]');
      await page.waitForURL((u) => u.origin === aspnet.url && u.pathname === '/signed-out', {
        timeout: 15_000,
      });
      expect(await pageJson(page)).toEqual({ signedIn: false });
      expect(await challenges(context)).toBe(true);
      // The broker session ended too: the challenge shows the broker's sign-in page.
      await page.goto(aspnet.url);
      await page.waitForSelector('input[name=username]');
    });
  });

  it('sign out everywhere at the broker: the app receives a back-channel logout and challenges again', async () => {
    await withPage(async (page, context) => {
      await signIn(page);
      const sid = (await pageJson(page)).sid;
      expect(sid, 'the ID token carries the broker session id').toEqual(expect.any(String));
      expect(await challenges(context)).toBe(false);
      const res = await stack.app.admin(`/api/manage/users/${USERNAME}/sessions`, { method: 'DELETE' });
      expect(res.status, await res.clone().text()).toBe(200);
      // Delivery is off the sign-out's path: wait a bounded time for the app to hear of it.
      const deadline = Date.now() + 15_000;
      let challenged = await challenges(context);
      while (!challenged && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 250));
        challenged = await challenges(context);
      }
      expect(challenged, `no back-channel logout reached the app:\n${aspnet.output()}`).toBe(true);
      expect(aspnet.output()).toContain(`back-channel logout: sid=${sid} `);
      await page.goto(aspnet.url);
      await page.waitForSelector('input[name=username]');
    });
  });

  it('the app’s back-channel receiver: checks signature, iss, aud, events and nonce, then ends the named session', async () => {
    await withPage(async (page, context) => {
      await signIn(page);
      const sub = (await pageJson(page)).sub as string;
      const refused = [
        await logoutToken({ sub }, { foreignKey: true }),
        await logoutToken({ sub, iss: 'https://elsewhere.example' }),
        await logoutToken({ sub, aud: 'another-client' }),
        await logoutToken({ sub, events: undefined }),
        await logoutToken({ sub, nonce: 'n-0S6_WzA2Mj' }),
        await logoutToken({ sub, iat: undefined }),
        await logoutToken({ sub: undefined }),
      ];
      for (const token of refused) expect(await postLogoutToken(token)).toBe(400);
      expect(await challenges(context)).toBe(false);
      expect(await postLogoutToken(await logoutToken({ sub }))).toBe(200);
      expect(await challenges(context)).toBe(true);
    });
  });
});
