import { app } from '@azure/functions';
import { json } from '../shared/http/body.ts';
import { endpoint } from '../shared/http/endpoint.ts';
import { openApiDocument } from '../shared/openapi.ts';

app.http(
  'openapi',
  endpoint({
    route: 'manage/openapi.json',
    methods: ['GET'],
    handler: async () => json(200, openApiDocument()),
  }),
);
