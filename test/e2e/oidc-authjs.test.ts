/**
 * An Auth.js application (@auth/core, the broker configured as a generic OIDC provider) on a tiny
 * node:http server on 127.0.0.1 signs users in through the broker, in headless Chromium: a password
 * user and an Entra user (through the Entra stand-in). Screenshots go to test-output/e2e/.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Auth, type AuthConfig } from '@auth/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../scripts/standins/azurite.ts';
import { escapeHtml } from '../../shared/web/pages/document.ts';
import { createDemoIntegration, createUser, demoAccount } from '../helpers/signin.ts';
import { type E2eStack, newPage, screenshot, startE2eStack } from './helpers.ts';

const PASSWORD = 'Correct-Horse-Battery-42!';

interface AuthJsApp {
  url: string;
  close(): Promise<void>;
}

async function toRequest(req: IncomingMessage, origin: string): Promise<Request> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const headers = new Headers();
  for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers.set(k, v);
  const body = chunks.length ? Buffer.concat(chunks) : undefined;
  return new Request(new URL(req.url ?? '/', origin), {
    method: req.method ?? 'GET',
    headers,
    ...(body && req.method !== 'GET' ? { body } : {}),
  });
}

async function send(res: ServerResponse, r: Response, extraCookies: string[] = []): Promise<void> {
  const cookies = [...extraCookies, ...r.headers.getSetCookie()];
  r.headers.forEach((v, k) => {
    if (k !== 'set-cookie') res.setHeader(k, v);
  });
  if (cookies.length) res.setHeader('set-cookie', cookies);
  res.statusCode = r.status;
  res.end(Buffer.from(await r.arrayBuffer()));
}

/** The Auth.js app: `/` shows the session's claims or a sign-in button; `/auth/*` is Auth.js. */
async function startAuthJsApp(
  issuer: string,
  clientId: string,
  clientSecret: string,
  port: number,
): Promise<AuthJsApp> {
  const origin = `http://127.0.0.1:${port}`;
  const config: AuthConfig = {
    basePath: '/auth',
    secret: 'e2e-auth-js-secret-0123456789abcdef0123456789',
    trustHost: true,
    providers: [
      {
        id: 'broker',
        name: 'Identity Broker',
        type: 'oidc',
        issuer,
        clientId,
        clientSecret,
        checks: ['pkce', 'state', 'nonce'],
        authorization: { params: { scope: 'openid profile email' } },
      },
    ],
    callbacks: {
      jwt({ token, profile }) {
        if (profile) token.claims = profile;
        return token;
      },
      session({ session, token }) {
        return { ...session, claims: token.claims } as typeof session;
      },
    },
  };
  const server: Server = createServer((req, res) => {
    (async () => {
      if ((req.url ?? '').startsWith('/auth/'))
        return send(res, await Auth(await toRequest(req, origin), config));
      const cookie = req.headers.cookie ?? '';
      const session = await Auth(new Request(`${origin}/auth/session`, { headers: { cookie } }), config);
      const data = (await session.json()) as { claims?: Record<string, unknown> } | null;
      res.setHeader('content-type', 'text/html; charset=utf-8');
      if (data?.claims) {
        res.end(`<!doctype html><title>Demo app</title><h1 id="who">Signed in as ${escapeHtml(String(data.claims.preferred_username))}</h1>
<pre id="claims">${escapeHtml(JSON.stringify(data.claims, null, 2))}</pre>`);
        return;
      }
      const csrf = await Auth(new Request(`${origin}/auth/csrf`, { headers: { cookie } }), config);
      const { csrfToken } = (await csrf.clone().json()) as { csrfToken: string };
      res.statusCode = 200;
      res.setHeader('set-cookie', csrf.headers.getSetCookie());
      res.end(`<!doctype html><title>Demo app</title><h1>Demo app</h1>
<form method="post" action="/auth/signin/broker"><input type="hidden" name="csrfToken" value="${escapeHtml(csrfToken)}">
<button id="signin" type="submit">Sign in with the broker</button></form>`);
    })().catch((err) => {
      res.statusCode = 500;
      res.end(String(err));
    });
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

let stack: E2eStack;
let authApp: AuthJsApp;
let integrationId: string;

beforeAll(async () => {
  stack = await startE2eStack();
  integrationId = (await createDemoIntegration(stack.app, { title: 'Contoso OIDC' })).id;
  await createUser(stack.app, {
    username: 'erin',
    displayName: 'Erin Example',
    verifyType: 'password',
    password: PASSWORD,
  });
  await createUser(stack.app, {
    username: 'frank',
    email: demoAccount('frank'),
    verifyType: { integrationId },
  });
  const port = await freePort();
  const res = await stack.app.admin('/api/manage/applications', {
    method: 'POST',
    json: {
      name: 'Auth.js demo',
      type: 'confidential',
      redirectUris: [`http://127.0.0.1:${port}/auth/callback/broker`],
    },
  });
  expect(res.status).toBe(201);
  const created = await res.json();
  authApp = await startAuthJsApp(
    `${stack.app.url}/api/oidc`,
    created.clientId,
    created.clientSecretValue,
    port,
  );
}, 90_000);

afterAll(async () => {
  await authApp?.close();
  await stack?.close();
});

describe('Auth.js application signing in through the broker (Chromium)', () => {
  it('password user: app → broker sign-in → back at the app with the ID token claims', async () => {
    const { context, page } = await newPage(stack.browser);
    try {
      await page.goto(authApp.url);
      await screenshot(page, 'oidc-authjs-01-app');
      await page.click('#signin');
      await page.waitForSelector('input[name=username]');
      await screenshot(page, 'oidc-authjs-02-broker-username');
      await page.fill('input[name=username]', 'erin');
      await page.click('button[type=submit]');
      await page.waitForSelector('input[name=password]');
      await screenshot(page, 'oidc-authjs-03-broker-password');
      await page.fill('input[name=password]', PASSWORD);
      await page.click('button[type=submit]');
      await page.waitForSelector('#who');
      await screenshot(page, 'oidc-authjs-04-app-signed-in');
      expect(await page.textContent('#who')).toBe('Signed in as erin');
      const claims = JSON.parse((await page.textContent('#claims')) ?? '{}');
      expect(claims).toMatchObject({
        preferred_username: 'erin',
        name: 'Erin Example',
        amr: ['pwd'],
        idp: 'password',
      });
    } finally {
      await context.close();
    }
  });

  it('Entra user: app → broker → Entra stand-in → broker → app', async () => {
    const { context, page } = await newPage(stack.browser);
    try {
      await page.goto(authApp.url);
      await page.click('#signin');
      await page.waitForSelector('input[name=username]');
      await page.fill('input[name=username]', 'frank');
      await page.click('button[type=submit]');
      await page.waitForSelector('input[name=login]');
      await screenshot(page, 'oidc-authjs-05-entra-stand-in');
      await page.fill('input[name=login]', demoAccount('frank'));
      await page.fill('input[name=password]', 'any password');
      await page.click('button[type=submit]');
      await page.waitForSelector('#who');
      await screenshot(page, 'oidc-authjs-06-app-signed-in-entra');
      const claims = JSON.parse((await page.textContent('#claims')) ?? '{}');
      expect(claims).toMatchObject({ preferred_username: 'frank', amr: ['fed'], idp: integrationId });
    } finally {
      await context.close();
    }
  });
});
