/**
 * An integration's second credential: add it (pending), test it and make it current, or remove it.
 * Sign-ins use the current credential throughout, so a switch of kind loses none.
 */
import { app } from '@azure/functions';
import { addCredentialSchema, INTEGRATION_BODY_LIMIT } from '../shared/integrations/schemas.ts';
import { requireFreshAuthentication } from '../shared/web/admin-session.ts';
import { ifMatch, jsonWithEtag, readJson } from '../shared/web/body.ts';
import { actorOf, changeContextOf, endpoint, type RequestContext } from '../shared/web/endpoint.ts';

const idOf = (rc: RequestContext) => rc.request.params.id ?? '';

app.http(
  'integrations-credential-add',
  endpoint({
    route: 'manage/integrations/{id}/credentials',
    methods: ['POST'],
    handler: async (rc) => {
      const condition = ifMatch(rc.request);
      const input = await readJson(rc.request, addCredentialSchema, INTEGRATION_BODY_LIMIT);
      // AD5: a credential decides who can act as the app registration.
      requireFreshAuthentication(rc.principal, rc.services.clock);
      const result = await rc.services.integrations.addCredential(
        idOf(rc),
        input,
        condition,
        actorOf(rc),
        changeContextOf(rc),
      );
      return jsonWithEtag(200, result);
    },
  }),
);

app.http(
  'integrations-credential-promote',
  endpoint({
    route: 'manage/integrations/{id}/credentials/promote',
    methods: ['POST'],
    handler: async (rc) => {
      requireFreshAuthentication(rc.principal, rc.services.clock);
      const result = await rc.services.integrations.promoteCredential(
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
  'integrations-credential-remove-pending',
  endpoint({
    route: 'manage/integrations/{id}/credentials/pending',
    methods: ['DELETE'],
    handler: async (rc) => {
      const result = await rc.services.integrations.removePendingCredential(
        idOf(rc),
        ifMatch(rc.request),
        actorOf(rc),
        changeContextOf(rc),
      );
      return jsonWithEtag(200, result);
    },
  }),
);
