/**
 * Login transactions (SECURITY.md LS1, LS3, CB1): state, nonce and PKCE verifier from a CSPRNG; the
 * transaction stored server-side under a hash of the state, bound to the browser by a `__Host-`
 * cookie, valid 10 minutes, and consumed exactly once with a conditional delete.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { TableClient } from '@azure/data-tables';
import type { Clock } from '../clock.ts';
import { getEntityOrUndefined, isNotFound, isPreconditionFailed } from '../storage/tables.ts';

export const LOGIN_COOKIE = '__Host-broker_login';
export const TRANSACTION_TTL_MS = 10 * 60_000;

export interface LoginTransaction {
  integrationId: string;
  /** The username typed on the sign-in page; absent for the IdP-first start. */
  expectedUsername: string | null;
  nonce: string;
  verifier: string;
  returnTo: string | null;
  createdAt: number;
}

interface TransactionEntity {
  integrationId: string;
  expectedUsername: string;
  nonce: string;
  verifier: string;
  returnTo: string;
  createdAt: number;
  browser: string;
}

export type TransactionFailure = 'unknown_state' | 'other_browser' | 'expired' | 'already_used';

export class TransactionError extends Error {
  constructor(readonly reason: TransactionFailure) {
    super(`login transaction rejected: ${reason}`);
    this.name = 'TransactionError';
  }
}

export const randomToken = (bytes = 32) => randomBytes(bytes).toString('base64url');
const sha256 = (v: string) => createHash('sha256').update(v, 'utf8').digest('hex');
export const pkceChallenge = (verifier: string) => createHash('sha256').update(verifier).digest('base64url');

const STATE_FORMAT = /^[A-Za-z0-9_-]{43}$/;
const BROWSER_FORMAT = /^[A-Za-z0-9_-]{43}$/;

export function isBrowserId(v: string | undefined): v is string {
  return typeof v === 'string' && BROWSER_FORMAT.test(v);
}

export class LoginTransactionStore {
  constructor(
    private readonly table: TableClient,
    private readonly clock: Clock,
  ) {}

  /** Stores a new transaction for `browserId`; returns the state and PKCE values to send to Entra. */
  async create(
    input: Pick<LoginTransaction, 'integrationId' | 'expectedUsername' | 'returnTo'>,
    browserId: string,
  ): Promise<{ state: string; nonce: string; verifier: string; challenge: string }> {
    const state = randomToken();
    const nonce = randomToken();
    const verifier = randomToken();
    const entity: TransactionEntity = {
      integrationId: input.integrationId,
      expectedUsername: input.expectedUsername ?? '',
      nonce,
      verifier,
      returnTo: input.returnTo ?? '',
      createdAt: this.clock.now(),
      browser: sha256(browserId),
    };
    await this.table.createEntity({ partitionKey: sha256(state), rowKey: 'tx', ...entity });
    return { state, nonce, verifier, challenge: pkceChallenge(verifier) };
  }

  /**
   * Consumes the transaction for `state`: it must exist, belong to this browser, be younger than
   * 10 minutes, and be deleted by this call (a conditional delete: of 20 parallel callbacks, one wins).
   */
  async consume(state: string, browserId: string | undefined): Promise<LoginTransaction> {
    if (!STATE_FORMAT.test(state)) throw new TransactionError('unknown_state');
    const pk = sha256(state);
    const e = await getEntityOrUndefined<TransactionEntity>(this.table, pk, 'tx');
    if (!e) throw new TransactionError('unknown_state');
    const expected = Buffer.from(e.browser, 'hex');
    const actual = Buffer.from(sha256(browserId ?? ''), 'hex');
    if (!isBrowserId(browserId) || expected.length !== actual.length || !timingSafeEqual(expected, actual)) {
      throw new TransactionError('other_browser');
    }
    try {
      await this.table.deleteEntity(pk, 'tx', { etag: e.etag });
    } catch (err) {
      if (isNotFound(err) || isPreconditionFailed(err)) throw new TransactionError('already_used');
      throw err;
    }
    if (this.clock.now() - e.createdAt > TRANSACTION_TTL_MS) throw new TransactionError('expired');
    return {
      integrationId: e.integrationId,
      expectedUsername: e.expectedUsername || null,
      nonce: e.nonce,
      verifier: e.verifier,
      returnTo: e.returnTo || null,
      createdAt: e.createdAt,
    };
  }
}
