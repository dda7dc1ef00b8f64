/**
 * The console's HTML: one small shell per page (header, navigation, an empty <main>) that loads the
 * fingerprinted script and stylesheet; the script fills <main> from the management API. Nothing inline,
 * so the CSP allows scripts and styles from this origin only ('self'), never 'unsafe-inline'.
 */
import type { Cookie, HttpResponseInit } from '@azure/functions';
import { documentHead, escapeHtml } from '../pages/document.ts';
import { page } from '../pages/render.ts';
import { assetUrl } from './assets.ts';

export const CONSOLE_BASE = '/api/admin';

/** Navigation: path segment → link text (the seed's words; tests find the links by these names). */
export const SECTIONS = [
  ['integrations', 'Integrations'],
  ['users', 'Users'],
  ['settings', 'Global settings'],
  ['applications', 'Applications'],
  ['apis', 'APIs'],
  ['audit', 'Audit log'],
  ['tokens', 'API tokens'],
] as const;

export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "object-src 'none'",
].join('; ');

/** The section a console path belongs to (`users/alice` → `users`); the first one by default. */
export function sectionOf(subPath: string): string {
  const first = subPath.split('/').find(Boolean) ?? '';
  return SECTIONS.some(([key]) => key === first) ? first : 'integrations';
}

export function consoleShell(o: {
  product: string;
  username: string;
  subPath: string;
  redirectUri: string;
  cookies?: Cookie[];
}): HttpResponseInit {
  const section = sectionOf(o.subPath);
  const label = SECTIONS.find(([key]) => key === section)?.[1] ?? 'Integrations';
  const nav = SECTIONS.map(
    ([key, text]) =>
      `<li><a href="${CONSOLE_BASE}/${key}"${key === section ? ' aria-current="page"' : ''}>${escapeHtml(text)}</a></li>`,
  ).join('');
  const head = documentHead({
    lang: 'en',
    title: `${label} – ${o.product} admin`,
    resources: `<link rel="stylesheet" href="${assetUrl('console.css')}">
<script src="${assetUrl('console.js')}" defer></script>`,
  });
  const html = `${head}
<body data-redirect-uri="${escapeHtml(o.redirectUri)}" data-username="${escapeHtml(o.username)}">
<a class="skip" href="#main">Skip to content</a>
<header class="top">
<p class="product">${escapeHtml(o.product)} <span>admin</span></p>
<form method="post" action="/api/auth/logout" class="signout">
<span class="who">${escapeHtml(o.username)}</span>
<button type="submit" class="link">Sign out</button>
</form>
</header>
<nav aria-label="Console"><ul>${nav}</ul></nav>
<main id="main" tabindex="-1" data-section="${section}">
<h1>${escapeHtml(label)}</h1>
<p class="loading">Loading…</p>
<noscript><p>The admin console needs JavaScript. The management API (/api/manage) works without it.</p></noscript>
</main>
</body>
</html>`;
  return {
    status: 200,
    body: html,
    headers: { 'Content-Type': 'text/html; charset=utf-8', 'Content-Security-Policy': CONSOLE_CSP },
    ...(o.cookies?.length ? { cookies: o.cookies } : {}),
  };
}

/** A signed-in user without the admin role: a readable 403 page in the sign-in pages' look. */
export function forbiddenPage(o: { product: string; username: string }): HttpResponseInit {
  return page({
    product: o.product,
    status: 403,
    title: 'No access to the admin console',
    body: `<h1>No access to the admin console</h1>
<p>You are signed in as ${escapeHtml(o.username)}, which is not an administrator account.</p>
<p>Ask an administrator for the admin role, or sign in with another account.</p>
<form method="post" action="/api/auth/logout">
<input type="hidden" name="returnTo" value="/api/auth/login?returnTo=%2Fapi%2Fadmin">
<button type="submit" class="secondary">Sign in with another account</button>
</form>`,
  });
}
