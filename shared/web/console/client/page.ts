/**
 * The shell the server sent (shared/web/console/shell.ts): its <main>, the signed-in admin and the
 * redirect URI it names on <body>, and the console's URLs.
 */
import { h } from './dom.ts';

export const BASE = '/api/admin';

// The shell always has <main id="main">; the script is deferred, so it is parsed by now.
const main = document.getElementById('main') as HTMLElement;

export const REDIRECT_URI = document.body.dataset.redirectUri || '';
export const ME = document.body.dataset.username || '';

/** Replaces <main> with a page: its heading (also the document title's first part) and content. */
export function show(title: string, ...content: (Node | null | undefined)[]): void {
  document.title = `${title} – ${document.title.split(' – ').slice(1).join(' – ')}`;
  main.replaceChildren(
    h('h1', {}, title),
    ...content.filter((c): c is Node => c !== null && c !== undefined),
  );
}

/** Renames the page shown (its heading and the document title), e.g. once a new item is saved. */
export function retitle(title: string): void {
  document.title = `${title} – ${document.title.split(' – ').slice(1).join(' – ')}`;
  const h1 = main.querySelector('h1');
  if (h1) h1.textContent = title;
}

/** Tells the end-to-end tests (and anyone watching) that the page is filled. */
export function markReady(): void {
  main.dataset.ready = 'true';
}

export const consoleUrl = (...parts: string[]): string =>
  [BASE, ...parts.map((p) => encodeURIComponent(p))].join('/');

/** This page's path and query, for the way back after signing in again. */
export const here = (): string => location.pathname + location.search;
