/** What the bench and its cold-start measurement seed: the Entra integration of the stand-in, active. */
import type { Services } from '../../shared/web/services.ts';
import { DEMO_ENTRA } from '../standins/entra.ts';

export async function createBenchIntegration(services: Services): Promise<{ id: string }> {
  const created = await services.integrations.create(
    {
      kind: 'azure-ad',
      title: 'Bench Entra',
      applicationId: DEMO_ENTRA.clientId,
      tenant: DEMO_ENTRA.tenantId,
      clientSecret: DEMO_ENTRA.clientSecret,
      cloud: 'public',
      matchClaim: 'preferred_username',
    },
    'bench',
  );
  await services.integrations.activate(created.id, undefined, 'bench');
  return created;
}
