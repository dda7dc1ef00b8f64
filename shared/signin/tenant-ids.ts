/**
 * The tenants an integration's ID tokens may come from, as GUIDs: `organizations` allows its list, a
 * GUID itself, and a domain-named tenant is resolved once per instance (the discovery call is a cold
 * path; a failed one is tried again on the next sign-in).
 */
import type { Config } from '../core/config.ts';
import { dependencyTimeoutMs } from '../core/dependency.ts';
import { authorityHost, type EntraCloud } from '../entra/authority.ts';
import { SignInError } from './errors.ts';
import type { SignInIntegration } from './ports.ts';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export type TenantResolver = (cloud: EntraCloud, domain: string) => Promise<string>;

export class TenantIds {
  private readonly resolved = new Map<string, Promise<string>>();
  private readonly resolve: TenantResolver;

  constructor(
    private readonly config: Pick<
      Config,
      'BROKER_ENTRA_PUBLIC_AUTHORITY_HOST' | 'BROKER_DEPENDENCY_TIMEOUT_MS' | 'BROKER_DEV_CREDENTIALS'
    >,
    resolve?: TenantResolver,
  ) {
    this.resolve = resolve ?? ((cloud, domain) => this.discover(cloud, domain));
  }

  async allowed(integration: SignInIntegration): Promise<string[]> {
    const tenant = integration.tenant.toLowerCase();
    if (tenant === 'organizations') return integration.allowedTenants.map((t) => t.toLowerCase());
    if (GUID.test(tenant)) return [tenant];
    const key = `${integration.cloud}:${tenant}`;
    let p = this.resolved.get(key);
    if (!p) {
      p = this.resolve(integration.cloud, tenant);
      p.catch(() => this.resolved.delete(key));
      this.resolved.set(key, p);
    }
    return [(await p).toLowerCase()];
  }

  /** A domain-named tenant's GUID, from its OpenID configuration's issuer. */
  private async discover(cloud: EntraCloud, domain: string): Promise<string> {
    const host = authorityHost(cloud, this.config);
    const res = await fetch(`${host}/${encodeURIComponent(domain)}/v2.0/.well-known/openid-configuration`, {
      signal: AbortSignal.timeout(dependencyTimeoutMs(this.config)),
    });
    if (!res.ok) throw new SignInError('unavailable', 503, 'tenant_discovery_failed');
    const issuer = String(((await res.json()) as { issuer?: unknown }).issuer ?? '');
    const m = /\/([0-9a-f-]{36})\/v2\.0\/?$/i.exec(issuer);
    if (!m?.[1] || !GUID.test(m[1])) throw new SignInError('unavailable', 503, 'tenant_discovery_failed');
    return m[1];
  }
}
