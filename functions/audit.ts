import { app } from '@azure/functions';
import { auditQuerySchema } from '../shared/audit/query.ts';
import { json, parseWith, queryObject } from '../shared/web/body.ts';
import { endpoint } from '../shared/web/runtime.ts';

app.http(
  'audit-list',
  endpoint({
    route: 'manage/audit',
    methods: ['GET'],
    handler: async ({ request, services }) => {
      const q = parseWith(auditQuerySchema, queryObject(request));
      return json(200, await services.auditQuery.list(q));
    },
  }),
);
