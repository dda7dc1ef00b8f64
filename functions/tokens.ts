import { app } from '@azure/functions';
import { ownerKey } from '../shared/admin/auth.ts';
import { createTokenSchema } from '../shared/admin/tokens.ts';
import { requireFreshAuthentication } from '../shared/web/admin-session.ts';
import { json, noContent, readJson } from '../shared/web/body.ts';
import { endpoint } from '../shared/web/endpoint.ts';

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
    handler: async ({ request, services, principal, correlationId, clientAddress }) => {
      const input = await readJson(request, createTokenSchema, 2048);
      // AD5: an API token outlives the session that creates it: a recent sign-in is needed.
      requireFreshAuthentication(principal, services.clock);
      const actor = principal?.name ?? 'unknown';
      const created = await services.adminTokens.create(
        input,
        actor,
        // A token made by a session or by a token tied to an admin is tied to that admin too.
        (principal?.kind === 'session'
          ? ownerKey(principal.username, principal.userCreatedAt)
          : principal?.onBehalfOf) ?? undefined,
      );
      await services.audit.record({
        type: 'admin.token.created',
        actor,
        target: `token:${created.id}`,
        changedFields: ['name', 'expiresAt'],
        correlationId,
        clientAddress,
        details: { name: created.name },
      });
      return json(201, created);
    },
  }),
);

app.http(
  'tokens-revoke',
  endpoint({
    route: 'manage/tokens/{id}',
    methods: ['DELETE'],
    handler: async ({ request, services, principal, correlationId, clientAddress }) => {
      const id = request.params.id ?? '';
      await services.adminTokens.revoke(id);
      await services.audit.record({
        type: 'admin.token.revoked',
        actor: principal?.name ?? 'unknown',
        target: `token:${id}`,
        correlationId,
        clientAddress,
      });
      return noContent();
    },
  }),
);
