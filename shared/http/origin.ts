import type { HttpRequest } from '@azure/functions';
import { ForbiddenError } from '../errors.ts';

/**
 * Cross-site request check for state-changing browser requests (login CSRF, logout, cookie-authenticated
 * admin calls; SECURITY.md PW7, LO1, AD2): the Origin header must be the broker's own origin, or, when
 * a browser sends no Origin, Sec-Fetch-Site must say same-origin (or none: typed/bookmarked). A request
 * with neither header is refused: every current browser sends at least one of them on a POST.
 */
export function assertSameOrigin(request: HttpRequest, brokerOrigin: string): void {
  const origin = request.headers.get('origin');
  if (origin !== null) {
    if (origin !== brokerOrigin)
      throw new ForbiddenError('Cross-site requests are not accepted.', 'cross_site_request');
    return;
  }
  const site = request.headers.get('sec-fetch-site');
  if (site === 'same-origin' || site === 'none') return;
  throw new ForbiddenError('Cross-site requests are not accepted.', 'cross_site_request');
}
