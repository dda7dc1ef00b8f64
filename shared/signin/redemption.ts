/**
 * Redeeming the authorization code at Entra. A "wrong secret" answer may only mean the secret was
 * rotated on another instance: the secret is read again once and the redemption retried.
 */
import type { AuthenticationResult } from '@azure/msal-node';
import type { Config } from '../core/config.ts';
import { dependencyTimeoutMs } from '../core/dependency.ts';
import type { Logger } from '../core/log.ts';
import { classifyEntraError } from '../entra/errors.ts';
import { withEntraTimeout } from '../entra/msal.ts';
import { callbackUri, SIGN_IN_SCOPES } from './authorize-url.ts';
import type { EntraClientCache } from './entra-clients.ts';
import { type FailureContext, SignInError } from './errors.ts';
import type { IntegrationAccess } from './integration-access.ts';
import type { SignInCredential, SignInIntegration } from './ports.ts';

export interface CodeGrant {
  code: string;
  state: string;
  verifier: string;
  nonce: string;
}

export class CodeRedemption {
  constructor(
    private readonly d: {
      config: Pick<
        Config,
        'BROKER_PUBLIC_BASE_URL' | 'BROKER_DEPENDENCY_TIMEOUT_MS' | 'BROKER_DEV_CREDENTIALS'
      >;
      log: Logger;
      entraClients: EntraClientCache;
      integrations: IntegrationAccess;
    },
  ) {}

  async redeem(
    integration: SignInIntegration,
    clientSecret: string,
    grant: CodeGrant,
    ctx: FailureContext,
    credential?: SignInCredential,
  ): Promise<AuthenticationResult> {
    try {
      return await this.attempt(clientSecret, integration, grant, ctx, credential);
    } catch (err) {
      if (err instanceof SignInError) throw err;
      const kind = classifyEntraError(err);
      if (kind.kind === 'wrong_secret') {
        // The secret may have been rotated on another instance: read it again once and retry.
        const fresh = await this.d.integrations.active(integration.id, ctx.username, { refreshSecret: true });
        try {
          return await this.attempt(fresh.clientSecret, fresh.integration, grant, ctx, fresh.credential);
        } catch (retryErr) {
          if (retryErr instanceof SignInError) throw retryErr;
          this.d.log.warn('signin.redeem_failed', {
            aadsts: classifyEntraError(retryErr).aadsts ?? null,
            retried: true,
          });
          throw new SignInError('redeem_failed', 502, 'redeem_wrong_secret', ctx);
        }
      }
      this.d.log.warn('signin.redeem_failed', { kind: kind.kind, aadsts: kind.aadsts ?? null });
      if (kind.kind === 'unreachable') throw new SignInError('unavailable', 503, 'idp_unreachable', ctx);
      throw new SignInError('redeem_failed', 400, `redeem_${kind.kind}`, ctx);
    }
  }

  private async attempt(
    secret: string,
    target: SignInIntegration,
    grant: CodeGrant,
    ctx: FailureContext,
    credential?: SignInCredential,
  ): Promise<AuthenticationResult> {
    const { code, state, verifier, nonce } = grant;
    const client = this.d.entraClients.get(target, secret, credential);
    const result = await withEntraTimeout(
      client.acquireTokenByCode(
        {
          code,
          redirectUri: callbackUri(this.d.config),
          codeVerifier: verifier,
          scopes: SIGN_IN_SCOPES,
          state,
          nonce,
        },
        { code, state },
      ),
      dependencyTimeoutMs(this.d.config),
    );
    // A long-lived instance must not keep every user's tokens (MSAL caches them per account).
    if (result?.account) await client.getTokenCache().removeAccount(result.account);
    if (!result?.idToken) throw new SignInError('redeem_failed', 502, 'no_id_token', ctx);
    return result;
  }
}
