/**
 * The integration a sign-in goes through, read for it: a missing one, an inactive one and one that
 * cannot be read are three different pages (not found, not available, try again later).
 */
import { BrokerError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import { SignInError } from './errors.ts';
import type { IntegrationSource, SignInCredential, SignInIntegration } from './ports.ts';

export type ActiveIntegration = {
  integration: SignInIntegration;
  clientSecret: string;
  credential?: SignInCredential;
};

export class IntegrationAccess {
  constructor(
    private readonly integrations: IntegrationSource,
    private readonly log: Logger,
  ) {}

  /** The active integration `id` and its client secret; `refreshSecret` reads the secret again. */
  async active(
    id: string,
    username: string | null,
    opts: { refreshSecret?: boolean } = {},
  ): Promise<ActiveIntegration> {
    const ctx = { username, integrationId: id };
    let found: ActiveIntegration;
    try {
      found = await this.integrations.getForSignIn(id, opts);
    } catch (err) {
      if (err instanceof BrokerError && err.status === 404) {
        throw new SignInError('integration_not_found', 404, 'integration_not_found', ctx);
      }
      if (err instanceof BrokerError && err.code === 'integration_inactive') {
        throw new SignInError('integration_unavailable', 403, 'integration_inactive', ctx);
      }
      // Storage or Key Vault trouble is not "inactive": the visitor gets "try again later" (503).
      this.log.error('signin.integration_unavailable', { error: err, integrationId: id });
      throw new SignInError('unavailable', 503, 'integration_read_failed', ctx);
    }
    if (found.integration.status !== 'active') {
      throw new SignInError('integration_unavailable', 403, 'integration_inactive', ctx);
    }
    return found;
  }
}
