import { app } from '@azure/functions';
import { json } from '../shared/http/body.ts';
import { endpoint } from '../shared/http/endpoint.ts';

app.http(
  'health',
  endpoint({
    route: 'health',
    methods: ['GET'],
    handler: async ({ services }) => {
      const report = await services.health.report();
      return json(report.status === 'ok' ? 200 : 503, report);
    },
  }),
);
