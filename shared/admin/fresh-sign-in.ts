import type { Clock } from '../core/clock.ts';
import { UnauthorizedError } from '../core/errors.ts';
import type { Caller } from './caller.ts';

/** How recent a sign-in must be for security-relevant admin changes (docs/security.md AD5). */
export const FRESH_AUTH_MINUTES = 10;

/**
 * docs/security.md AD5: security-relevant changes made with a browser session (turning on Allow OAuth Passwords,
 * rotating a client secret, granting admin, …) need a sign-in within the last few minutes. API
 * tokens are not affected: they are created deliberately and can be revoked. The services decide
 * which of their changes this applies to; a change made without a caller (a script, a test) is not
 * a browser session either.
 */
export function requireRecentSignIn(caller: Caller | undefined, clock: Clock): void {
  if (caller?.kind !== 'session') return;
  if (clock.now() - caller.authTime > FRESH_AUTH_MINUTES * 60_000) {
    throw new UnauthorizedError(
      `This change needs a recent sign-in (within ${FRESH_AUTH_MINUTES} minutes). Sign in again and retry.`,
      'reauthentication_required',
    );
  }
}
