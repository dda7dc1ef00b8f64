/**
 * The applications management API (issue 9): apps that sign their users in through the broker as
 * an OpenID Provider. The client secret value is answered once, by create and rotate, and is kept
 * only in Key Vault.
 */
import { app } from '@azure/functions';
import {
  APPLICATION_BODY_LIMIT,
  createApplicationSchema,
  patchApplicationSchema,
} from '../shared/applications/schemas.ts';
import { requireFreshAuthentication } from '../shared/web/admin-session.ts';
import { ifMatch, json, jsonWithEtag, noContent, readJson } from '../shared/web/body.ts';
import { actorOf, changeContextOf, endpoint, type RequestContext } from '../shared/web/endpoint.ts';

const clientIdOf = (rc: RequestContext) => rc.request.params.clientId ?? '';

app.http(
  'applications-list',
  endpoint({
    route: 'manage/applications',
    methods: ['GET'],
    handler: async ({ services }) => json(200, { items: await services.applications.list() }),
  }),
);

app.http(
  'applications-create',
  endpoint({
    route: 'manage/applications',
    methods: ['POST'],
    handler: async (rc) => {
      const input = await readJson(rc.request, createApplicationSchema, APPLICATION_BODY_LIMIT);
      // AD5: a new app decides where codes go and who may use it, as a change of those does.
      requireFreshAuthentication(rc.principal, rc.services.clock);
      const created = await rc.services.applications.create(input, actorOf(rc), changeContextOf(rc));
      return jsonWithEtag(201, created, { Location: `/api/manage/applications/${created.clientId}` });
    },
  }),
);

app.http(
  'applications-get',
  endpoint({
    route: 'manage/applications/{clientId}',
    methods: ['GET'],
    handler: async (rc) => jsonWithEtag(200, await rc.services.applications.get(clientIdOf(rc))),
  }),
);

app.http(
  'applications-update',
  endpoint({
    route: 'manage/applications/{clientId}',
    methods: ['PATCH'],
    handler: async (rc) => {
      const condition = ifMatch(rc.request);
      const patch = await readJson(rc.request, patchApplicationSchema, APPLICATION_BODY_LIMIT);
      // AD5: where an app's codes may be sent, and who may use it, need a recent sign-in with a session.
      if (patch.redirectUris !== undefined || patch.allowedRoles !== undefined) {
        requireFreshAuthentication(rc.principal, rc.services.clock);
      }
      const updated = await rc.services.applications.update(
        clientIdOf(rc),
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
  'applications-delete',
  endpoint({
    route: 'manage/applications/{clientId}',
    methods: ['DELETE'],
    handler: async (rc) => {
      await rc.services.applications.delete(
        clientIdOf(rc),
        ifMatch(rc.request),
        actorOf(rc),
        changeContextOf(rc),
      );
      return noContent();
    },
  }),
);

app.http(
  'applications-rotate-secret',
  endpoint({
    route: 'manage/applications/{clientId}/client-secret',
    methods: ['POST'],
    handler: async (rc) => {
      const condition = ifMatch(rc.request);
      // AD5: rotating a client secret with a browser session needs a recent sign-in.
      requireFreshAuthentication(rc.principal, rc.services.clock);
      const rotated = await rc.services.applications.rotateSecret(
        clientIdOf(rc),
        condition,
        actorOf(rc),
        changeContextOf(rc),
      );
      return jsonWithEtag(200, rotated);
    },
  }),
);
