/**
 * Server-rendered sign-in pages: no front-end framework, no external resources, one nonce'd
 * stylesheet (CSP), labels on every field, errors tied to their fields (aria-describedby,
 * aria-invalid), visible focus, readable on a phone.
 */
import { randomBytes } from 'node:crypto';
import type { Cookie, HttpResponseInit } from '@azure/functions';
import { pageCsp } from '../headers.ts';
import { documentHead, escapeHtml } from './document.ts';
import { type ErrorCase, TEXTS, t } from './texts.ts';

const STYLE = `
*{box-sizing:border-box}
html{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;font-size:100%;color:#1b1b1f;background:#f3f4f6}
body{margin:0;min-height:100vh;display:flex;align-items:flex-start;justify-content:center;padding:8vh 16px 32px}
main{width:100%;max-width:26rem;background:#fff;border-radius:12px;box-shadow:0 1px 3px rgba(0,0,0,.12);padding:28px 24px}
.product{margin:0 0 4px;font-size:.95rem;color:#4b5563;font-weight:600}
h1{margin:0 0 20px;font-size:1.5rem;line-height:1.25}
p{line-height:1.5}
label{display:block;font-weight:600;margin:0 0 6px}
.hint{margin:-2px 0 8px;color:#4b5563;font-size:.9rem}
input[type=text],input[type=password],input[type=email]{width:100%;font:inherit;padding:10px 12px;border:1px solid #6b7280;border-radius:8px;background:#fff;color:inherit}
input[aria-invalid=true]{border-color:#b91c1c;border-width:2px}
.error{color:#b91c1c;font-weight:600;margin:6px 0 0}
.alert{border-left:4px solid #b91c1c;background:#fef2f2;padding:10px 12px;margin:0 0 16px;border-radius:4px}
.field{margin:0 0 18px}
button,.button{display:inline-block;width:100%;font:inherit;font-weight:600;padding:11px 16px;border-radius:8px;border:2px solid #1d4ed8;background:#1d4ed8;color:#fff;cursor:pointer;text-align:center;text-decoration:none}
button.secondary,.button.secondary{background:#fff;color:#1d4ed8}
form+form,button+button{margin-top:12px}
a{color:#1d4ed8}
:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}
.small{font-size:.9rem;color:#4b5563}
h2{margin:24px 0 8px;font-size:1.1rem}
.apps{list-style:none;margin:0 0 20px;padding:0}
.apps li{margin:0;padding:8px 0;border-top:1px solid #e5e7eb}
.apps li:last-child{border-bottom:1px solid #e5e7eb}
.apps a{font-weight:600;overflow-wrap:anywhere}
.ref{font-family:ui-monospace,monospace;font-size:.85rem;color:#4b5563;word-break:break-all}
@media (prefers-color-scheme:dark){html{background:#111827;color:#f9fafb}main{background:#1f2937}.product,.hint,.small,.ref{color:#d1d5db}input[type=text],input[type=password]{background:#111827;border-color:#9ca3af}a{color:#93c5fd}button.secondary,.button.secondary{background:transparent;color:#93c5fd;border-color:#93c5fd}.alert{background:#450a0a}.error{color:#fca5a5}.apps li,.apps li:last-child{border-color:#4b5563}}
`;

export interface PageOptions {
  title: string;
  body: string;
  product: string;
  status?: number;
  cookies?: Cookie[];
  headers?: Record<string, string>;
  /** Origins a form on this page may end up at after the broker's redirect (the Entra authority hosts). */
  formTargets?: readonly string[];
}

export function page(opts: PageOptions): HttpResponseInit {
  const nonce = randomBytes(16).toString('base64');
  const head = documentHead({
    lang: TEXTS.lang,
    title: `${opts.title} – ${opts.product}`,
    resources: `<style nonce="${nonce}">${STYLE}</style>`,
  });
  const html = `${head}
<body>
<main>
<p class="product">${escapeHtml(opts.product)}</p>
${opts.body}
</main>
</body>
</html>`;
  return {
    status: opts.status ?? 200,
    body: html,
    headers: {
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Security-Policy': pageCsp(nonce, opts.formTargets),
      ...opts.headers,
    },
    ...(opts.cookies?.length ? { cookies: opts.cookies } : {}),
  };
}

