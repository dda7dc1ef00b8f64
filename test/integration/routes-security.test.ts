/**
 * Every registered route: the security headers of docs/security.md section J, and deny-by-default on
 * /api/manage (AD1) — a route added later is covered without touching this file.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RegisteredRoute } from '../../scripts/host/local-host.ts';
import { ADMIN_AUTH_FAILURES } from '../../shared/web/endpoint.ts';
import { appRoutes, startTestApp, type TestApp } from '../helpers/stack.ts';

function concretePath(route: string): string {
  return `/api/${route.replace(/\{\*?([A-Za-z_]+)(?::[a-z]+)?\??\}/g, (_, name: string) =>
    name === 'username' ? 'someone' : '00000000-0000-4000-8000-000000000000',
  )}`;
}

describe('every registered route', () => {
  let app: TestApp;
  let routes: RegisteredRoute[];
  beforeAll(async () => {
    app = await startTestApp();
    routes = await appRoutes();
  });
  afterAll(() => app.close());

  it('registers routes under manage/ and outside it', () => {
    expect(routes.some((r) => r.route.startsWith('manage/'))).toBe(true);
    expect(routes.some((r) => r.route === 'health')).toBe(true);
    for (const r of routes) expect(r.authLevel).toBe('anonymous');
  });

  it('sends the security headers on every response (J: HD1–HD5)', async () => {
    for (const r of routes) {
      for (const method of r.methods) {
        const res = await fetch(`${app.url}${concretePath(r.route)}`, { method, redirect: 'manual' });
        const h = res.headers;
        const where = `${method} ${r.route} (${res.status})`;
        expect(h.get('strict-transport-security'), where).toMatch(/max-age=(\d{8,}); includeSubDomains/);
        expect(
          Number(/max-age=(\d+)/.exec(h.get('strict-transport-security') ?? '')?.[1]),
        ).toBeGreaterThanOrEqual(31536000);
        const csp = h.get('content-security-policy') ?? '';
        for (const directive of [
          "default-src 'none'",
          "frame-ancestors 'none'",
          "base-uri 'none'",
          "object-src 'none'",
        ]) {
          expect(csp, where).toContain(directive);
        }
        expect(h.get('x-content-type-options'), where).toBe('nosniff');
        expect(h.get('referrer-policy'), where).toBe('no-referrer');
        if (r.route.startsWith('manage/') || (r.route.startsWith('auth/') && r.route !== 'auth/jwks')) {
          expect(h.get('cache-control'), where).toBe('no-store');
        }
        expect(h.get('access-control-allow-origin'), where).toBeNull();
        await res.arrayBuffer();
      }
    }
  });

  it('denies every /api/manage route to anonymous callers and bad tokens (AD1)', async () => {
    const manage = routes.filter((r) => r.route.startsWith('manage/'));
    expect(manage.length).toBeGreaterThan(0);
    let throttled = false;
    for (const r of manage) {
      for (const method of r.methods) {
        const variants: Record<string, string>[] = [
          {},
          { authorization: 'Bearer brk.x.y' },
          { cookie: '__Host-broker_session=forged' },
        ];
        for (const headers of variants) {
          const res = await fetch(`${app.url}${concretePath(r.route)}`, {
            method,
            headers: { ...headers, 'content-type': 'application/json' },
            ...(method === 'GET' || method === 'DELETE' ? {} : { body: '{}' }),
          });
          // 401; once this address has failed too often, 429 (RL1) from then on — refused either way.
          if (res.status === 429) throttled = true;
          expect(res.status, `${method} ${r.route}`).toBe(throttled ? 429 : 401);
          expect(res.headers.get('content-type')).toBe('application/problem+json');
          await res.arrayBuffer();
        }
      }
    }
  });

  it('RL1: an address that keeps failing admin authentication is throttled (429 + Retry-After)', async () => {
    const other = await startTestApp();
    try {
      for (let i = 0; i <= ADMIN_AUTH_FAILURES.freeAttempts; i++) {
        const r = await fetch(`${other.url}/api/manage/tokens`, {
          headers: { authorization: 'Bearer brk.bad.bad' },
        });
        await r.arrayBuffer();
      }
      const blocked = await fetch(`${other.url}/api/manage/tokens`, {
        headers: { authorization: 'Bearer brk.bad.bad' },
      });
      expect(blocked.status).toBe(429);
      expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(blocked.headers.get('content-type')).toBe('application/problem+json');
      // A valid token from the same address is never refused for others' failures (a NAT).
      const valid = await fetch(`${other.url}/api/manage/tokens`, {
        headers: { authorization: `Bearer ${other.token}` },
      });
      expect(valid.status).toBe(200);
    } finally {
      await other.close();
    }
  });
});

describe('header merging', () => {
  it("a handler's own header replaces the default whatever its case (one CSP, never two)", async () => {
    const { mergeHeaders } = await import('../../shared/web/endpoint.ts');
    const merged = mergeHeaders(
      { 'Content-Security-Policy': "default-src 'none'", 'X-Content-Type-Options': 'nosniff' },
      { 'content-security-policy': "default-src 'none'; style-src 'nonce-x'" },
    );
    expect(Object.keys(merged).filter((k) => k.toLowerCase() === 'content-security-policy')).toEqual([
      'content-security-policy',
    ]);
    expect(merged['content-security-policy']).toContain("style-src 'nonce-x'");
    expect(merged['X-Content-Type-Options']).toBe('nosniff');
  });
});
