/**
 * What a browser with a live broker session is told about itself: at the sign-in page (GET
 * /api/auth/login) it is sent on to an allow-listed return URL or shown the signed-in page, a portal
 * of the applications the user may open (portal.ts); GET /api/auth/session answers who it is.
 *
 * The user's row is read while the session's row is (one round), and that row decides, not the
 * session's copy: a role taken away hides its applications at once, a disabled or deleted user sees
 * none and no admin link, and has no session to report.
 */
import { type PortalLink, portalLinks } from '../applications/portal.ts';
import type { PortalCandidate } from '../applications/store.ts';
import { type ActiveSession, SessionRejectedError, type SessionService } from '../sessions/service.ts';
import { effectiveRoles, type UserRecord } from '../users/records.ts';

export interface SignedInDeps {
  sessions: Pick<SessionService, 'authenticate'>;
  users: { getByUsername(username: string): Promise<UserRecord | undefined> };
  /** Cached per instance (applications/service.ts). */
  applications: { portalCandidates(): Promise<PortalCandidate[]> };
}

export interface SignedInPage {
  username: string;
  displayName: string | null;
  isAdmin: boolean;
  applications: PortalLink[];
}

export type SignedInLanding =
  | { kind: 'signed-out' }
  | { kind: 'return'; to: string }
  | ({ kind: 'page' } & SignedInPage);

/**
 * The live session of `cookie` (the session cookie's value, if any) and what `readAhead` read for its
 * user, started once the token verified, beside the session row's read; undefined when the cookie
 * leads to no live session (never an error for a bad cookie).
 */
async function authenticateReading<T>(
  sessions: SignedInDeps['sessions'],
  cookie: string | undefined,
  readAhead: (username: string) => Promise<T>,
): Promise<{ session: ActiveSession; read: Promise<T> } | undefined> {
  let ahead: Promise<T> | undefined;
  let session: ActiveSession;
  try {
    session = await sessions.authenticate(cookie, {
      onVerified: (username) => {
        ahead = readAhead(username);
        // Awaited only for a live session: a rejected one must leave no unhandled rejection behind.
        ahead.catch(() => {});
      },
    });
  } catch (err) {
    if (err instanceof SessionRejectedError) return undefined;
    throw err;
  }
  return { session, read: ahead ?? readAhead(session.username) };
}

/**
 * The sign-in page for a browser that may be signed in. `returnTo`: an allow-listed return URL the
 * caller checked, or null; going on to it needs neither the user nor the applications.
 */
export async function signedInLanding(
  deps: SignedInDeps,
  cookie: string | undefined,
  returnTo: string | null,
): Promise<SignedInLanding> {
  const live = await authenticateReading(deps.sessions, cookie, (username) =>
    returnTo
      ? Promise.resolve(undefined)
      : Promise.all([deps.users.getByUsername(username), deps.applications.portalCandidates()]),
  );
  if (!live) return { kind: 'signed-out' };
  if (returnTo) return { kind: 'return', to: returnTo };
  const [user, candidates] = (await live.read) ?? [undefined, []];
  const usable = !!user && !user.disabled;
  return {
    kind: 'page',
    username: live.session.username,
    displayName: user?.displayName ?? null,
    isAdmin: usable && user.roles.includes('admin'),
    applications: usable ? portalLinks(candidates, effectiveRoles(user)) : [],
  };
}

/** The live session and its user, who must still exist and be enabled; undefined otherwise. */
export async function sessionUser(
  deps: Pick<SignedInDeps, 'sessions' | 'users'>,
  cookie: string | undefined,
): Promise<{ session: ActiveSession; user: UserRecord } | undefined> {
  const live = await authenticateReading(deps.sessions, cookie, (username) =>
    deps.users.getByUsername(username),
  );
  const user = await live?.read;
  return live && user && !user.disabled ? { session: live.session, user } : undefined;
}
