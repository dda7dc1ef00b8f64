import type { HttpRequest } from '@azure/functions';
import { ForbiddenError } from '../core/errors.ts';

/**
 * Cross-site request check for state-changing browser requests (login CSRF, logout, cookie-authenticated
 * admin calls; docs/security.md PW7, LO1, AD2): the Origin header must be the broker's own origin, or, when
 * a browser sends no Origin, Sec-Fetch-Site must say same-origin (or none: typed/bookmarked). A request
 * with neither header is refused: every current browser sends at least one of them on a POST.
 */
export function assertSameOrigin(request: HttpRequest, brokerOrigin: string): void {
  // Our pages send `Referrer-Policy: no-referrer`, with which Chromium sends `Origin: null` on form
  // posts: an opaque origin proves nothing either way, so Sec-Fetch-Site decides.
  const raw = request.headers.get('origin');
  const origin = raw === 'null' ? null : raw;
  if (origin !== null) {
    if (origin !== brokerOrigin)
      throw new ForbiddenError('Cross-site requests are not accepted.', 'cross_site_request');
    return;
  }
  const site = request.headers.get('sec-fetch-site');
  if (site === 'same-origin' || site === 'none') return;
  throw new ForbiddenError('Cross-site requests are not accepted.', 'cross_site_request');
}
