import type { IntegrationService } from '../integrations/service.ts';
import type { ProvisioningView } from './schemas.ts';
import type { ProvisioningSettings } from './settings.ts';

type Svc = IntegrationService;

/**
 * The integrations' management routes with `provisioning`, `groupRoles` and `jitProvisioning` in
 * every Integration they answer (one extra point read, or one partition read for the list); a
 * deleted integration's provisioning settings and token go with it.
 */
export function withProvisioning(integrations: Svc, settings: ProvisioningSettings) {
  const add = async <T extends { id: string }>(i: T): Promise<T & ProvisioningView> => ({
    ...i,
    ...(await settings.view(i.id)),
  });
  return {
    async list() {
      const [items, views] = await Promise.all([integrations.list(), settings.views()]);
      const none = settings.toView(undefined);
      return items.map((i) => ({ ...i, ...(views.get(i.id) ?? none) }));
    },
    get: async (id: string) => add(await integrations.get(id)),
    create: async (...a: Parameters<Svc['create']>) => add(await integrations.create(...a)),
    update: async (...a: Parameters<Svc['update']>) => add(await integrations.update(...a)),
    async delete(...a: Parameters<Svc['delete']>) {
      await integrations.delete(...a);
      await settings.forget(a[0]);
    },
  };
}
