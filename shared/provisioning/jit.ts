import type { AuditLog } from '../audit/log.ts';
import { BrokerError } from '../core/errors.ts';
import type { EntraIdentity } from '../signin/id-token.ts';
import type { SignInUser } from '../signin/ports.ts';
import { usernameSchema } from '../users/schemas.ts';
import type { UserService } from '../users/service.ts';
import type { ProvisioningStore } from './store.ts';

/**
 * Just-in-time creation (per integration, off by default): an Entra user who signs in for the first
 * time through an integration with `jitProvisioning` on, from a tenant the integration allows (the
 * ID token's checks have made sure of that), and whom no broker user matches, is created as SCIM
 * would: username from the integration's match claim (under the management API's rules), verify
 * type the integration, bound at once to (tid, oid); the email only when Entra marks its domain
 * verified. Audited with actor `jit:<integrationId>`.
 */
export class JustInTimeProvisioner {
  constructor(
    private readonly users: UserService,
    private readonly store: ProvisioningStore,
    private readonly audit: AuditLog,
  ) {}

  async create(
    identity: EntraIdentity,
    integrationId: string,
    claim: string,
  ): Promise<SignInUser | undefined> {
    const config = await this.store.getConfig(integrationId);
    if (config?.jitProvisioning !== true) return undefined;
    const name = usernameSchema.safeParse(claim);
    if (!name.success) return undefined;
    const username = name.data;
    const ctx = { actor: `jit:${integrationId}` };
    try {
      await this.users.create(
        {
          username,
          ...(identity.name ? { displayName: identity.name.slice(0, 200) } : {}),
          ...(identity.email && identity.emailDomainVerified ? { email: identity.email } : {}),
          verifyType: { integrationId },
        },
        ctx,
      );
    } catch (err) {
      // Taken meanwhile (another sign-in of the same person, an admin, SCIM) or refused by a rule:
      // no account is created, and the sign-in fails as for any unknown user.
      if (err instanceof BrokerError && err.status < 500) return undefined;
      throw err;
    }
    try {
      const created = await this.users.requireRecord(username);
      const bound = await this.users.bind(
        username,
        { tenantId: identity.tenantId, objectId: identity.objectId },
        created.etag,
        ctx,
      );
      await this.audit.record({
        type: 'jit.user.created',
        actor: ctx.actor,
        target: `user:${username}`,
        changedFields: ['username', 'verifyType', 'entraBinding'],
        details: { tenantId: identity.tenantId, objectId: identity.objectId },
      });
      return bound;
    } catch (err) {
      await this.users.delete(username, undefined, ctx).catch(() => {});
      if (err instanceof BrokerError && err.status < 500) return undefined;
      throw err;
    }
  }
}
