import {
  addCredentialSchema,
  createIntegrationSchema,
  INTEGRATION_BODY_LIMIT,
  patchIntegrationSchema,
  rotateSecretSchema,
} from '../shared/integrations/schemas.ts';
import { withProvisioning } from '../shared/provisioning/integration-view.ts';
import { jsonWithEtag, readJson } from '../shared/web/body.ts';
import { ResourceRoutes } from '../shared/web/resource-routes.ts';

new ResourceRoutes({
  plural: 'integrations',
  param: 'id',
  bodyLimit: INTEGRATION_BODY_LIMIT,
  createSchema: createIntegrationSchema,
  patchSchema: patchIntegrationSchema,
  service: (services) => withProvisioning(services.integrations, services.provisioning.settings),
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
  )
  // A second credential: added (pending), then made current by a passing test, or removed.
  .change('credential-add', '/credentials', 'POST', async (rc, a) => {
    const input = await readJson(rc.request, addCredentialSchema, INTEGRATION_BODY_LIMIT);
    const integrations = rc.services.integrations;
    return jsonWithEtag(
      200,
      await integrations.addCredential(a.id, input, a.ifMatch, a.actor, a.ctx, a.caller),
    );
  })
  .change('credential-promote', '/credentials/promote', 'POST', async (rc, a) =>
    jsonWithEtag(
      200,
      await rc.services.integrations.promoteCredential(a.id, a.ifMatch, a.actor, a.ctx, a.caller),
    ),
  )
  .change('credential-remove-pending', '/credentials/pending', 'DELETE', async (rc, a) =>
    jsonWithEtag(
      200,
      await rc.services.integrations.removePendingCredential(a.id, a.ifMatch, a.actor, a.ctx),
    ),
  );
