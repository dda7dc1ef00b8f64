/**
 * The password sign-in's brute-force limits (docs/security.md PW5, RL1, RL2), reserved before the password
 * is checked so that parallel guesses cannot all pass one read of a counter:
 *
 * - per account: one backoff row (`ACCOUNT_POLICY`: 5 free failures, then doubling blocks). A sign-in
 *   with nothing counted since the last success creates it in one insert (`reserveIfFresh`); otherwise
 *   `reserve` reads it and counts with an ETag. A success deletes it (`reset`).
 * - per client address (many users may share one, NAT): the first `freeAttempts` of each fixed window
 *   are slot rows taken with a conditional insert (`SlotLimiter`: no hot row, no read, at most
 *   `freeAttempts` per window whatever the concurrency); once they are gone, or while an earlier
 *   escalation is remembered on the address's backoff row, attempts go through that row (`reserve` with
 *   no free attempts: one attempt per block, each block twice as long). A parallel burst gets at most
 *   `freeAttempts` + 1 attempts through per window. A success gives its slot back, so only failures use
 *   the address's budget up.
 *
 * Storage on the success path (nothing counted yet on the account, address not escalating): one round
 * of 3 requests, run together with the user read (slot insert, address backoff read, account insert);
 * after the password check, 2 deletes run together with the session and audit inserts.
 */
import type { Slot, SlotLimiter } from './slots.ts';
import { ACCOUNT_POLICY, ADDRESS_POLICY, type Throttle, type ThrottleState } from './throttle.ts';

const ACCOUNT = 'pwd-user';
const ADDRESS = 'pwd-addr';

export interface PasswordAttempt extends ThrottleState {
  /** Which limit refused the attempt (the audit's reason), when blocked. */
  reason: 'account_throttled' | 'address_throttled' | null;
  /** After a successful sign-in: the account's failures are forgotten and the address slot given back. */
  succeeded(): Promise<void>;
}

export class PasswordLimits {
  constructor(
    private readonly throttle: Throttle,
    private readonly slots: SlotLimiter,
  ) {}

  /** Reserves one attempt on `username` from the address bucket `address` (see the header comment). */
  async reserve(username: string, address: string): Promise<PasswordAttempt> {
    // Independent requests, together: the address's slot and backoff row, the account's fresh insert.
    const [addressState, accountEtag] = await Promise.all([
      this.reserveAddress(address),
      this.throttle.reserveIfFresh(ACCOUNT, username, ACCOUNT_POLICY),
    ]);
    const release = async () => addressState.release?.();
    if (addressState.blocked) {
      // Never checked: the account's insert is taken back (a refusal counts on neither limit).
      if (accountEtag !== null) await this.throttle.unreserve(ACCOUNT, username, accountEtag);
      return { ...addressState, reason: 'address_throttled', succeeded: release };
    }
    const account =
      accountEtag !== null
        ? { blocked: false, retryAfterSeconds: 0 }
        : await this.throttle.reserve(ACCOUNT, username, ACCOUNT_POLICY);
    if (account.blocked) {
      await release();
      return { ...account, reason: 'account_throttled', succeeded: release };
    }
    return {
      blocked: false,
      retryAfterSeconds: 0,
      reason: null,
      succeeded: async () => {
        await Promise.all([this.throttle.reset(ACCOUNT, username), release()]);
      },
    };
  }

  private async reserveAddress(address: string): Promise<Slot> {
    const [slot, backoff] = await Promise.all([
      this.slots.take(ADDRESS, address, {
        limit: ADDRESS_POLICY.freeAttempts,
        windowMs: ADDRESS_POLICY.windowMs,
      }),
      this.throttle.backoff(ADDRESS, address, ADDRESS_POLICY),
    ]);
    if (!slot.blocked && !backoff.escalating) return slot;
    // Escalating (or blocked): no free attempt, whatever the slots say; a slot taken is given back.
    if (!slot.blocked) await slot.release?.();
    if (backoff.blocked) return backoff;
    // A lost race for a free slot is refused briefly, never let through (fail closed).
    if (slot.blocked && !slot.exhausted && !backoff.escalating)
      return { blocked: true, retryAfterSeconds: 1 };
    return this.throttle.reserve(ADDRESS, address, { ...ADDRESS_POLICY, freeAttempts: 0 });
  }
}
