/**
 * Login transactions (docs/security.md LS1, LS3, CB1): state, nonce and PKCE verifier from a CSPRNG. The
 * transaction `{integrationId, expectedUsername, nonce, verifier, returnTo, createdAt}` is sealed
 * (AES-256-GCM, key in Key Vault, the state's hash as associated data) into a `__Host-` HttpOnly
 * cookie named after the state, so it is bound to the browser that started the sign-in and nothing is
 * stored until the callback. It is valid 10 minutes (checked on the sealed creation time) and used
 * once: the callback inserts a marker row under the state's hash, and of 20 parallel callbacks with the
 * same state only one insert succeeds.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { TableClient } from '@azure/data-tables';
import { AEAD_IV_BYTES, aeadOpen, aeadSeal } from '../core/aead.ts';
import type { Clock } from '../core/clock.ts';
import type { CookieToSet } from '../sessions/service.ts';
import { isConflict } from '../storage/tables.ts';
import type { SealKeyService } from './seal-key.ts';

/** Name prefix of the transaction cookies; the rest of the name is derived from the state. */
export const LOGIN_COOKIE_PREFIX = '__Host-broker_tx_';
export const TRANSACTION_TTL_MS = 10 * 60_000;
/** Upper bound of a sealed value (a long returnTo included); larger cookies are refused unread. */
const SEALED_MAX = 3800;

export interface LoginTransaction {
  integrationId: string;
  /** The username typed on the sign-in page; absent for the IdP-first start. */
  expectedUsername: string | null;
  nonce: string;
  verifier: string;
  returnTo: string | null;
  createdAt: number;
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
const SEALED_FORMAT = /^v1\.([0-9a-f]{32})\.([0-9a-z]{1,12})\.([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]{22,})$/;
/** Sign-ins in progress one browser keeps; starting another expires the oldest beyond this. */
export const MAX_PENDING_PER_BROWSER = 3;

/** The cookie that holds the transaction of `state` (one per sign-in in progress, so tabs don't collide). */
export function loginCookieName(state: string): string {
  return `${LOGIN_COOKIE_PREFIX}${sha256(`cookie:${state}`).slice(0, 16)}`;
}

interface SealedPayload {
  i: string;
  u: string | null;
  n: string;
  v: string;
  r: string | null;
  t: number;
}

export class LoginTransactionStore {
  constructor(
    private readonly table: TableClient,
    private readonly clock: Clock,
    private readonly keys: SealKeyService,
  ) {}

  /** A new transaction: the state and PKCE values to send to Entra, and the cookie that carries it. */
  async create(
    input: Pick<LoginTransaction, 'integrationId' | 'expectedUsername' | 'returnTo'>,
  ): Promise<{ state: string; nonce: string; verifier: string; challenge: string; cookie: CookieToSet }> {
    const state = randomToken();
    const nonce = randomToken();
    const verifier = randomToken();
    const payload: SealedPayload = {
      i: input.integrationId,
      u: input.expectedUsername ?? null,
      n: nonce,
      v: verifier,
      r: input.returnTo ?? null,
      t: this.clock.now(),
    };
    const { kid, key } = await this.keys.sealingKey();
    const iv = randomBytes(AEAD_IV_BYTES);
    // The creation time is also in clear (authenticated) so a browser's oldest transactions can be
    // found without opening them.
    const at = payload.t.toString(36);
    const sealed = aeadSeal(
      key,
      iv,
      Buffer.from(JSON.stringify(payload), 'utf8'),
      Buffer.from(aad(state, at)),
    );
    const value = `v1.${kid}.${at}.${iv.toString('base64url')}.${sealed.toString('base64url')}`;
    const cookie = { name: loginCookieName(state), value, maxAgeSeconds: TRANSACTION_TTL_MS / 1000 };
    return { state, nonce, verifier, challenge: pkceChallenge(verifier), cookie };
  }

  /**
   * Opens the transaction of `state` from its cookie: the cookie must be present (this browser
   * started it), authentic (sealed by the broker for this very state) and younger than 10 minutes.
   * No storage call; `markUsed` makes it single-use.
   */
  async open(state: string, sealed: string | undefined): Promise<LoginTransaction> {
    if (!STATE_FORMAT.test(state)) throw new TransactionError('unknown_state');
    if (!sealed) throw new TransactionError('other_browser');
    const m = sealed.length <= SEALED_MAX ? SEALED_FORMAT.exec(sealed) : null;
    if (!m) throw new TransactionError('other_browser');
    const [, kid = '', at = '', iv = '', body = ''] = m;
    const key = await this.keys.openingKey(kid);
    if (!key) throw new TransactionError('other_browser');
    let payload: SealedPayload;
    try {
      const bytes = Buffer.from(body, 'base64url');
      if (bytes.length < 17) throw new Error('short');
      const plain = aeadOpen(key.key, Buffer.from(iv, 'base64url'), bytes, Buffer.from(aad(state, at)));
      if (!plain) throw new Error('not authentic');
      payload = JSON.parse(plain.toString('utf8')) as SealedPayload;
    } catch {
      // Tampered, sealed for another state, or by a key that is not ours.
      throw new TransactionError('other_browser');
    }
    const age = this.clock.now() - payload.t;
    if (!(age >= -60_000 && age <= TRANSACTION_TTL_MS)) throw new TransactionError('expired');
    return {
      integrationId: payload.i,
      expectedUsername: payload.u,
      nonce: payload.n,
      verifier: payload.v,
      returnTo: payload.r,
      createdAt: payload.t,
    };
  }

  /**
   * Marks the transaction of `state` used: one conditional insert under the state's hash (never the
   * state itself). A second use, in parallel or later, gets `already_used`. The maintenance timer
   * deletes markers once the transaction could no longer be opened.
   */
  async markUsed(state: string): Promise<void> {
    try {
      await this.table.createEntity({ partitionKey: sha256(state), rowKey: 'used' });
    } catch (err) {
      if (isConflict(err)) throw new TransactionError('already_used');
      throw err;
    }
  }
}

const aad = (state: string, at: string) => `broker-login-transaction:${sha256(state)}:${at}`;

/**
 * Of a browser's transaction cookies (name → value), the names to expire when one more sign-in
 * starts, so that at most MAX_PENDING_PER_BROWSER stay besides the new one: the oldest first (by the
 * creation time in the value; unreadable values first). Keeps a browser's cookie header small.
 */
export function stalePendingCookies(cookies: Map<string, string>): string[] {
  const pending = [...cookies]
    .filter(([name]) => name.startsWith(LOGIN_COOKIE_PREFIX))
    .map(([name, value]) => {
      const at = SEALED_FORMAT.exec(value)?.[2];
      return { name, at: at ? Number.parseInt(at, 36) : 0 };
    })
    .sort((a, b) => b.at - a.at);
  return pending.slice(MAX_PENDING_PER_BROWSER).map((p) => p.name);
}