const hidden = (name: string, value: string | null | undefined) =>
  value ? `<input type="hidden" name="${name}" value="${escapeHtml(value)}">` : '';

export interface UsernameStep {
  product: string;
  formTargets?: readonly string[];
  username?: string;
  returnTo?: string | null;
  /** An application asked for a new sign-in (`prompt=login`): Entra is asked for one too. */
  reauthenticate?: boolean;
  error?: string;
  status?: number;
  cookies?: Cookie[];
}

export function usernamePage(o: UsernameStep): HttpResponseInit {
  const err = o.error ? `<p class="error" id="username-error" role="alert">${escapeHtml(o.error)}</p>` : '';
  return page({
    product: o.product,
    ...(o.formTargets ? { formTargets: o.formTargets } : {}),
    title: TEXTS.signInTitle,
    status: o.status ?? 200,
    ...(o.cookies ? { cookies: o.cookies } : {}),
    body: `<h1>${escapeHtml(t(TEXTS.signInIntro, { product: o.product }))}</h1>
<form method="post" action="/api/auth/login" novalidate>
${hidden('returnTo', o.returnTo)}${o.reauthenticate ? hidden('prompt', 'login') : ''}
<div class="field">
<label for="username">${escapeHtml(TEXTS.usernameLabel)}</label>
<p class="hint" id="username-hint">${escapeHtml(TEXTS.usernameHint)}</p>
<input type="text" id="username" name="username" autocomplete="username" autocapitalize="none" spellcheck="false" maxlength="256" required autofocus value="${escapeHtml(o.username ?? '')}" aria-describedby="username-hint${o.error ? ' username-error' : ''}"${o.error ? ' aria-invalid="true"' : ''}>
${err}
</div>
<button type="submit">${escapeHtml(TEXTS.continue)}</button>
</form>`,
  });
}

export interface PasswordStep {
  product: string;
  formTargets?: readonly string[];
  username: string;
  returnTo?: string | null;
  error?: string;
  status?: number;
  headers?: Record<string, string>;
  cookies?: Cookie[];
}

export function passwordPage(o: PasswordStep): HttpResponseInit {
  const err = o.error ? `<p class="error" id="password-error" role="alert">${escapeHtml(o.error)}</p>` : '';
  const back = `/api/auth/login${o.returnTo ? `?returnTo=${encodeURIComponent(o.returnTo)}` : ''}`;
  return page({
    product: o.product,
    ...(o.formTargets ? { formTargets: o.formTargets } : {}),
    title: TEXTS.passwordTitle,
    status: o.status ?? 200,
    ...(o.headers ? { headers: o.headers } : {}),
    ...(o.cookies ? { cookies: o.cookies } : {}),
    body: `<h1>${escapeHtml(TEXTS.passwordTitle)}</h1>
<form method="post" action="/api/auth/password" novalidate>
${hidden('returnTo', o.returnTo)}
<div class="field">
<label for="username">${escapeHtml(TEXTS.usernameLabel)}</label>
<input type="text" id="username" name="username" autocomplete="username" autocapitalize="none" spellcheck="false" maxlength="256" required value="${escapeHtml(o.username)}">
</div>
<div class="field">
<label for="password">${escapeHtml(TEXTS.passwordLabel)}</label>
<input type="password" id="password" name="password" autocomplete="current-password" maxlength="1024" required autofocus${o.error ? ' aria-invalid="true" aria-describedby="password-error"' : ''}>
${err}
</div>
<button type="submit">${escapeHtml(TEXTS.signIn)}</button>
</form>
<p class="small"><a href="${escapeHtml(back)}">${escapeHtml(t(TEXTS.notYou, { username: o.username }))}</a></p>`,
  });
}

