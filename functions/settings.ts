import { app } from '@azure/functions';
import { settingsPatchSchema } from '../shared/settings/service.ts';
import { ifMatch, jsonWithEtag, readJson } from '../shared/web/body.ts';
import { endpoint } from '../shared/web/runtime.ts';

app.http(
  'settings-get',
  endpoint({
    route: 'manage/settings',
    methods: ['GET'],
    handler: async ({ services }) => {
      // Admins see the stored row, not this instance's short cache.
      const settings = await services.settings.read();
      return jsonWithEtag(200, settings);
    },
  }),
);

app.http(
  'settings-update',
  endpoint({
    route: 'manage/settings',
    methods: ['PATCH'],
    handler: async ({ request, services, principal, correlationId, clientAddress }) => {
      const patch = await readJson(request, settingsPatchSchema, 32 * 1024);
      const settings = await services.settings.update(
        patch,
        ifMatch(request),
        { actor: principal?.name ?? 'unknown', correlationId, clientAddress },
        principal,
      );
      return jsonWithEtag(200, settings);
    },
  }),
);
