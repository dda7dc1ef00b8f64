/**
 * Sending a browser to Entra: the per-address start limit (docs/security.md RL1), a new login transaction (it travels
 * sealed in its cookie: nothing is stored, nothing is sent to Entra) and the authorization URL.
 */
import type { Config } from '../core/config.ts';
import type { Slot, SlotLimiter } from '../limits/slots.ts';
import { addressBucket } from '../limits/throttle.ts';
import type { CookieToSet } from '../sessions/service.ts';
import { authorizeUrl } from './authorize-url.ts';
import { SignInError } from './errors.ts';
import type { RequestInfo } from './input.ts';
import type { IntegrationAccess } from './integration-access.ts';
import type { SignInIntegration } from './ports.ts';
import type { LoginTransactionStore } from './transactions.ts';

/** Sign-ins sent to Entra per client address per 10 minutes (docs/security.md RL1; nothing is stored, but each start reads a user). */
export const START_LIMIT = { limit: 30, windowMs: 10 * 60_000 };

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface EntraRedirect {
  location: string;
  cookie: CookieToSet;
}

export class EntraStart {
  constructor(
    private readonly d: {
      config: Pick<Config, 'BROKER_PUBLIC_BASE_URL' | 'BROKER_ENTRA_PUBLIC_AUTHORITY_HOST'>;
      slots: SlotLimiter;
      transactions: LoginTransactionStore;
      integrations: IntegrationAccess;
    },
  ) {}

  /** This address's start slot, taken at once (its round trip runs beside the caller's reads). */
  takeSlot(info: RequestInfo): Promise<Slot> {
    const slot = this.d.slots.take('start', addressBucket(info.clientAddress), START_LIMIT);
    slot.catch(() => {});
    return slot;
  }

  /** Gives a start slot back: the step did not send the browser to Entra. */
  releaseSlot(slot: Promise<Slot>): void {
    void slot.then(
      (s) => s.release?.(),
      () => undefined,
    );
  }

  /** 429 + Retry-After when this address has used its sign-in starts. */
  async allowed(slot: Slot): Promise<void> {
    if (!slot.blocked) return;
    throw new SignInError('throttled', 429, 'start_rate_limited', {
      headers: { 'Retry-After': String(slot.retryAfterSeconds) },
    });
  }

  /** The redirect to Entra and the cookie that carries its login transaction. */
  async redirect(
    integration: SignInIntegration,
    expectedUsername: string | null,
    returnTo: string | null,
    reauthenticate = false,
  ): Promise<EntraRedirect> {
    const tx = await this.d.transactions.create({
      integrationId: integration.id,
      expectedUsername,
      returnTo,
    });
    const location = authorizeUrl(integration, tx, {
      config: this.d.config,
      expectedUsername,
      reauthenticate,
    });
    return { location, cookie: tx.cookie };
  }

  /** IdP-first start: `GET /api/auth/login/{integrationId}`. */
  async idpFirst(integrationId: string, returnTo: string | null, info: RequestInfo): Promise<EntraRedirect> {
    if (!GUID.test(integrationId))
      throw new SignInError('integration_not_found', 404, 'integration_not_found');
    const slot = this.takeSlot(info);
    let integration: SignInIntegration;
    try {
      ({ integration } = await this.d.integrations.active(integrationId, null));
    } catch (err) {
      this.releaseSlot(slot);
      throw err;
    }
    await this.allowed(await slot);
    return this.redirect(integration, null, returnTo);
  }
}
