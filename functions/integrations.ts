import {
  createIntegrationSchema,
  INTEGRATION_BODY_LIMIT,
  patchIntegrationSchema,
  rotateSecretSchema,
} from '../shared/integrations/schemas.ts';
import { jsonWithEtag, readJson } from '../shared/web/body.ts';
import { ResourceRoutes } from '../shared/web/resource-routes.ts';

new ResourceRoutes({
  plural: 'integrations',
  param: 'id',
  bodyLimit: INTEGRATION_BODY_LIMIT,
  createSchema: createIntegrationSchema,
  patchSchema: patchIntegrationSchema,
  service: (services) => services.integrations,
  idOf: (created) => created.id,
})
  .registerCrud()
  .change('rotate-secret', '/client-secret', 'PUT', async (rc, a) => {
    const input = await readJson(rc.request, rotateSecretSchema, INTEGRATION_BODY_LIMIT);
    const rotated = await rc.services.integrations.rotateSecret(
      a.id,
      input,
      a.ifMatch,
      a.actor,
      a.ctx,
      a.caller,
    );
    return jsonWithEtag(200, rotated);
  })
  .change('activate', '/activate', 'POST', async (rc, a) =>
    jsonWithEtag(200, await rc.services.integrations.activate(a.id, a.ifMatch, a.actor, a.ctx, a.caller)),
  )
  .change('deactivate', '/deactivate', 'POST', async (rc, a) =>
    jsonWithEtag(200, await rc.services.integrations.deactivate(a.id, a.ifMatch, a.actor, a.ctx)),
  );
