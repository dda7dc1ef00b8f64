/**
 * The admin console (docs/architecture.md "The admin console"): `GET /api/admin/...` serves the console's HTML shell
 * to signed-in admins; its script calls the management API with the session cookie and
 * `X-Broker-Csrf: 1`, so every rule stays in the management API. Anonymous visitors go to the sign-in
 * page and come back; signed-in non-admins get a 403 page. The script and stylesheet are served under
 * fingerprinted names with a one-year immutable cache.
 */
import { app, type HttpResponseInit } from '@azure/functions';
import { NotFoundError } from '../shared/core/errors.ts';
import { SessionRejectedError } from '../shared/sessions/service.ts';
import { assetByName } from '../shared/web/console/assets.ts';
import { CONSOLE_BASE, consoleShell, forbiddenPage } from '../shared/web/console/shell.ts';
import { sessionCookie, toCookie } from '../shared/web/cookies.ts';
import type { RequestContext } from '../shared/web/endpoint.ts';
import { errorPage } from '../shared/web/pages/render.ts';
import { endpoint } from '../shared/web/runtime.ts';

const ASSET_NAME = /^console\.[0-9a-f]{16}\.(?:js|css)$/;

function renderError(
  status: number,
  correlationId: string,
  _err: unknown,
  rc: RequestContext,
): HttpResponseInit {
  return errorPage({
    product: rc.services.config.BROKER_PRODUCT_NAME,
    status,
    errorCase: status === 429 ? 'throttled' : status === 503 ? 'unavailable' : 'internal',
    correlationId,
    startOver: CONSOLE_BASE,
  });
}

/** The console path (and query) to come back to after sign-in: always under /api/admin. */
function consoleReturnPath(rc: RequestContext): string {
  const sub = (rc.request.params.path ?? '').replace(/[^A-Za-z0-9._@/-]/g, '');
  const query = new URL(rc.request.url).search;
  return `${CONSOLE_BASE}${sub ? `/${sub}` : ''}${query.length <= 1024 ? query : ''}`;
}

// GET /api/admin/assets/{file} — the console's fingerprinted script and stylesheet.
app.http(
  'admin-console-asset',
  endpoint({
    route: 'admin/assets/{file}',
    methods: ['GET'],
    cacheable: true,
    handler: async (rc) => {
      const name = rc.request.params.file ?? '';
      const asset = ASSET_NAME.test(name) ? assetByName(name) : undefined;
      if (!asset) throw new NotFoundError('No such console file.', 'asset_not_found');
      const gzip = /\bgzip\b/.test(rc.request.headers.get('accept-encoding') ?? '');
      return {
        status: 200,
        body: gzip ? asset.gzipped : asset.body,
        headers: {
          'Content-Type': asset.contentType,
          Vary: 'Accept-Encoding',
          ...(gzip ? { 'Content-Encoding': 'gzip' } : {}),
          // The name changes with the content, so the file itself never does.
          'Cache-Control': 'public, max-age=31536000, immutable',
        },
      };
    },
  }),
);

// GET /api/admin and every page under it — the console's HTML shell (never cached).
app.http(
  'admin-console',
  endpoint({
    route: 'admin/{*path}',
    methods: ['GET'],
    renderError,
    handler: async (rc) => {
      const { sessionService, users, config } = rc.services;
      let session: Awaited<ReturnType<typeof sessionService.authenticate>>;
      try {
        session = await sessionService.authenticate(sessionCookie(rc.request));
      } catch (err) {
        if (!(err instanceof SessionRejectedError)) throw err;
        const back = encodeURIComponent(consoleReturnPath(rc));
        return { status: 302, headers: { Location: `/api/auth/login?returnTo=${back}` } };
      }
      const cookies = session.refreshedCookie ? [toCookie(session.refreshedCookie)] : [];
      const user = await users.getByUsername(session.username);
      if (!user || user.disabled || !user.roles.includes('admin')) {
        return {
          ...forbiddenPage({ product: config.BROKER_PRODUCT_NAME, username: session.username }),
          cookies,
        };
      }
      return consoleShell({
        product: config.BROKER_PRODUCT_NAME,
        username: user.username,
        subPath: rc.request.params.path ?? '',
        redirectUri: rc.services.integrations.redirectUri,
        cookies,
      });
    },
  }),
);
