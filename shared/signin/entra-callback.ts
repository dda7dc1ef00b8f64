/**
 * The Entra callback: the login transaction from its cookie, used once (docs/security.md CB1), the
 * per-address callback limit (RL1), the code redeemed, the ID token checked (the only proof of who
 * signed in, CB10), the account matched, the session issued.
 */
import type { SlotLimiter } from '../limits/slots.ts';
import { addressBucket } from '../limits/throttle.ts';
import type { AccountMatcher } from './account-matching.ts';
import type { SignedIn, SignInCompletion } from './completion.ts';
import { type FailureContext, SignInError, type SignInErrorCase } from './errors.ts';
import { type EntraIdentity, IdTokenError, type IdTokenValidator } from './id-token.ts';
import type { RequestInfo } from './input.ts';
import type { IntegrationAccess } from './integration-access.ts';
import type { SettingsReader, SignInIntegration, UserDirectory } from './ports.ts';
import type { CodeRedemption } from './redemption.ts';
import type { TenantIds } from './tenant-ids.ts';
import { type LoginTransaction, type LoginTransactionStore, TransactionError } from './transactions.ts';

/** Callbacks per client address per 10 minutes (docs/security.md RL1). */
export const CALLBACK_LIMIT = { limit: 60, windowMs: 10 * 60_000 };

export interface CallbackQuery {
  code?: string;
  state?: string;
  error?: string;
}

export class EntraCallback {
  constructor(
    private readonly d: {
      users: UserDirectory;
      settings: SettingsReader;
      slots: SlotLimiter;
      transactions: LoginTransactionStore;
      integrations: IntegrationAccess;
      redemption: CodeRedemption;
      idTokens: IdTokenValidator;
      tenantIds: TenantIds;
      accounts: AccountMatcher;
      completion: SignInCompletion;
    },
  ) {}

  async handle(
    query: CallbackQuery,
    sealedTransaction: (state: string) => string | undefined,
    info: RequestInfo,
  ): Promise<SignedIn> {
    if (!query.state) throw new SignInError('invalid_callback', 400, 'missing_state');
    const state = query.state;
    let tx: LoginTransaction;
    try {
      tx = await this.d.transactions.open(state, sealedTransaction(state));
    } catch (err) {
      throw transactionFailure(err);
    }
    const ctx = { username: tx.expectedUsername, integrationId: tx.integrationId, returnTo: tx.returnTo };
    if (query.error) {
      throw new SignInError(entraErrorCase(query.error), 400, `idp_${safeErrorCode(query.error)}`, ctx);
    }
    if (!query.code) throw new SignInError('invalid_callback', 400, 'missing_code', ctx);
    // One round before anything reaches Entra, together: this address's callback slot (docs/security.md RL1, holds
    // under bursts), the single use of the state (docs/security.md CB1), and the expected user's row, which is needed
    // whatever Entra answers (so Entra's answer never waits for storage). The integration comes from
    // the per-instance cache (a miss reads it in the same round).
    const integrationP = this.d.integrations.active(tx.integrationId, tx.expectedUsername);
    const expected = tx.expectedUsername
      ? this.d.users.getByUsername(tx.expectedUsername)
      : Promise.resolve(undefined);
    // The settings (session lifetime, return origins) are needed at the end: a stale per-instance cache
    // is read again in this round, not after Entra.
    const settingsP = this.d.settings.get();
    // Awaited below, after the slot and the state: a refused callback must not leave them unhandled.
    integrationP.catch(() => {});
    expected.catch(() => {});
    settingsP.catch(() => {});
    const [slot, used] = await Promise.allSettled([
      this.d.slots.take('callback', addressBucket(info.clientAddress), CALLBACK_LIMIT),
      this.d.transactions.markUsed(state),
    ]);
    if (slot.status === 'rejected') throw slot.reason;
    if (slot.value.blocked) {
      throw new SignInError('throttled', 429, 'callback_rate_limited', {
        headers: { 'Retry-After': String(slot.value.retryAfterSeconds) },
      });
    }
    if (used.status === 'rejected') throw transactionFailure(used.reason);
    const { integration, clientSecret, credential } = await integrationP;

    const result = await this.d.redemption.redeem(
      integration,
      clientSecret,
      { code: query.code, state, verifier: tx.verifier, nonce: tx.nonce },
      ctx,
      credential,
    );
    // docs/security.md CB10: only the ID token proves who signed in; the access token is never looked at.
    const identity = await this.validateIdToken(result.idToken, integration, tx.nonce, ctx);
    const user = await this.d.accounts.match(
      identity,
      integration,
      tx.expectedUsername,
      tx.returnTo,
      await expected,
    );
    return this.d.completion.complete(
      user,
      'entra',
      integration.id,
      tx.returnTo,
      info,
      { integrationId: integration.id, tid: identity.tenantId, oid: identity.objectId },
      settingsP,
    );
  }

  private async validateIdToken(
    idToken: string,
    integration: SignInIntegration,
    nonce: string,
    ctx: FailureContext,
  ): Promise<EntraIdentity> {
    try {
      return await this.d.idTokens.validate(idToken, {
        cloud: integration.cloud,
        applicationId: integration.applicationId,
        allowedTenantIds: await this.d.tenantIds.allowed(integration),
        nonce,
      });
    } catch (err) {
      if (err instanceof IdTokenError)
        throw new SignInError('token_invalid', 400, `id_token_${err.reason}`, ctx);
      throw err;
    }
  }
}

/** A rejected login transaction as the page the browser gets (400; expiry has its own text). */
function transactionFailure(err: unknown): unknown {
  if (!(err instanceof TransactionError)) return err;
  return new SignInError(err.reason === 'expired' ? 'expired' : 'state_mismatch', 400, `state_${err.reason}`);
}

const ENTRA_ERRORS: Record<string, SignInErrorCase> = {
  access_denied: 'access_denied',
  consent_required: 'consent_required',
  interaction_required: 'interaction_required',
  login_required: 'login_required',
  temporarily_unavailable: 'temporarily_unavailable',
};

function entraErrorCase(error: string): SignInErrorCase {
  return ENTRA_ERRORS[error] ?? 'idp_error';
}

/** An Entra `error` value reduced to a short, safe token for the audit record. */
function safeErrorCode(error: string): string {
  return /^[a-z_]{1,40}$/.test(error) ? error : 'other';
}
