/**
 * The applications management API: apps that sign their users in through the broker as an OpenID
 * Provider. The client secret value is answered once, by create and rotate, and is kept only in
 * Key Vault.
 */
import {
  APPLICATION_BODY_LIMIT,
  createApplicationSchema,
  patchApplicationSchema,
} from '../shared/applications/schemas.ts';
import { jsonWithEtag } from '../shared/web/body.ts';
import { ResourceRoutes } from '../shared/web/resource-routes.ts';

new ResourceRoutes({
  plural: 'applications',
  param: 'clientId',
  bodyLimit: APPLICATION_BODY_LIMIT,
  createSchema: createApplicationSchema,
  patchSchema: patchApplicationSchema,
  service: (services) => services.applications,
  idOf: (created) => created.clientId,
})
  .registerCrud()
  .change('rotate-secret', '/client-secret', 'POST', async (rc, a) =>
    jsonWithEtag(200, await rc.services.applications.rotateSecret(a.id, a.ifMatch, a.actor, a.ctx, a.caller)),
  );
