import type { Clock } from '../core/clock.ts';
import { TooManyRequestsError, UnauthorizedError } from '../core/errors.ts';
import { addressBucket, type FailurePolicy, type Throttle } from '../limits/throttle.ts';
import { parseGroupRoles } from './settings.ts';
import type { ProvisioningStore } from './store.ts';
import { parseToken, secretMatches } from './token.ts';

/** The integration an authenticated SCIM request acts for. */
export interface ScimCaller {
  integrationId: string;
  /** The Entra tenant its users are bound in. */
  tenantId: string | null;
  groupRoles: Record<string, string>;
  jitProvisioning: boolean;
  /** The audit actor: `scim:<integrationId>`. */
  actor: string;
}

/** Wrong provisioning tokens per client address before backing off: the admin tokens' policy. */
export const SCIM_AUTH_FAILURES: FailurePolicy = {
  freeAttempts: 50,
  windowMs: 10 * 60_000,
  baseBlockMs: 10_000,
  maxBlockMs: 15 * 60_000,
};

/** lastRequestAt is written at most this often per integration (an unchanged outcome). */
const LAST_REQUEST_RESOLUTION_MS = 60_000;

/**
 * Authenticates a SCIM request by its bearer token (docs/security.md SP1, SP2): the token names its
 * integration, whose one row is read; the secret's hash is compared in constant time. A wrong token
 * writes nothing but the address's failure counter (shared by all instances, like admin tokens'), and
 * an address over the limit is refused before any lookup.
 */
export class ScimAuthenticator {
  private readonly lastWrites = new Map<string, { at: number; outcome: string }>();

  constructor(
    private readonly store: ProvisioningStore,
    private readonly throttle: Throttle,
    private readonly clock: Clock,
  ) {}

  async authenticate(authorization: string | null, clientAddress: string): Promise<ScimCaller> {
    const bucket = addressBucket(clientAddress);
    const blocked = await this.throttle.state('scim-auth', bucket);
    if (blocked.blocked) throw new TooManyRequestsError(blocked.retryAfterSeconds);
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    // No credential at all is no guess: not counted, so anonymous traffic cannot block Entra.
    if (!m?.[1]) throw new UnauthorizedError('A bearer token is required.', 'missing_credentials');
    const parsed = parseToken(m[1]);
    const config = parsed ? await this.store.getConfig(parsed.integrationId) : undefined;
    if (!parsed || !config?.enabled || !config.tokenHash || !secretMatches(parsed.secret, config.tokenHash)) {
      await this.throttle.recordFailure('scim-auth', bucket, SCIM_AUTH_FAILURES);
      throw new UnauthorizedError('The token is not valid.', 'invalid_token');
    }
    return {
      integrationId: parsed.integrationId,
      tenantId: config.tenantId || null,
      groupRoles: parseGroupRoles(config.groupRoles),
      jitProvisioning: config.jitProvisioning === true,
      actor: `scim:${parsed.integrationId}`,
    };
  }

  /**
   * The time and outcome of the integration's last request, for the console: written when the
   * outcome changes and otherwise at most once a minute per instance, so a provisioning cycle does
   * not cost a write per request.
   */
  async recordRequest(integrationId: string, outcome: string): Promise<void> {
    const now = this.clock.now();
    const last = this.lastWrites.get(integrationId);
    if (last && last.outcome === outcome && now - last.at < LAST_REQUEST_RESOLUTION_MS) return;
    this.lastWrites.set(integrationId, { at: now, outcome });
    await this.store.upsertConfig(integrationId, {
      lastRequestAt: new Date(now).toISOString(),
      lastOutcome: outcome,
    });
  }
}
