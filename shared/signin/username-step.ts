/**
 * The username step (home-realm discovery): a user of an active integration goes to Entra (or
 * chooses, when a password is allowed too); everyone else, known or not, gets the password step,
 * so the answer never tells whether an account exists.
 */

import type { EntraRedirect, EntraStart } from './entra-start.ts';
import { SignInError } from './errors.ts';
import { normaliseUsername, type RequestInfo } from './input.ts';
import type { IntegrationAccess } from './integration-access.ts';
import type { SettingsReader, SignInIntegration, UserDirectory } from './ports.ts';

export type LoginStepResult =
  | ({ kind: 'redirect' } & EntraRedirect)
  | { kind: 'password'; username: string; returnTo: string | null }
  | { kind: 'choice'; username: string; title: string; returnTo: string | null };

export class UsernameStep {
  constructor(
    private readonly d: {
      users: UserDirectory;
      settings: SettingsReader;
      integrations: IntegrationAccess;
      entra: EntraStart;
    },
  ) {}

  async next(
    usernameRaw: string,
    returnTo: string | null,
    method: 'entra' | 'password' | undefined,
    info: RequestInfo,
    opts: { reauthenticate?: boolean } = {},
  ): Promise<LoginStepResult> {
    // This address's start slot is taken while the user is read (one round trip); it is given back
    // when the step does not send the browser to Entra.
    const slot = this.d.entra.takeSlot(info);
    let redirected = false;
    try {
      const step = await this.stepFor(
        usernameRaw,
        returnTo,
        method,
        async () => {
          redirected = true;
          await this.d.entra.allowed(await slot);
        },
        opts.reauthenticate === true,
      );
      return step;
    } finally {
      if (!redirected) this.d.entra.releaseSlot(slot);
    }
  }

  private async stepFor(
    usernameRaw: string,
    returnTo: string | null,
    method: 'entra' | 'password' | undefined,
    beforeRedirect: () => Promise<void>,
    reauthenticate: boolean,
  ): Promise<LoginStepResult> {
    const username = normaliseUsername(usernameRaw);
    // Together: the settings are cached per instance, but a stale cache must not add a round trip.
    const [user, settings] = await Promise.all([this.d.users.getByUsername(username), this.d.settings.get()]);
    if (user && !user.disabled && user.verifyType.kind === 'integration') {
      const hasPasswordChoice = settings.allowOAuthPasswords && user.passwordHash !== null;
      if (method === 'password' && hasPasswordChoice) return { kind: 'password', username, returnTo };
      let integration: SignInIntegration;
      try {
        ({ integration } = await this.d.integrations.active(user.verifyType.integrationId, username));
      } catch (err) {
        // The user's integration is gone or inactive: the password when the user may use one, else a
        // page that says sign-in with the organisation is not available (not "link not valid").
        const missing = err instanceof SignInError && err.errorCase === 'integration_not_found';
        const inactive = err instanceof SignInError && err.errorCase === 'integration_unavailable';
        if (!missing && !inactive) throw err;
        if (hasPasswordChoice) return { kind: 'password', username, returnTo };
        throw new SignInError(
          'integration_unavailable',
          403,
          missing ? 'integration_missing' : 'integration_inactive',
          {
            username,
            integrationId: user.verifyType.integrationId,
            returnTo,
          },
        );
      }
      if (hasPasswordChoice && method !== 'entra') {
        return { kind: 'choice', username, title: integration.title, returnTo };
      }
      await beforeRedirect();
      return {
        kind: 'redirect',
        ...(await this.d.entra.redirect(integration, username, returnTo, reauthenticate)),
      };
    }
    // Password users, unknown users and disabled users all get the password step (no enumeration).
    return { kind: 'password', username, returnTo };
  }
}
