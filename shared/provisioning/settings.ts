import type { Caller } from '../admin/caller.ts';
import { requireRecentSignIn } from '../admin/fresh-sign-in.ts';
import type { AuditLog, ChangeContext } from '../audit/log.ts';
import type { Clock } from '../core/clock.ts';
import { ConflictError, NotFoundError, ValidationError } from '../core/errors.ts';
import type {
  EnableProvisioningInput,
  PatchProvisioningInput,
  ProvisioningSecret,
  ProvisioningView,
} from './schemas.ts';
import type { ConfigEntity, ProvisioningStore } from './store.ts';
import { newToken } from './token.ts';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** What provisioning needs to know of an integration. */
export interface IntegrationFacts {
  get(id: string): Promise<{ id: string; tenant: string; allowedTenants: string[] }>;
}

export interface ProvisioningSettingsDeps {
  store: ProvisioningStore;
  integrations: IntegrationFacts;
  audit: AuditLog;
  clock: Clock;
  /** `{BROKER_PUBLIC_BASE_URL}/api/scim/v2`: Entra's "Tenant URL". */
  tenantUrl: string;
}

export function parseGroupRoles(json: string | undefined): Record<string, string> {
  if (!json) return {};
  try {
    const v = JSON.parse(json) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, string>) : {};
  } catch {
    return {};
  }
}

/**
 * Turning provisioning on and off per integration (`/api/manage/integrations/{id}/provisioning`):
 * the secret token (shown once, stored as a hash; rotating replaces it, turning off forgets it), the
 * tenant users are bound in, `groupRoles` and just-in-time creation. Every change is audited.
 */
export class ProvisioningSettings {
  constructor(private readonly d: ProvisioningSettingsDeps) {}

  private now() {
    return new Date(this.d.clock.now()).toISOString();
  }

  toView(e: ConfigEntity | undefined): ProvisioningView {
    return {
      provisioning: e?.createdAt
        ? {
            enabled: e.enabled === true && !!e.tokenHash,
            tenantUrl: this.d.tenantUrl,
            tenantId: e.tenantId || null,
            lastRequestAt: e.lastRequestAt || null,
            lastOutcome: e.lastOutcome || null,
          }
        : null,
      groupRoles: parseGroupRoles(e?.groupRoles),
      jitProvisioning: e?.jitProvisioning === true,
    };
  }

  async view(integrationId: string): Promise<ProvisioningView> {
    return this.toView(await this.d.store.getConfig(integrationId));
  }

  /** Every integration's view in one partition read (the integration listing). */
  async views(): Promise<Map<string, ProvisioningView>> {
    const out = new Map<string, ProvisioningView>();
    for (const e of await this.d.store.listConfigs()) out.set(e.rowKey, this.toView(e));
    return out;
  }

  /** The tenant users are bound in: given, else the integration's tenant id, else its one allowed tenant. */
  private async tenantFor(integrationId: string, given: string | undefined, current?: string) {
    const integration = await this.d.integrations.get(integrationId);
    if (given) return given.toLowerCase();
    if (current) return current;
    if (GUID.test(integration.tenant)) return integration.tenant.toLowerCase();
    if (integration.allowedTenants.length === 1) return integration.allowedTenants[0] as string;
    throw new ValidationError([
      {
        field: 'tenantId',
        message:
          "is required: the integration's tenant is not a tenant id; give the id of the tenant Entra provisions from",
      },
    ]);
  }

  async enable(
    integrationId: string,
    input: EnableProvisioningInput,
    actor: string,
    ctx: ChangeContext,
    caller?: Caller,
  ): Promise<ProvisioningSecret & ProvisioningView> {
    // AD5: a credential that creates and disables users needs a recent sign-in with a session.
    requireRecentSignIn(caller, this.d.clock);
    const current = await this.d.store.getConfig(integrationId);
    const tenantId = await this.tenantFor(integrationId, input.tenantId, current?.tenantId);
    const { token, hash } = newToken(integrationId);
    const now = this.now();
    await this.d.store.upsertConfig(integrationId, {
      tokenHash: hash,
      tokenCreatedAt: now,
      enabled: true,
      tenantId,
      ...(input.groupRoles ? { groupRoles: JSON.stringify(input.groupRoles) } : {}),
      ...(input.jitProvisioning !== undefined ? { jitProvisioning: input.jitProvisioning } : {}),
      createdAt: current?.createdAt || now,
      updatedAt: now,
    });
    await this.d.audit.record({
      type: 'admin.integration.provisioning_enabled',
      actor,
      target: `integration:${integrationId}`,
      changedFields: ['provisioning', ...Object.keys(input)].sort(),
      correlationId: ctx.correlationId,
      clientAddress: ctx.clientAddress,
      securityRelevant: true,
      details: { tenantId, tokenReplaced: !!current?.tokenHash },
    });
    return { tenantUrl: this.d.tenantUrl, secretToken: token, ...(await this.view(integrationId)) };
  }

