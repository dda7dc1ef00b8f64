/**
 * The audit record of a sign-in that ended on an error page (docs/security.md AU1), whatever the error was. A refusal
 * by a limit (429), and a failure that names no known user (a callback without a valid state, an
 * unknown integration), writes no row of its own: it is counted per address and window and summed up
 * in one event (docs/security.md RL1), so anonymous noise cannot fill the audit.
 */
import type { AuditLog } from '../audit/log.ts';
import type { AuditNoise } from '../audit/noise.ts';
import { BrokerError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import { SignInError } from './errors.ts';
import type { RequestInfo } from './input.ts';

export class FailureAudit {
  constructor(
    private readonly audit: AuditLog,
    private readonly noise: Pick<AuditNoise, 'count'>,
    private readonly log: Logger,
  ) {}

  async record(err: unknown, info: RequestInfo, method: 'entra' | 'password'): Promise<void> {
    // The password flow records its refusals itself, with their own reason.
    if (recordedByPasswordSignIn(err, method)) return;
    const known = err instanceof SignInError ? err : undefined;
    const status = err instanceof BrokerError ? err.status : 500;
    const reason = known?.reason ?? (err instanceof BrokerError ? err.code : `error_${status}`);
    if (status === 429 || (!known?.username && status < 500)) {
      this.noise.count({
        type: status === 429 ? 'signin.throttled' : 'signin.failed',
        reason,
        clientAddress: info.clientAddress,
        correlationId: info.correlationId,
      });
      return;
    }
    // The page for the original failure must still be shown if the audit write fails too.
    await this.audit
      .record({
        type: 'signin.failed',
        actor: known?.username ?? 'unknown',
        ...(known?.username ? { target: `user:${known.username}` } : {}),
        outcome: 'failure',
        reason,
        correlationId: info.correlationId,
        clientAddress: info.clientAddress,
        details: {
          method,
          integrationId: known?.integrationId ?? null,
          status,
          // What an unmatched first sign-in compared: names and a yes/no, never the account itself.
          ...(known?.mismatch
            ? {
                matchClaim: known.mismatch.matchClaim,
                comparedWith: 'username or email',
                userEmailEmpty: known.mismatch.userEmailEmpty,
              }
            : {}),
        },
      })
      .catch((auditErr) => this.log.error('signin.audit_failed', { error: auditErr }));
  }
}

function recordedByPasswordSignIn(err: unknown, method: 'entra' | 'password'): boolean {
  return (
    method === 'password' &&
    err instanceof SignInError &&
    (err.errorCase === 'invalid_credentials' || err.errorCase === 'throttled')
  );
}
