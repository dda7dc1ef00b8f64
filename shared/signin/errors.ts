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

/**
 * A first Entra sign-in whose account matched no user: what was compared, for the user's page (the
 * account they themselves just signed in with at Entra) and, without the account, for the audit.
 */
export interface AccountMismatch {
  /** The integration's match claim: the ID token claim compared with the user's username and email. */
  matchClaim: 'preferred_username' | 'email' | 'upn';
  /** That claim's value: the account Entra returned. Shown to this user only, never audited. */
  returnedAccount: string;
  /** Whether the user the sign-in was for has no email (so only the username could match); null when no user was named. */
  userEmailEmpty: boolean | null;
}

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
      mismatch?: AccountMismatch;
    } = {},
  ) {
    super(status, reason, `sign-in failed: ${reason}`, opts.headers ? { headers: opts.headers } : {});
    this.username = opts.username ?? null;
    this.integrationId = opts.integrationId ?? null;
    this.returnTo = opts.returnTo ?? null;
    this.mismatch = opts.mismatch ?? null;
  }
  readonly mismatch: AccountMismatch | null;
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
