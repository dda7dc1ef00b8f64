/**
 * Browserless sign-in flows for integration tests: fetch with one cookie jar per origin (like a
 * browser), the broker on the local host and the Entra stand-in's real login form.
 */
import { expect } from 'vitest';
import { DEMO_ENTRA } from '../../scripts/standins/entra.ts';
import type { TestApp } from './stack.ts';

export class CookieJar {
  readonly cookies = new Map<string, string>();
  store(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const i = pair.indexOf('=');
      const name = pair.slice(0, i).trim();
      const value = pair.slice(i + 1).trim();
      if (/;\s*max-age=0/i.test(line) || /;\s*expires=Thu, 01 Jan 1970/i.test(line) || value === '') {
        this.cookies.delete(name);
      } else this.cookies.set(name, value);
    }
  }
  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
  clone(): CookieJar {
    const j = new CookieJar();
    for (const [k, v] of this.cookies) j.cookies.set(k, v);
    return j;
  }
}

/** A browser-like client of the broker: same-origin form posts, its own cookie jar. */
export class BrokerBrowser {
  readonly jar = new CookieJar();
  constructor(readonly app: TestApp) {}

  get origin(): string {
    return new URL(this.app.url).origin;
  }

  async get(path: string, headers: Record<string, string> = {}): Promise<Response> {
    const res = await fetch(new URL(path, this.app.url), {
      redirect: 'manual',
      headers: { cookie: this.jar.header(), ...headers },
    });
    this.jar.store(res);
    return res;
  }

  async post(
    path: string,
    form: Record<string, string>,
    headers: Record<string, string> = {},
  ): Promise<Response> {
    const res = await fetch(new URL(path, this.app.url), {
      method: 'POST',
      redirect: 'manual',
      headers: {
        cookie: this.jar.header(),
        origin: this.origin,
        'content-type': 'application/x-www-form-urlencoded',
        ...headers,
      },
      body: new URLSearchParams(form),
    });
    this.jar.store(res);
    return res;
  }

  /** Follows the Entra stand-in's login form for `account` and returns the callback URL it redirects to. */
  async entraLogin(authorizeUrl: string, account: string): Promise<string> {
    const idpJar = new CookieJar();
    let url = authorizeUrl;
    for (let hop = 0; hop < 12; hop++) {
      const res = await fetch(url, { redirect: 'manual', headers: { cookie: idpJar.header() } });
      idpJar.store(res);
      if (res.status === 200) {
        const html = await res.text();
        const action = /<form method="post" action="([^"]+)"/.exec(html)?.[1];
        if (!action) throw new Error(`no login form at ${new URL(url).pathname}`);
        const post = await fetch(new URL(action.replace(/&amp;/g, '&'), url), {
          method: 'POST',
          redirect: 'manual',
          headers: { cookie: idpJar.header(), 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ login: account, password: 'any password' }),
        });
        idpJar.store(post);
        url = new URL(post.headers.get('location') ?? '', url).href;
        continue;
      }
      const location = res.headers.get('location');
      if (!location) throw new Error(`stand-in answered ${res.status} without a redirect`);
      const next = new URL(location, url).href;
      if (next.startsWith(`${this.app.url}/api/auth/callback`)) return next;
      url = next;
    }
    throw new Error('too many redirects at the Entra stand-in');
  }

  /** Username step → Entra → callback. Returns the callback's response (302 with the session on success). */
  async signInWithEntra(username: string, account: string, form: Record<string, string> = {}) {
    const start = await this.post('/api/auth/login', { username, ...form });
    expect(start.status, await start.clone().text()).toBe(302);
    const authorizeUrl = start.headers.get('location') as string;
    const callbackUrl = await this.entraLogin(authorizeUrl, account);
    const callback = await this.get(callbackUrl);
    return { start, authorizeUrl, callbackUrl, callback };
  }

  async session(): Promise<Response> {
    return this.get('/api/auth/session');
  }
}

/** Creates and activates an integration on the demo tenant through the management API. */
export async function createDemoIntegration(
  app: TestApp,
  over: Record<string, unknown> = {},
): Promise<{ id: string; title: string; etag: string }> {
  const created = await app.admin('/api/manage/integrations', {
    method: 'POST',
    json: {
      kind: 'azure-ad',
      title: `Demo ${Math.random().toString(36).slice(2, 8)}`,
      applicationId: DEMO_ENTRA.clientId,
      tenant: DEMO_ENTRA.tenantId,
      clientSecret: DEMO_ENTRA.clientSecret,
      ...over,
    },
  });
  expect(created.status, await created.clone().text()).toBe(201);
  const integration = await created.json();
  const activated = await app.admin(`/api/manage/integrations/${integration.id}/activate`, {
    method: 'POST',
  });
  expect(activated.status, await activated.clone().text()).toBe(200);
  const body = await activated.json();
  return { id: body.id, title: body.title, etag: body.etag };
}

export async function createUser(app: TestApp, body: Record<string, unknown>) {
  const res = await app.admin('/api/manage/users', { method: 'POST', json: body });
  expect(res.status, await res.clone().text()).toBe(201);
  return res.json();
}

export async function patchSettings(app: TestApp, patch: Record<string, unknown>) {
  const res = await app.admin('/api/manage/settings', { method: 'PATCH', json: patch });
  expect(res.status, await res.clone().text()).toBe(200);
  return res.json();
}

export const demoAccount = (name: string) => `${name}@${DEMO_ENTRA.domain}`;
