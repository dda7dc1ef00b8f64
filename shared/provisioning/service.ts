import type { TableClient } from '@azure/data-tables';
import type { AuditLog } from '../audit/log.ts';
import type { Clock } from '../core/clock.ts';
import type { Throttle } from '../limits/throttle.ts';
import type { UserService } from '../users/service.ts';
import { ScimAuthenticator } from './auth.ts';
import { ScimGroups } from './groups.ts';
import { JustInTimeProvisioner } from './jit.ts';
import { type IntegrationFacts, ProvisioningSettings } from './settings.ts';
import { ProvisioningStore } from './store.ts';
import { ScimUsers } from './users.ts';

export type { ScimCaller } from './auth.ts';

export interface ProvisioningDeps {
  table: TableClient;
  users: UserService;
  integrations: IntegrationFacts;
  throttle: Throttle;
  audit: AuditLog;
  clock: Clock;
  publicBaseUrl: string;
}

/**
 * Provisioning from Entra (SCIM 2.0), per integration: the settings behind
 * /api/manage/integrations/{id}/provisioning, the token check of /api/scim/v2, and its Users and
 * Groups. The SCIM protocol itself (parsing, Entra's dialect, documents) is shared/scim's.
 */
export class ProvisioningService {
  readonly store: ProvisioningStore;
  readonly settings: ProvisioningSettings;
  readonly auth: ScimAuthenticator;
  readonly users: ScimUsers;
  readonly groups: ScimGroups;
  readonly jit: JustInTimeProvisioner;
  readonly baseUrl: string;

  constructor(d: ProvisioningDeps) {
    this.baseUrl = `${d.publicBaseUrl.replace(/\/+$/, '')}/api/scim/v2`;
    this.store = new ProvisioningStore(d.table);
    this.settings = new ProvisioningSettings({
      store: this.store,
      integrations: d.integrations,
      audit: d.audit,
      clock: d.clock,
      tenantUrl: this.baseUrl,
    });
    this.auth = new ScimAuthenticator(this.store, d.throttle, d.clock);
    const deps = { users: d.users, store: this.store, audit: d.audit, clock: d.clock, baseUrl: this.baseUrl };
    this.users = new ScimUsers(deps);
    this.groups = new ScimGroups(deps);
    this.jit = new JustInTimeProvisioner(d.users, this.store, d.audit);
  }
}
