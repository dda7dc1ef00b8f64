import { app } from '@azure/functions';
import { NotFoundError } from '../shared/core/errors.ts';
import {
  enableProvisioningSchema,
  PROVISIONING_BODY_LIMIT,
  patchProvisioningSchema,
} from '../shared/provisioning/schemas.ts';
import { INTEGRATION_ID_PATTERN } from '../shared/users/schemas.ts';
import { json, noContent, readJson } from '../shared/web/body.ts';
import { actorOf, changeContextOf, type RequestContext } from '../shared/web/endpoint.ts';
import { endpoint } from '../shared/web/runtime.ts';

/** The `{id}` route parameter; anything that cannot be an integration id is a 404 before any read. */
function idOf(rc: RequestContext): string {
  const id = rc.request.params.id ?? '';
  if (!INTEGRATION_ID_PATTERN.test(id))
    throw new NotFoundError('No integration with this id.', 'integration_not_found');
  return id;
}

/** An empty body means "no settings": POST …/provisioning may be sent without one. */
async function optionalBody(rc: RequestContext) {
  const length = rc.request.headers.get('content-length');
  if (!rc.request.headers.get('content-type') && (length === null || length === '0')) return {};
  return readJson(rc.request, enableProvisioningSchema, PROVISIONING_BODY_LIMIT);
}

// POST /api/manage/integrations/{id}/provisioning — turn on: {tenantUrl, secretToken}, the token shown once.
app.http(
  'provisioning-enable',
  endpoint({
    route: 'manage/integrations/{id}/provisioning',
    methods: ['POST'],
    handler: async (rc) => {
      const input = await optionalBody(rc);
      return json(
        201,
        await rc.services.provisioning.settings.enable(
          idOf(rc),
          input,
          actorOf(rc),
          changeContextOf(rc),
          rc.principal,
        ),
      );
    },
  }),
);

// PATCH /api/manage/integrations/{id}/provisioning — tenantId, groupRoles, jitProvisioning.
app.http(
  'provisioning-update',
  endpoint({
    route: 'manage/integrations/{id}/provisioning',
    methods: ['PATCH'],
    handler: async (rc) => {
      const input = await readJson(rc.request, patchProvisioningSchema, PROVISIONING_BODY_LIMIT);
      return json(
        200,
        await rc.services.provisioning.settings.update(
          idOf(rc),
          input,
          actorOf(rc),
          changeContextOf(rc),
          rc.principal,
        ),
      );
    },
  }),
);

// DELETE /api/manage/integrations/{id}/provisioning — turn off: the token is forgotten at once.
app.http(
  'provisioning-disable',
  endpoint({
    route: 'manage/integrations/{id}/provisioning',
    methods: ['DELETE'],
    handler: async (rc) => {
      await rc.services.provisioning.settings.disable(idOf(rc), actorOf(rc), changeContextOf(rc));
      return noContent();
    },
  }),
);

// POST /api/manage/integrations/{id}/provisioning/token — a new token (shown once); the old one stops.
app.http(
  'provisioning-rotate',
  endpoint({
    route: 'manage/integrations/{id}/provisioning/token',
    methods: ['POST'],
    handler: async (rc) => {
      return json(
        200,
        await rc.services.provisioning.settings.rotate(
          idOf(rc),
          actorOf(rc),
          changeContextOf(rc),
          rc.principal,
        ),
      );
    },
  }),
);
