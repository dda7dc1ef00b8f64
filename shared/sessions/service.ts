/**
 * Broker sessions (docs/security.md D): a fresh 256-bit session id on every sign-in, an ES256 JWT in a
 * `__Host-` cookie (HttpOnly, Secure, SameSite=Lax, Path=/), checked on every request against its
 * session row, so logout, disable and "revoke all" take effect at once. Idle and absolute timeouts
 * are enforced server-side.
 */
import { randomBytes } from 'node:crypto';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import type { Clock } from '../core/clock.ts';
import type { SessionKeyService } from './keys.ts';
import type { SessionMethod, SessionRecord, SessionStore } from './store.ts';

export const SESSION_COOKIE = '__Host-broker_session';
export const SESSION_TOKEN_TYPE = 'broker-session+jwt';
/** A session unused for this long ends, whatever its absolute lifetime. */
export const IDLE_TIMEOUT_MINUTES = 30;
/**
 * Lifetime of one session token. The session itself lasts `sessionLifetimeMinutes` (its row says so);
 * the token in the cookie is re-issued while the row is valid, so a downstream app that only checks
 * the JWT against /api/auth/jwks sees a logout, a disable or a role change within this many minutes.
 */
export const TOKEN_LIFETIME_MINUTES = 10;
/** Re-issue the token when less than this is left of it. */
const REFRESH_BEFORE_MINUTES = 5;
const MAX_COOKIE_LENGTH = 4096;

export interface ActiveSession {
  username: string;
  sessionId: string;
  roles: string[];
  method: SessionMethod;
  integrationId: string | null;
  expiresAt: string;
  authTime: number;
  record: SessionRecord;
  /** Set when the token was re-issued: the caller adds it to its response. */
  refreshedCookie?: CookieToSet;
}

export interface IssueSessionInput {
  username: string;
  roles: string[];
  method: SessionMethod;
  integrationId: string | null;
  clientAddress: string;
  lifetimeMinutes: number;
}

export type SessionRejection = 'missing' | 'malformed' | 'invalid' | 'expired' | 'revoked' | 'idle';

export class SessionRejectedError extends Error {
  constructor(readonly reason: SessionRejection) {
    super(`session rejected: ${reason}`);
    this.name = 'SessionRejectedError';
  }
}

/**
 * A cookie a service wants the browser to keep: the web layer sends it as a `__Host-` cookie
 * (Secure, HttpOnly, SameSite=Lax, Path=/, no Domain; docs/security.md SC2).
 */
export interface CookieToSet {
  name: string;
  value: string;
  maxAgeSeconds: number;
}

/** The session cookie expired (docs/security.md LO1): what a sign-out sends back, whether a session lived or not. */
export const ENDED_SESSION_COOKIE: CookieToSet = { name: SESSION_COOKIE, value: '', maxAgeSeconds: 0 };

/** An expired token's payload is only trusted when it is one of ours (same checks as a live one). */
function isOurs(payload: Record<string, unknown>, issuer: string): boolean {
  return (
    payload.iss === issuer &&
    payload.aud === issuer &&
    typeof payload.sub === 'string' &&
    typeof payload.sid === 'string' &&
    payload.jti === payload.sid &&
    typeof payload.iat === 'number'
  );
}

export class SessionService {
  constructor(
    private readonly keys: SessionKeyService,
    private readonly store: SessionStore,
    private readonly clock: Clock,
    private readonly issuer: string,
  ) {}

  async issue(
    input: IssueSessionInput,
  ): Promise<{ cookie: CookieToSet; session: SessionRecord; token: string }> {
    const now = this.clock.now();
    const sessionId = randomBytes(32).toString('base64url');
    const expiresAt = now + input.lifetimeMinutes * 60_000;
    const session = await this.store.create({
      username: input.username,
      sessionId,
      method: input.method,
      integrationId: input.integrationId,
      createdAt: new Date(now).toISOString(),
      expiresAt: new Date(expiresAt).toISOString(),
      authTime: new Date(now).toISOString(),
      clientAddress: input.clientAddress,
    });
    const token = await this.sign(
      input.username,
      sessionId,
      input.method,
      input.integrationId,
      input.roles,
      expiresAt,
    );
    return { cookie: this.cookieFor(token, expiresAt), session, token };
  }

  /** A token for the session: valid TOKEN_LIFETIME_MINUTES, never past the session's own end. */
  private async sign(
    username: string,
    sessionId: string,
    method: SessionMethod,
    integrationId: string | null,
    roles: string[],
    sessionExpiresAt: number,
  ): Promise<string> {
    const key = await this.keys.signingKey();
    const now = this.clock.now();
    const exp = Math.min(sessionExpiresAt, now + TOKEN_LIFETIME_MINUTES * 60_000);
    return new SignJWT({
      sid: sessionId,
      amr: method === 'password' ? ['pwd'] : ['fed'],
      idp: method === 'password' ? 'password' : `integration:${integrationId}`,
      roles,
    })
      .setProtectedHeader({ alg: 'ES256', kid: key.kid, typ: SESSION_TOKEN_TYPE })
      .setIssuer(this.issuer)
      .setAudience(this.issuer)
      .setSubject(username)
      .setJti(sessionId)
      .setIssuedAt(Math.floor(now / 1000))
      .setExpirationTime(Math.floor(exp / 1000))
      .sign(key.privateKey);
  }

