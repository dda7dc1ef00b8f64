/**
 * Password sign-in (docs/security.md PW1–PW5): the account's and the address's attempt are counted before the
 * password is checked, every refusal looks the same to the browser (docs/security.md PW4) and is audited with its
 * own reason, and an outdated hash is upgraded on success.
 */
import type { AuditLog } from '../audit/log.ts';
import type { AuditNoise } from '../audit/noise.ts';
import type { Logger } from '../core/log.ts';
import type { PasswordLimits } from '../limits/password-limits.ts';
import { addressBucket } from '../limits/throttle.ts';
import type { SignedIn, SignInCompletion } from './completion.ts';
import { SignInError } from './errors.ts';
import { normaliseUsername, type RequestInfo } from './input.ts';
import type { PasswordVerifier, SettingsReader, UserDirectory } from './ports.ts';

/** How much of each new measurement the estimate of an audit write's time takes in. */
const WRITE_TIME_WEIGHT = 0.2;

export class PasswordSignIn {
  /**
   * How long recording a failure of a known account takes, lately (ms). A failure for a name that is
   * no user's writes nothing, so it waits as long: the answer's timing does not tell them apart (PW4).
   */
  private failureWriteMs = 0;

  constructor(
    private readonly d: {
      log: Logger;
      audit: AuditLog;
      noise: Pick<AuditNoise, 'count'>;
      users: UserDirectory;
      settings: SettingsReader;
      passwords: PasswordVerifier;
      limits: PasswordLimits;
      completion: SignInCompletion;
    },
  ) {}

  async signIn(
    usernameRaw: string,
    password: string,
    returnToRaw: string | null,
    info: RequestInfo,
  ): Promise<SignedIn> {
    const username = normaliseUsername(usernameRaw);
    // Both the account's and the address's attempt are reserved (counted) before the password is
    // checked, so parallel guesses cannot all pass one read of a counter (docs/security.md PW5, RL2); only failures use
    // the address's budget up (shared/limits/password-limits.ts). The user row is needed whatever the
    // limits say: read it while they are reserved (one round trip for all of them).
    const userRead = username ? this.d.users.getByUsername(username) : Promise.resolve(undefined);
    userRead.catch(() => {}); // awaited below unless throttled
    // Cached per instance; a stale cache is read in the same round, not after the limits.
    const settingsRead = this.d.settings.get();
    settingsRead.catch(() => {});
    const attempt = await this.d.limits.reserve(username, addressBucket(info.clientAddress));
    if (attempt.blocked) {
      // A refusal writes nothing: counted per address and window (RL1).
      this.d.noise.count({
        type: 'signin.throttled',
        reason: attempt.reason ?? 'address_throttled',
        clientAddress: info.clientAddress,
        correlationId: info.correlationId,
      });
      throw new SignInError('throttled', 429, 'throttled', {
        headers: { 'Retry-After': String(attempt.retryAfterSeconds) },
        username,
      });
    }
    const settings = await settingsRead;
    const user = await userRead;
    const allowed =
      !!user &&
      !user.disabled &&
      user.passwordHash !== null &&
      (user.verifyType.kind === 'password' || settings.allowOAuthPasswords);
    let ok = false;
    if (allowed && user?.passwordHash) ok = await this.d.passwords.verify(user.passwordHash, password);
    else await this.d.passwords.dummyVerify(password);
    if (!ok || !user) {
      const reason = !user
        ? 'unknown_user'
        : !allowed
          ? user.disabled
            ? 'user_disabled'
            : 'method_not_allowed'
          : 'wrong_password';
      // A name that is no user's is anyone's guess: counted, not a row each. A known account's
      // failures are recorded one by one (its own limit bounds them).
      if (!user) {
        this.d.noise.count({
          type: 'signin.failed',
          reason,
          clientAddress: info.clientAddress,
          correlationId: info.correlationId,
        });
        await new Promise((r) => setTimeout(r, this.failureWriteMs));
        throw new SignInError('invalid_credentials', 401, reason, { username });
      }
      const writeStarted = performance.now();
      await this.d.audit.record({
        type: 'signin.failed',
        actor: username || 'unknown',
        target: username ? `user:${username}` : undefined,
        outcome: 'failure',
        reason,
        correlationId: info.correlationId,
        clientAddress: info.clientAddress,
        details: { method: 'password' },
      });
      this.failureWriteMs += WRITE_TIME_WEIGHT * (performance.now() - writeStarted - this.failureWriteMs);
      throw new SignInError('invalid_credentials', 401, reason, { username });
    }
    if (this.d.passwords.needsRehash(user.passwordHash as string)) {
      try {
        await this.d.users.setPasswordHash(user.username, await this.d.passwords.hash(password), user.etag);
      } catch (err) {
        this.d.log.warn('signin.rehash_failed', { error: err });
      }
    }
    // The account's failures are forgotten and the address slot given back alongside the session and
    // audit inserts (one round trip).
    const [, signedIn] = await Promise.all([
      attempt.succeeded(),
      this.d.completion.complete(user, 'password', null, returnToRaw, info, {}, settingsRead),
    ]);
    return signedIn;
  }
}
