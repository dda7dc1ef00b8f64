/** The audit record of a sign-in that ended on an error page (docs/security.md AU1), whatever the error was. */
import type { AuditLog } from '../audit/log.ts';
import { BrokerError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import { SignInError } from './errors.ts';
import type { RequestInfo } from './input.ts';

export class FailureAudit {
  constructor(
    private readonly audit: AuditLog,
    private readonly log: Logger,
  ) {}

  async record(err: unknown, info: RequestInfo, method: 'entra' | 'password'): Promise<void> {
    // The password flow records its refusals itself, with their own reason.
    if (recordedByPasswordSignIn(err, method)) return;
    const known = err instanceof SignInError ? err : undefined;
    const status = err instanceof BrokerError ? err.status : 500;
    // The page for the original failure must still be shown if the audit write fails too.
    await this.audit
      .record({
        type: 'signin.failed',
        actor: known?.username ?? 'unknown',
        ...(known?.username ? { target: `user:${known.username}` } : {}),
        outcome: 'failure',
        reason: known?.reason ?? (err instanceof BrokerError ? err.code : `error_${status}`),
        correlationId: info.correlationId,
        clientAddress: info.clientAddress,
        details: { method, integrationId: known?.integrationId ?? null, status },
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