  /** The cookie lives as long as the session; the token inside it is short-lived and re-issued. */
  private cookieFor(token: string, sessionExpiresAt: number): CookieToSet {
    const maxAgeSeconds = Math.max(0, Math.floor((sessionExpiresAt - this.clock.now()) / 1000));
    return { name: SESSION_COOKIE, value: token, maxAgeSeconds };
  }

  /**
   * The session of a session cookie's value (`raw`; undefined when the browser sent none), or a
   * SessionRejectedError with its reason: a bad cookie is never another kind of error.
   * `onVerified` is called with the username once the session token verified, before its row is read:
   * a caller can read what it needs of the user meanwhile (the row still decides whether it lives).
   */
  async authenticate(
    raw: string | undefined,
    opts: { onVerified?: (username: string) => void } = {},
  ): Promise<ActiveSession> {
    if (!raw) throw new SessionRejectedError('missing');
    if (raw.length > MAX_COOKIE_LENGTH) throw new SessionRejectedError('malformed');
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(
        raw,
        async (header) => {
          const key =
            typeof header.kid === 'string' ? await this.keys.verificationKey(header.kid) : undefined;
          if (!key) throw new joseErrors.JWKSNoMatchingKey();
          return key;
        },
        {
          algorithms: ['ES256'],
          issuer: this.issuer,
          audience: this.issuer,
          typ: SESSION_TOKEN_TYPE,
          currentDate: new Date(this.clock.now()),
          requiredClaims: ['sub', 'sid', 'jti', 'exp', 'iat'],
        },
      ));
    } catch (err) {
      // An expired token whose signature and other claims verified (jose checks them before exp) is
      // still this session's: the row decides whether it lives on, and the token is re-issued.
      if (!(err instanceof joseErrors.JWTExpired) || !isOurs(err.payload, this.issuer)) {
        throw new SessionRejectedError(err instanceof joseErrors.JWTExpired ? 'expired' : 'invalid');
      }
      payload = err.payload as Record<string, unknown>;
    }
    const username = String(payload.sub);
    const sessionId = String(payload.sid);
    if (payload.jti !== sessionId) throw new SessionRejectedError('invalid');
    opts.onVerified?.(username);
    const record = await this.store.get(username, sessionId);
    if (!record) throw new SessionRejectedError('revoked');
    const now = this.clock.now();
    if (Date.parse(record.expiresAt) <= now) {
      await this.store.revoke(username, sessionId);
      throw new SessionRejectedError('expired');
    }
    if (now - Date.parse(record.lastSeenAt) > IDLE_TIMEOUT_MINUTES * 60_000) {
      await this.store.revoke(username, sessionId);
      throw new SessionRejectedError('idle');
    }
    await this.store.touch(record);
    const roles = Array.isArray(payload.roles) ? payload.roles.map(String) : [];
    const tokenExp = typeof payload.exp === 'number' ? payload.exp * 1000 : 0;
    const sessionEnd = Date.parse(record.expiresAt);
    let refreshedCookie: CookieToSet | undefined;
    if (tokenExp - now < REFRESH_BEFORE_MINUTES * 60_000 && tokenExp < sessionEnd) {
      const token = await this.sign(
        username,
        sessionId,
        record.method,
        record.integrationId,
        roles,
        sessionEnd,
      );
      refreshedCookie = this.cookieFor(token, sessionEnd);
    }
    return {
      ...(refreshedCookie ? { refreshedCookie } : {}),
      username: record.username,
      sessionId,
      roles,
      method: record.method,
      integrationId: record.integrationId,
      expiresAt: record.expiresAt,
      authTime: Date.parse(record.authTime),
      record,
    };
  }

  /** Whether a session row is live (not revoked, not past its absolute end or idle timeout). No write. */
  async isLive(username: string, sessionId: string): Promise<boolean> {
    const record = await this.store.get(username, sessionId);
    if (!record) return false;
    const now = this.clock.now();
    return (
      Date.parse(record.expiresAt) > now &&
      now - Date.parse(record.lastSeenAt) <= IDLE_TIMEOUT_MINUTES * 60_000
    );
  }

  async revoke(session: Pick<ActiveSession, 'username' | 'sessionId'>): Promise<void> {
    await this.store.revoke(session.username, session.sessionId);
  }
}
