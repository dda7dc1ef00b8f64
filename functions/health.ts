import { app } from '@azure/functions';
import { json } from '../shared/web/body.ts';
import { endpoint } from '../shared/web/runtime.ts';

// Anonymous: only the overall status and the checks' states (no integration ids, no dates).
app.http(
  'health',
  endpoint({
    route: 'health',
    methods: ['GET'],
    handler: async ({ services }) => {
      const { status, checks } = await services.health.report();
      return json(status === 'ok' ? 200 : 503, { status, checks });
    },
  }),
);

// Admins: the same report with its details (client secrets that expired or expire soon).
app.http(
  'manage-health',
  endpoint({
    route: 'manage/health',
    methods: ['GET'],
    handler: async ({ services }) => json(200, await services.health.report()),
  }),
);
