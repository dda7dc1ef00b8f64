/**
 * docs/security.md RU1: a relative path with one leading "/", or an https URL with an allowlisted origin;
 * everything else falls back to the default page. A payload table plus fast-check.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalizeOrigin } from '../../shared/settings/service.ts';
import { safeReturnUrl } from '../../shared/signin/return-url.ts';

const BROKER = 'https://broker.example';
const ALLOWED = ['https://app.example', 'https://portal.example:8443'];
const check = (raw: string) => safeReturnUrl(raw, ALLOWED, BROKER);

describe('return URL allow-list', () => {
  it.each([
    ['/dashboard', '/dashboard'],
    ['/a/b?c=1#d', '/a/b?c=1#d'],
    ['https://app.example/home', 'https://app.example/home'],
    ['https://app.example', 'https://app.example/'],
    ['https://portal.example:8443/x', 'https://portal.example:8443/x'],
  ])('accepts %s', (raw, expected) => {
    expect(check(raw)).toBe(expected);
  });

  it.each([
    '//evil.example',
    '//evil.example/path',
    '/\\evil.example',
    '\\\\evil.example',
    '/..//evil.example',
    '/%0d%0aSet-Cookie:x=1'.replace('%0d%0a', '\r\n'),
    '/\tevil',
    ' /leading-space',
    'https://evil.example',
    'https://app.example.evil.example/',
    'https://evil.example@app.example/',
    'https://app.example@evil.example/',
    'https://user:pass@app.example/',
    'http://app.example/',
    'javascript:alert(1)',
    'JaVaScRiPt:alert(1)',
    'data:text/html,<script>alert(1)</script>',
    'vbscript:msgbox(1)',
    'https:evil.example',
    'https:/evil.example',
    'https://portal.example/',
    'https://app.example:443@evil.example',
    'evil.example',
    '',
    `/${'a'.repeat(5000)}`,
    'https://APP.example\u0000.evil.example',
  ])('rejects %j', (raw) => {
    expect(check(raw)).toBeUndefined();
  });

  it('never yields a Location outside the broker and the allow-list (fast-check)', () => {
    const fragments = fc.constantFrom(
      '/',
      '//',
      '\\',
      '@',
      ':',
      '.',
      '..',
      '%2f',
      '%5c',
      'https:',
      'http:',
      'javascript:',
      'app.example',
      'evil.example',
      'portal.example:8443',
      '?',
      '#',
      '\t',
      '\n',
      ' ',
      'a',
    );
    const candidate = fc.oneof(
      fc.array(fragments, { maxLength: 8 }).map((p) => p.join('')),
      fc.webUrl({ withQueryParameters: true, withFragments: true }),
      fc.string({ maxLength: 40 }),
    );
    fc.assert(
      fc.property(candidate, (raw) => {
        const result = check(raw);
        if (result === undefined) return;
        // What a browser would navigate to when given this Location on the broker's page:
        const target = new URL(result, `${BROKER}/api/auth/callback`);
        expect([BROKER, ...ALLOWED]).toContain(target.origin);
        if (target.origin === BROKER) expect(result.startsWith('/') && !result.startsWith('//')).toBe(true);
      }),
      { numRuns: 5000 },
    );
  });

  it('normalises allow-list origins', () => {
    expect(normalizeOrigin('https://App.Example/')).toBe('https://app.example');
    expect(normalizeOrigin('https://app.example:443')).toBe('https://app.example');
    for (const bad of [
      'http://app.example',
      'https://*.example',
      'https://a@app.example',
      'https://app.example/x',
    ]) {
      expect(normalizeOrigin(bad)).toBeUndefined();
    }
  });
});