  async rotate(
    integrationId: string,
    actor: string,
    ctx: ChangeContext,
    caller?: Caller,
  ): Promise<ProvisioningSecret & ProvisioningView> {
    requireRecentSignIn(caller, this.d.clock);
    await this.d.integrations.get(integrationId);
    const current = await this.d.store.getConfig(integrationId);
    if (!current?.enabled || !current.tokenHash) {
      throw new ConflictError(
        'Provisioning is off for this integration; turn it on first.',
        'provisioning_off',
      );
    }
    const { token, hash } = newToken(integrationId);
    const now = this.now();
    // Conditional on the row read: a concurrent turn-off is not undone by a rotation.
    await this.d.store.upsertConfig(
      integrationId,
      { tokenHash: hash, tokenCreatedAt: now, updatedAt: now },
      current.etag,
    );
    await this.d.audit.record({
      type: 'admin.integration.provisioning_token_rotated',
      actor,
      target: `integration:${integrationId}`,
      changedFields: ['provisioning.secretToken'],
      correlationId: ctx.correlationId,
      clientAddress: ctx.clientAddress,
      securityRelevant: true,
    });
    return { tenantUrl: this.d.tenantUrl, secretToken: token, ...(await this.view(integrationId)) };
  }

  async disable(integrationId: string, actor: string, ctx: ChangeContext): Promise<void> {
    await this.d.integrations.get(integrationId);
    const current = await this.d.store.getConfig(integrationId);
    if (!current)
      throw new NotFoundError('Provisioning was never turned on for this integration.', 'provisioning_off');
    const { etag: _e, partitionKey: _p, rowKey: _r, tokenHash: _h, tokenCreatedAt: _t, ...rest } = current;
    await this.d.store.replaceConfig(
      integrationId,
      { ...rest, enabled: false, updatedAt: this.now() },
      current.etag,
    );
    await this.d.audit.record({
      type: 'admin.integration.provisioning_disabled',
      actor,
      target: `integration:${integrationId}`,
      changedFields: ['provisioning'],
      correlationId: ctx.correlationId,
      clientAddress: ctx.clientAddress,
    });
  }

  async update(
    integrationId: string,
    input: PatchProvisioningInput,
    actor: string,
    ctx: ChangeContext,
    caller?: Caller,
  ): Promise<ProvisioningView> {
    // Group roles decide what applications see: the same rule as granting roles.
    requireRecentSignIn(caller, this.d.clock);
    const current = await this.d.store.getConfig(integrationId);
    const tenantId =
      input.tenantId !== undefined ? await this.tenantFor(integrationId, input.tenantId) : undefined;
    if (tenantId === undefined) await this.d.integrations.get(integrationId);
    const now = this.now();
    await this.d.store.upsertConfig(integrationId, {
      ...(tenantId ? { tenantId } : {}),
      ...(input.groupRoles ? { groupRoles: JSON.stringify(input.groupRoles) } : {}),
      ...(input.jitProvisioning !== undefined ? { jitProvisioning: input.jitProvisioning } : {}),
      enabled: current?.enabled === true,
      createdAt: current?.createdAt || now,
      updatedAt: now,
    });
    await this.d.audit.record({
      type: 'admin.integration.provisioning_updated',
      actor,
      target: `integration:${integrationId}`,
      changedFields: Object.keys(input).sort(),
      correlationId: ctx.correlationId,
      clientAddress: ctx.clientAddress,
      // A group mapped to the broker's admin role reaches applications' tokens.
      securityRelevant: Object.values(input.groupRoles ?? {}).includes('admin'),
    });
    return this.view(integrationId);
  }

  /** The integration is gone: forget its provisioning settings and token. */
  async forget(integrationId: string): Promise<void> {
    await this.d.store.deleteConfig(integrationId);
  }
}
