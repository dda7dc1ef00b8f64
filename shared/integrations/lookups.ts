import type { HealthWarning } from '../ops/health.ts';
import { credentialExpiresOn } from './credentials/kinds.ts';
import { currentCredential } from './credentials/manager.ts';
import { expiryWarnings } from './expiry.ts';
import { type IntegrationParts, loadIntegration } from './resource.ts';
import type { Integration } from './schemas.ts';
import { viewIntegration } from './views.ts';

export async function listIntegrations(deps: IntegrationParts): Promise<Integration[]> {
  const rows = await deps.store.list();
  return rows
    .sort((a, b) => a.title.localeCompare(b.title) || a.id.localeCompare(b.id))
    .map((r) => viewIntegration(deps, r));
}

export async function getIntegration(deps: IntegrationParts, id: string): Promise<Integration> {
  return viewIntegration(deps, await loadIntegration(deps.store, id));
}

/** Case-insensitive; undefined when no integration has that title. */
export async function findByTitle(deps: IntegrationParts, title: string): Promise<Integration | undefined> {
  if (typeof title !== 'string' || title.trim() === '' || title.length > 200) return undefined;
  const id = await deps.store.idForTitle(title.trim());
  if (!id) return undefined;
  const row = await deps.store.get(id);
  return row ? viewIntegration(deps, row) : undefined;
}

/** Health warnings: secrets that expired or expire within 30 days. */
export async function credentialExpiryWarnings(deps: IntegrationParts): Promise<HealthWarning[]> {
  const rows = await deps.store.list();
  return expiryWarnings(
    rows.map((r) => {
      const c = currentCredential(r);
      return {
        id: r.id,
        secretExpiresOn: credentialExpiresOn(c),
        credentialKind: c.kind === 'certificate' ? ('certificate' as const) : ('clientSecret' as const),
      };
    }),
    deps.clock.now(),
  );
}
