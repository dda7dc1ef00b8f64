/**
 * Sign-out (docs/security.md LO1): the session row is revoked before the browser gets its answer, and audited. A
 * missing or already dead session is no error: the browser's cookie is expired either way.
 */
import type { AuditLog } from '../audit/log.ts';
import {
  type CookieToSet,
  ENDED_SESSION_COOKIE,
  SessionRejectedError,
  type SessionService,
} from '../sessions/service.ts';
import type { RequestInfo } from './input.ts';

export class SignOut {
  constructor(
    private readonly sessions: SessionService,
    private readonly audit: AuditLog,
  ) {}

  /** `sessionToken`: the session cookie's value, if the browser sent one. Returns the cookie that ends it. */
  async signOut(sessionToken: string | undefined, info: RequestInfo): Promise<CookieToSet> {
    try {
      const session = await this.sessions.authenticate(sessionToken);
      await this.sessions.revoke(session);
      await this.audit.record({
        type: 'signout',
        actor: session.username,
        target: `user:${session.username}`,
        correlationId: info.correlationId,
        clientAddress: info.clientAddress,
        details: { method: session.method },
      });
    } catch (err) {
      if (!(err instanceof SessionRejectedError)) throw err;
    }
    return ENDED_SESSION_COOKIE;
  }
}
