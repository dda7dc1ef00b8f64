import { UnauthorizedError } from '../core/errors.ts';
import type { CookieToSet } from '../sessions/service.ts';
import type { AdminTokenService } from './tokens.ts';

/** What the gate reads of a request: its headers (the web layer hands in its HTTP request). */
export interface AdminRequest {
  headers: { get(name: string): string | null };
}

/** Who is calling the management API. `name` is what audit events record as the actor. */
export type Principal =
  | {
      kind: 'token';
      id: string;
      name: string;
      /**
       * The admin this token (or the token that created it) was made for, as `ownerKey()`; null for
       * tokens made with bootstrap-admin or by such tokens.
       */
      onBehalfOf: string | null;
    }
  | {
      kind: 'session';
      username: string;
      sessionId: string;
      name: string;
      authTime: number;
      /** A re-issued session token to send back (see SessionService.authenticate). */
      refreshedCookie?: CookieToSet;
      /** When the user account was created: with the username it identifies this very account. */
      userCreatedAt: string;
    };

/** Authenticates an admin's browser session (cookie + X-Broker-Csrf); plugged in by the sign-in service. */
export interface AdminSessionAuthenticator {
  /** undefined when the request carries no session cookie; throws 401/403 when it carries a bad one. */
  authenticateAdmin(request: AdminRequest): Promise<Principal | undefined>;
}

const BEARER = /^Bearer ([A-Za-z0-9._~+/=-]{1,512})$/;

/**
 * A presented admin token that did not authenticate. `knownTokenId` is set when it names a token that
 * exists (a wrong secret, an expired token, or one whose admin is no longer one): its failures are
 * counted against that token, not against the caller's address.
 */
export class InvalidAdminTokenError extends UnauthorizedError {
  constructor(readonly knownTokenId?: string) {
    super('The admin token is not valid (malformed, expired or revoked).', 'invalid_token');
  }
}

/** The one gate in front of every /api/manage route (called by `endpoint()`). */
export class AdminAuthenticator {
  constructor(
    private readonly tokens: AdminTokenService,
    private readonly sessions?: AdminSessionAuthenticator,
    /** Whether the account (`ownerKey`) is still an enabled admin: tokens made for it die with its role. */
    private readonly isEnabledAdmin?: (owner: string) => Promise<boolean>,
  ) {}

  async authenticate(request: AdminRequest, _clientAddress: string): Promise<Principal> {
    const header = request.headers.get('authorization');
    if (header) {
      const m = BEARER.exec(header.trim());
      const checked = m?.[1] ? await this.tokens.check(m[1]) : {};
      const info = checked.info;
      const ownerOk =
        !info?.onBehalfOf || (this.isEnabledAdmin ? await this.isEnabledAdmin(info.onBehalfOf) : false);
      if (!info || !ownerOk) throw new InvalidAdminTokenError(checked.knownId);
      return { kind: 'token', id: info.id, name: info.name, onBehalfOf: info.onBehalfOf };
    }
    const session = this.sessions ? await this.sessions.authenticateAdmin(request) : undefined;
    if (session) return session;
    throw new UnauthorizedError(
      'An admin API token (Authorization: Bearer …) or an admin session is required.',
      'missing_credentials',
    );
  }
}
