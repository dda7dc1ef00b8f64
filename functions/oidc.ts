/**
 * The broker as OpenID Provider: every route under /api/oidc/ — discovery, authorization, token,
 * userinfo, JWKS, revocation, end session, and the broker's own login step (`interaction/{uid}`) —
 * handed through the bridge to the OIDC service, which runs oidc-provider. `endpoint()` adds the
 * section J headers (the provider's own CSP, e.g. the script hash of a form_post page, replaces the
 * default where it sets one) and renders unexpected errors as the broker's error page.
 */
import { app } from '@azure/functions';
import type { RequestContext } from '../shared/web/endpoint.ts';
import { serveOidc } from '../shared/web/oidc-bridge.ts';
import { errorPage } from '../shared/web/pages/render.ts';
import { endpoint } from '../shared/web/runtime.ts';

function renderError(status: number, correlationId: string, _err: unknown, rc: RequestContext) {
  return errorPage({
    product: rc.services.config.BROKER_PRODUCT_NAME,
    status,
    errorCase:
      status === 503
        ? 'unavailable'
        : status === 429
          ? 'throttled'
          : status >= 500
            ? 'internal'
            : 'app_request_invalid',
    correlationId,
  });
}

/**
 * The OP's sign-in legs by first path segment (`auth/{uid}` resumes an authorization): each a span.
 * The other OP routes are not steps of a sign-in.
 */
const OIDC_LEGS: Record<string, string> = { auth: 'oidc.authorize', token: 'oidc.token' };

app.http(
  'oidc',
  endpoint({
    route: 'oidc/{*path}',
    methods: ['GET', 'POST', 'OPTIONS'],
    renderError,
    leg: { name: (request) => OIDC_LEGS[(request.params.path ?? '').split('/')[0] ?? ''] },
    handler: (rc) => serveOidc(rc.services.oidc, rc.request, rc, rc.request.params.path ?? ''),
  }),
);
