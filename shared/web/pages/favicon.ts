/**
 * The broker's icon: a small SVG (a key in a rounded square) every page links with
 * `<link rel="icon">`, so browsers ask for it instead of a /favicon.ico the host cannot serve (routes
 * live under /api).
 */
export const FAVICON_PATH = '/api/favicon.svg';

export const FAVICON_LINK = `<link rel="icon" href="${FAVICON_PATH}" type="image/svg+xml">`;

export const FAVICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="7" fill="#1d4ed8"/><circle cx="12" cy="16" r="5.5" fill="none" stroke="#fff" stroke-width="3"/><path d="M17 16h10M23 16v5M27 16v4" stroke="#fff" stroke-width="3" stroke-linecap="round"/></svg>`;
