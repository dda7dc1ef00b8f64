/**
 * The APIs management API: resource servers that applications get JWT access tokens for
 * (`resource`, RFC 8707), with their scopes, the applications allowed to ask and the token lifetime.
 */
import { app } from '@azure/functions';
import { API_BODY_LIMIT, createApiSchema } from '../shared/apis/schemas.ts';
import { json, noContent, readJson } from '../shared/web/body.ts';
import { actorOf, changeContextOf } from '../shared/web/endpoint.ts';
import { endpoint } from '../shared/web/runtime.ts';

app.http(
  'apis-list',
  endpoint({
    route: 'manage/apis',
    methods: ['GET'],
    handler: async ({ services }) => json(200, { items: await services.apis.list() }),
  }),
);

app.http(
  'apis-create',
  endpoint({
    route: 'manage/apis',
    methods: ['POST'],
    handler: async (rc) => {
      const input = await readJson(rc.request, createApiSchema, API_BODY_LIMIT);
      return json(201, await rc.services.apis.create(input, actorOf(rc), changeContextOf(rc)));
    },
  }),
);

app.http(
  'apis-item',
  endpoint({
    route: 'manage/apis/{id}',
    methods: ['GET', 'DELETE'],
    handler: async (rc) => {
      const id = rc.request.params.id ?? '';
      if (rc.request.method === 'GET') return json(200, await rc.services.apis.get(id));
      await rc.services.apis.remove(id, actorOf(rc), changeContextOf(rc));
      return noContent();
    },
  }),
);
