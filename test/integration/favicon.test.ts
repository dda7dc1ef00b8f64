/** The icon: served as SVG, cacheable, and linked from the sign-in pages and the console's shell. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consoleShell } from '../../shared/web/console/shell.ts';
import { startTestApp, type TestApp } from '../helpers/stack.ts';

const LINK = '<link rel="icon" href="/api/favicon.svg" type="image/svg+xml">';

describe('favicon', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(() => app.close());

  it('is served as a small SVG with a cache lifetime', async () => {
    const res = await fetch(`${app.url}/api/favicon.svg`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/svg+xml');
    expect(res.headers.get('cache-control')).toContain('max-age=');
    const body = await res.text();
    expect(body.startsWith('<svg')).toBe(true);
    expect(body.length).toBeLessThan(1024);
  });

  it('is linked from the sign-in pages and the console shell', async () => {
    expect(await (await fetch(`${app.url}/api/auth/login`)).text()).toContain(LINK);
    const shell = consoleShell({ product: 'P', username: 'root', subPath: 'users', redirectUri: 'x' });
    expect(String(shell.body)).toContain(LINK);
  });
});