export function choicePage(o: {
  product: string;
  username: string;
  title: string;
  returnTo?: string | null;
  formTargets?: readonly string[];
}) {
  return page({
    product: o.product,
    ...(o.formTargets ? { formTargets: o.formTargets } : {}),
    title: TEXTS.chooseTitle,
    body: `<h1>${escapeHtml(TEXTS.chooseTitle)}</h1>
<form method="post" action="/api/auth/login">
${hidden('returnTo', o.returnTo)}
<input type="hidden" name="username" value="${escapeHtml(o.username)}">
<input type="hidden" name="method" value="entra">
<button type="submit">${escapeHtml(t(TEXTS.chooseEntra, { title: o.title }))}</button>
</form>
<form method="post" action="/api/auth/login">
${hidden('returnTo', o.returnTo)}
<input type="hidden" name="username" value="${escapeHtml(o.username)}">
<input type="hidden" name="method" value="password">
<button type="submit" class="secondary">${escapeHtml(TEXTS.choosePassword)}</button>
</form>`,
  });
}

/**
 * The applications the user may open from here (already filtered by role and sorted): plain links,
 * each to the address where that application starts its own sign-in. Nothing when there are none.
 */
function applicationList(apps: readonly { name: string; href: string }[]): string {
  if (apps.length === 0) return '';
  const items = apps
    .map((a) => `<li><a href="${escapeHtml(a.href)}">${escapeHtml(a.name)}</a></li>`)
    .join('\n');
  return `<section aria-labelledby="apps-h">
<h2 id="apps-h">${escapeHtml(TEXTS.yourApplications)}</h2>
<ul class="apps">
${items}
</ul>
</section>
`;
}

/**
 * Signed in with nowhere to go: who, the ways on (the applications the user may open, the console for
 * an admin), and sign out.
 */
export function signedInPage(o: {
  product: string;
  username: string;
  displayName?: string | null;
  isAdmin?: boolean;
  /** Links to the applications the user may use (shared/applications/portal.ts). */
  applications?: readonly { name: string; href: string }[];
}) {
  return page({
    product: o.product,
    title: TEXTS.signedInTitle,
    body: `<h1>${escapeHtml(TEXTS.signedInTitle)}</h1>
<p>${escapeHtml(t(TEXTS.signedInAs, { username: o.displayName && o.displayName !== o.username ? `${o.displayName} (${o.username})` : o.username }))}</p>
${applicationList(o.applications ?? [])}${o.isAdmin ? `<p><a class="button" href="/api/admin">${escapeHtml(TEXTS.openConsole)}</a></p>\n` : ''}<form method="post" action="/api/auth/logout">
<button type="submit" class="secondary">${escapeHtml(TEXTS.signOut)}</button>
</form>`,
  });
}

export function errorPage(o: {
  product: string;
  status: number;
  errorCase: ErrorCase;
  correlationId: string;
  startOver?: string;
  headers?: Record<string, string>;
  cookies?: Cookie[];
  /** Plain-text paragraphs after the case's fixed text (escaped here). */
  details?: readonly string[];
}) {
  const details = (o.details ?? []).map((d) => `<p>${escapeHtml(d)}</p>`).join('');
  return page({
    product: o.product,
    title: TEXTS.errorTitle,
    status: o.status,
    ...(o.headers ? { headers: o.headers } : {}),
    ...(o.cookies ? { cookies: o.cookies } : {}),
    body: `<h1>${escapeHtml(TEXTS.errorTitle)}</h1>
<div class="alert" role="alert"><p>${escapeHtml(TEXTS.errors[o.errorCase])}</p>${details}</div>
<p class="ref">${escapeHtml(t(TEXTS.correlation, { correlationId: o.correlationId }))}</p>
<p><a class="button" href="${escapeHtml(o.startOver ?? '/api/auth/login')}">${escapeHtml(TEXTS.tryAgain)}</a></p>`,
  });
}
