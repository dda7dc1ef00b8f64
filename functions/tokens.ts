import { app } from '@azure/functions';
import { createTokenSchema } from '../shared/admin/tokens.ts';
import { json, noContent, readJson } from '../shared/web/body.ts';
import { actorOf, changeContextOf } from '../shared/web/endpoint.ts';
import { endpoint } from '../shared/web/runtime.ts';

app.http(
  'tokens-list',
  endpoint({
    route: 'manage/tokens',
    methods: ['GET'],
    handler: async ({ services }) => {
      const items = await services.adminTokens.list();
      return json(200, {
        items: items.map(({ id, name, createdAt, expiresAt, lastUsedAt, createdBy }) => ({
          id,
          name,
          createdAt,
          expiresAt,
          lastUsedAt,
          createdBy,
        })),
      });
    },
  }),
);

app.http(
  'tokens-create',
  endpoint({
    route: 'manage/tokens',
    methods: ['POST'],
    handler: async (rc) => {
      const input = await readJson(rc.request, createTokenSchema, 2048);
      return json(201, await rc.services.adminTokens.issue(input, rc.principal, changeContextOf(rc)));
    },
  }),
);

app.http(
  'tokens-revoke',
  endpoint({
    route: 'manage/tokens/{id}',
    methods: ['DELETE'],
    handler: async (rc) => {
      await rc.services.adminTokens.revoke(rc.request.params.id ?? '', actorOf(rc), changeContextOf(rc));
      return noContent();
    },
  }),
);
