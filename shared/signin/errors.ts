/**
 * How a sign-in fails: a case the web layer turns into a fixed text (nothing from the identity
 * provider is ever shown), an HTTP status, and a stable reason for the audit record.
 */
import { BrokerError } from '../core/errors.ts';

export type SignInErrorCase =
  // Entra's own `error` answers on the callback
  | 'access_denied'
  | 'consent_required'
  | 'interaction_required'
  | 'login_required'
  | 'temporarily_unavailable'
  | 'idp_error'
  // the login transaction and the callback request
  | 'invalid_callback'
  | 'state_mismatch'
  | 'expired'
  // the integration, the code redemption and the ID token
  | 'integration_unavailable'
  | 'integration_not_found'
  | 'token_invalid'
  | 'redeem_failed'
  // the account
  | 'account_mismatch'
  | 'no_account'
  | 'account_disabled'
  | 'not_allowed'
  /** A password sign-in refused: unknown user, wrong password or method not allowed, alike (docs/security.md PW4). */
  | 'invalid_credentials'
  // limits and dependencies
  | 'throttled'
  | 'unavailable';

/** A sign-in that ends on an error page: a fixed text per case, a stable reason for the audit. */
export class SignInError extends BrokerError {
  constructor(
    readonly errorCase: SignInErrorCase,
    status: number,
    readonly reason: string,
    opts: {
      headers?: Record<string, string>;
      username?: string | null;
      integrationId?: string | null;
      /** An already allow-listed return URL, kept for the error page's "Start again" link (docs/security.md RU2). */
      returnTo?: string | null;
    } = {},
  ) {
    super(status, reason, `sign-in failed: ${reason}`, opts.headers ? { headers: opts.headers } : {});
    this.username = opts.username ?? null;
    this.integrationId = opts.integrationId ?? null;
    this.returnTo = opts.returnTo ?? null;
  }
  readonly username: string | null;
  readonly integrationId: string | null;
  readonly returnTo: string | null;
}

/** Who a failure concerns, for its audit record and its error page's "Start again" link. */
export interface FailureContext {
  username: string | null;
  integrationId: string;
  returnTo?: string | null;
}
