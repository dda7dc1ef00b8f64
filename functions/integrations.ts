import { app } from '@azure/functions';
import {
  createIntegrationSchema,
  INTEGRATION_BODY_LIMIT,
  patchIntegrationSchema,
  rotateSecretSchema,
} from '../shared/integrations/schemas.ts';
import { requireFreshAuthentication } from '../shared/web/admin-session.ts';
import { ifMatch, json, jsonWithEtag, noContent, readJson } from '../shared/web/body.ts';
import { actorOf, changeContextOf, endpoint, type RequestContext } from '../shared/web/endpoint.ts';

const idOf = (rc: RequestContext) => rc.request.params.id ?? '';

app.http(
  'integrations-list',
  endpoint({
    route: 'manage/integrations',
    methods: ['GET'],
    handler: async ({ services }) => {
      const [items, provisioning] = await Promise.all([
        services.integrations.list(),
        services.provisioning.settings.views(),
      ]);
      const none = services.provisioning.settings.toView(undefined);
      return json(200, { items: items.map((i) => ({ ...i, ...(provisioning.get(i.id) ?? none) })) });
    },
  }),
);

app.http(
  'integrations-create',
  endpoint({
    route: 'manage/integrations',
    methods: ['POST'],
    handler: async (rc) => {
      const input = await readJson(rc.request, createIntegrationSchema, INTEGRATION_BODY_LIMIT);
      const created = await rc.services.integrations.create(input, actorOf(rc), changeContextOf(rc));
      return jsonWithEtag(201, created, { Location: `/api/manage/integrations/${created.id}` });
    },
  }),
);

app.http(
  'integrations-get',
  endpoint({
    route: 'manage/integrations/{id}',
    methods: ['GET'],
    handler: async (rc) => {
      const [integration, provisioning] = await Promise.all([
        rc.services.integrations.get(idOf(rc)),
        rc.services.provisioning.settings.view(idOf(rc)),
      ]);
      return jsonWithEtag(200, { ...integration, ...provisioning });
    },
  }),
);

app.http(
  'integrations-update',
  endpoint({
    route: 'manage/integrations/{id}',
    methods: ['PATCH'],
    handler: async (rc) => {
      const condition = ifMatch(rc.request);
      const patch = await readJson(rc.request, patchIntegrationSchema, INTEGRATION_BODY_LIMIT);
      // AD5: changes that decide who can sign in need a recent sign-in when made with a session.
      if (['applicationId', 'tenant', 'allowedTenants', 'cloud', 'matchClaim'].some((k) => k in patch)) {
        requireFreshAuthentication(rc.principal, rc.services.clock);
      }
      const updated = await rc.services.integrations.update(
        idOf(rc),
        patch,
        condition,
        actorOf(rc),
        changeContextOf(rc),
      );
      return jsonWithEtag(200, updated);
    },
  }),
);

app.http(
  'integrations-delete',
  endpoint({
    route: 'manage/integrations/{id}',
    methods: ['DELETE'],
    handler: async (rc) => {
      await rc.services.integrations.delete(idOf(rc), ifMatch(rc.request), actorOf(rc), changeContextOf(rc));
      // The integration's provisioning token dies with it.
      await rc.services.provisioning.settings.forget(idOf(rc));
      return noContent();
    },
  }),
);

app.http(
  'integrations-rotate-secret',
  endpoint({
    route: 'manage/integrations/{id}/client-secret',
    methods: ['PUT'],
    handler: async (rc) => {
      const condition = ifMatch(rc.request);
      const input = await readJson(rc.request, rotateSecretSchema, INTEGRATION_BODY_LIMIT);
      // AD5: rotating a client secret with a browser session needs a recent sign-in.
      requireFreshAuthentication(rc.principal, rc.services.clock);
      const rotated = await rc.services.integrations.rotateSecret(
        idOf(rc),
        input,
        condition,
        actorOf(rc),
        changeContextOf(rc),
      );
      return jsonWithEtag(200, rotated);
    },
  }),
);

app.http(
  'integrations-activate',
  endpoint({
    route: 'manage/integrations/{id}/activate',
    methods: ['POST'],
    handler: async (rc) => {
      requireFreshAuthentication(rc.principal, rc.services.clock);
      const result = await rc.services.integrations.activate(
        idOf(rc),
        ifMatch(rc.request),
        actorOf(rc),
        changeContextOf(rc),
      );
      return jsonWithEtag(200, result);
    },
  }),
);

app.http(
  'integrations-deactivate',
  endpoint({
    route: 'manage/integrations/{id}/deactivate',
    methods: ['POST'],
    handler: async (rc) => {
      const result = await rc.services.integrations.deactivate(
        idOf(rc),
        ifMatch(rc.request),
        actorOf(rc),
        changeContextOf(rc),
      );
      return jsonWithEtag(200, result);
    },
  }),
);
