/**
 * An admin's browser session as a credential for /api/manage (docs/architecture.md "Management (admins only)"): the session
 * cookie plus `X-Broker-Csrf: 1` (a header a cross-site form cannot send) and, when the browser sends
 * one, the broker's own Origin (docs/security.md AD2). Roles are read fresh from the user, not from the
 * cookie, so removing "admin" takes effect at once.
 */
import type { HttpRequest } from '@azure/functions';
import type { AdminSessionAuthenticator, Principal } from '../admin/auth.ts';
import { ForbiddenError, UnauthorizedError } from '../core/errors.ts';
import { SessionRejectedError, type SessionService } from '../sessions/service.ts';
import type { UserDirectory } from '../signin/ports.ts';
import { sessionCookie } from './cookies.ts';
import { assertSameOrigin } from './origin.ts';

export class CookieAdminAuthenticator implements AdminSessionAuthenticator {
  constructor(
    private readonly sessions: SessionService,
    private readonly users: UserDirectory,
    private readonly brokerOrigin: string,
  ) {}

  async authenticateAdmin(request: HttpRequest): Promise<Principal | undefined> {
    const token = sessionCookie(request);
    if (!token) return undefined;
    let session: Awaited<ReturnType<SessionService['authenticate']>>;
    try {
      session = await this.sessions.authenticate(token);
    } catch (err) {
      if (err instanceof SessionRejectedError) {
        throw new UnauthorizedError(
          'The session is not valid (expired, revoked or signed out).',
          'invalid_session',
        );
      }
      throw err;
    }
    if (request.headers.get('x-broker-csrf') !== '1') {
      throw new ForbiddenError(
        'Session-authenticated calls need the header X-Broker-Csrf: 1.',
        'csrf_header_missing',
      );
    }
    if (request.headers.get('origin') !== null || request.headers.get('sec-fetch-site') !== null) {
      assertSameOrigin(request, this.brokerOrigin);
    }
    const user = await this.users.getByUsername(session.username);
    if (!user || user.disabled || !user.roles.includes('admin')) {
      throw new ForbiddenError('This account is not an administrator.', 'not_admin');
    }
    return {
      kind: 'session',
      username: user.username,
      sessionId: session.sessionId,
      name: user.username,
      authTime: session.authTime,
      userCreatedAt: user.createdAt,
      ...(session.refreshedCookie ? { refreshedCookie: session.refreshedCookie } : {}),
    };
  }
}
