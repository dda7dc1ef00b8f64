/**
 * What every HTML page of the broker starts with, the sign-in pages and the admin console alike:
 * escaping, and one document head (language, charset, viewport, no Referer sent on, the title, the icon),
 * after which each kind of page names its own stylesheet and scripts under its own CSP.
 */
import { FAVICON_LINK } from './favicon.ts';

export function escapeHtml(value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** From the doctype to `</head>`; `resources` is trusted markup (the page's own links, nonce'd style). */
export function documentHead(o: { lang: string; title: string; resources: string }): string {
  return `<!doctype html>
<html lang="${escapeHtml(o.lang)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(o.title)}</title>
${FAVICON_LINK}
${o.resources}
</head>`;
}
