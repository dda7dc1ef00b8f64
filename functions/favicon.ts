import { app } from '@azure/functions';
import { FAVICON_SVG } from '../shared/web/pages/favicon.ts';
import { endpoint } from '../shared/web/runtime.ts';

// GET /api/favicon.svg — the icon every page links, so no browser tab asks for a missing one.
app.http(
  'favicon',
  endpoint({
    route: 'favicon.svg',
    methods: ['GET'],
    cacheable: true,
    handler: async () => ({
      status: 200,
      body: FAVICON_SVG,
      headers: { 'Content-Type': 'image/svg+xml', 'Cache-Control': 'public, max-age=86400' },
    }),
  }),
);
