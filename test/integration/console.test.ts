/**
 * The admin console's HTTP side without a browser: who gets the shell (anonymous → sign-in with the
 * way back, non-admin → 403, admin → 200), its CSP (scripts and styles from 'self' only, no inline),
 * no-store HTML, and fingerprinted assets that match their content and are cached as immutable.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrokerBrowser, createUser } from '../helpers/signin.ts';
import { startTestApp, type TestApp } from '../helpers/stack.ts';

const STRONG = 'Correct-Horse-Battery-42!';

let app: TestApp;

beforeAll(async () => {
  app = await startTestApp();
  await createUser(app, {
    username: 'con-admin',
    verifyType: 'password',
    password: STRONG,
    roles: ['admin'],
  });
  await createUser(app, { username: 'con-user', verifyType: 'password', password: STRONG });
}, 60_000);
afterAll(() => app.close());

async function signedIn(username: string): Promise<BrokerBrowser> {
  const b = new BrokerBrowser(app);
  const res = await b.post('/api/auth/password', { username, password: STRONG });
  expect(res.status).toBe(303);
  return b;
}

describe('admin console over HTTP', () => {
  it('sends anonymous visitors to the sign-in page with a return path under /api/admin', async () => {
    for (const [path, back] of [
      ['/api/admin', '/api/admin'],
      ['/api/admin/users/alice?prefix=al', '/api/admin/users/alice?prefix=al'],
    ]) {
      const res = await fetch(`${app.url}${path}`, { redirect: 'manual' });
      expect(res.status).toBe(302);
      const location = new URL(res.headers.get('location') ?? '', app.url);
      expect(location.pathname).toBe('/api/auth/login');
      expect(location.searchParams.get('returnTo')).toBe(back);
      expect(res.headers.get('cache-control')).toBe('no-store');
    }
  });

  it('answers a signed-in non-admin with a 403 page, and an admin with the shell', async () => {
    const user = await signedIn('con-user');
    const refused = await user.get('/api/admin');
    expect(refused.status).toBe(403);
    expect(refused.headers.get('content-type')).toContain('text/html');
    expect(await refused.text()).toContain('No access to the admin console');

    const admin = await signedIn('con-admin');
    const shell = await admin.get('/api/admin/settings');
    expect(shell.status).toBe(200);
    expect(shell.headers.get('cache-control')).toBe('no-store');
    const csp = shell.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("form-action 'self'");
    expect(csp).not.toContain('unsafe');
    const html = await shell.text();
    expect(html).not.toMatch(/<script(?![^>]*\ssrc=)/); // no inline script
    expect(html).not.toMatch(/<style|\sstyle=/); // no inline style
    expect(html).toContain('<a href="/api/admin/settings" aria-current="page">Global settings</a>');
  });

  it('serves fingerprinted assets whose name matches their content, cached as immutable', async () => {
    const admin = await signedIn('con-admin');
    const html = await (await admin.get('/api/admin')).text();
    const assets = [
      ...html.matchAll(/(?:src|href)="(\/api\/admin\/assets\/console\.([0-9a-f]{16})\.(js|css))"/g),
    ];
    expect(assets.map((m) => m[3]).sort()).toEqual(['css', 'js']);
    for (const [, path, hash, ext] of assets) {
      // Anonymous: the assets hold no data and no rule, and a browser may cache them.
      const res = await fetch(`${app.url}${path}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect(res.headers.get('content-type')).toContain(ext === 'js' ? 'text/javascript' : 'text/css');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      const body = Buffer.from(await res.arrayBuffer());
      expect(createHash('sha256').update(body).digest('hex').slice(0, 16)).toBe(hash);
    }
    for (const name of ['console.0000000000000000.js', 'console.js', '..%2F..%2Fpackage.json']) {
      const res = await fetch(`${app.url}/api/admin/assets/${name}`);
      expect(res.status, name).toBe(404);
      await res.arrayBuffer();
    }
  });
});
