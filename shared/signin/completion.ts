/** The end of every successful sign-in: a new session, lastLoginAt, the audit event, the landing URL. */
import type { AuditLog } from '../audit/log.ts';
import type { Clock } from '../core/clock.ts';
import type { CookieToSet, SessionService } from '../sessions/service.ts';
import { effectiveRoles } from '../users/records.ts';
import type { RequestInfo } from './input.ts';
import type { SignInSettings, SignInUser, UserDirectory } from './ports.ts';
import { landingUrl } from './return-url.ts';

/** How stale a user's lastLoginAt may be (written at most once an hour per user). */
export const LAST_LOGIN_RESOLUTION_MS = 60 * 60_000;

export interface SignedIn {
  cookie: CookieToSet;
  location: string;
  username: string;
}

export class SignInCompletion {
  constructor(
    private readonly d: {
      clock: Clock;
      audit: AuditLog;
      users: UserDirectory;
      sessions: SessionService;
      brokerOrigin: string;
    },
  ) {}

  async complete(
    user: SignInUser,
    method: 'entra' | 'password',
    integrationId: string | null,
    returnTo: string | null,
    info: RequestInfo,
    details: Record<string, string>,
    /** Started by the caller in its first round (a stale settings cache costs no round trip of its own). */
    settingsRead: Promise<SignInSettings>,
  ): Promise<SignedIn> {
    const settings = await settingsRead;
    // Independent writes, together: the session row, the audit event and (at most hourly) lastLoginAt.
    // Should the session write fail, the sign-in fails and its failure is audited as well.
    const [issued] = await Promise.all([
      this.d.sessions.issue({
        username: user.username,
        roles: effectiveRoles(user),
        method,
        integrationId,
        clientAddress: info.clientAddress,
        lifetimeMinutes: settings.sessionLifetimeMinutes,
      }),
      this.loginIsStale(user) ? this.d.users.recordLogin(user.username) : undefined,
      this.d.audit.record({
        type: 'signin.succeeded',
        actor: user.username,
        target: `user:${user.username}`,
        correlationId: info.correlationId,
        clientAddress: info.clientAddress,
        details: { method, ...details },
      }),
    ]);
    const location = landingUrl(returnTo, settings.allowedReturnOrigins, this.d.brokerOrigin);
    return { cookie: issued.cookie, location, username: user.username };
  }

  /** lastLoginAt is kept to the hour: a user signing in again within an hour costs no write. */
  private loginIsStale(user: SignInUser): boolean {
    const last = user.lastLoginAt ? Date.parse(user.lastLoginAt) : Number.NaN;
    return !(this.d.clock.now() - last < LAST_LOGIN_RESOLUTION_MS);
  }
}
