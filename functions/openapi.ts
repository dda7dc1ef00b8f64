import { app } from '@azure/functions';
import { json } from '../shared/web/body.ts';
import { endpoint } from '../shared/web/runtime.ts';

app.http(
  'openapi',
  endpoint({
    route: 'manage/openapi.json',
    methods: ['GET'],
    // Loaded on first use: the generator and the document's schemas stay out of the instance's
    // start-up (the bundle keeps the module lazily initialised).
    handler: async () => json(200, (await import('../shared/web/openapi.ts')).openApiDocument()),
  }),
);
