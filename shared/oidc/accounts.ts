/**
 * Accounts (`findAccount`): by the immutable user id (`sub`); undefined for a deleted or disabled
 * user, for a token whose grant's broker session ended, for a token whose sign-in is older than the
 * user's last "sign out everywhere" (OP6), or for a token of an application whose `allowedRoles` the
 * user no longer meets (docs/security.md OP10: what an authorization checks, refresh and userinfo
 * check again), so refresh fails with invalid_grant and userinfo refuses the access token.
 */
import type { Account } from 'oidc-provider';
import type { SessionService } from '../sessions/service.ts';
import { effectiveRoles } from '../users/records.ts';
import { issuedBeforeRevocation } from '../users/revocation.ts';
import type { UserRecord } from '../users/store.ts';
import { grantSessionLive } from './grant-session.ts';
import type { ProviderClientSource, UserSource } from './ports.ts';
import { type OidcTableStore, requestCached, requestCachedPeek } from './store.ts';

/** The request's read ahead of the username a hint names for `sub`. */
const hintedKey = (sub: string) => `hinted-user:${sub}`;

/** How many `sub` → username pairs an instance remembers (`accountUser`). */
const USERNAME_BY_ID_MAX = 10_000;

/** What a token the provider asks about carries (absent for a fresh login). */
interface TokenFacts {
  iat?: number;
  authTime?: number;
  amr?: string[];
  grantId?: string;
  clientId?: string;
}

/** Whether a user meets an application's required roles (none required, or at least one held). */
export function meetsRoles(userRoles: readonly string[], allowedRoles: readonly string[]): boolean {
  return allowedRoles.length === 0 || userRoles.some((r) => allowedRoles.includes(r));
}

export class Accounts {
  private readonly usernameById = new Map<string, string>();

  constructor(
    private readonly users: UserSource,
    private readonly store: OidcTableStore,
    private readonly sessions: Pick<SessionService, 'isLive'>,
    private readonly applications: ProviderClientSource,
  ) {}

  /** A user row, read at most once per request (`requestCached`); a read ahead lands here too. */
  userNamed(username: string): Promise<UserRecord | undefined> {
    return requestCached(`user:${username}`, () => this.users.getByUsername(username));
  }

  /**
   * Reads ahead the user a `sub` names (prefetch.ts), when this instance knows its username or a
   * hint names one (`username`). A hinted name is remembered only once its row proves it: the row
   * read has this `sub` as its id, the same check `accountUser` makes of a remembered name.
   */
  readAhead(sub: string, username?: string): Promise<unknown> | undefined {
    const known = this.usernameById.get(sub);
    if (known !== undefined) return this.userNamed(known).catch(() => undefined);
    if (username === undefined) return undefined;
    // Kept for the request: `accountUser` waits for it before it turns to the id index.
    return requestCached(hintedKey(sub), () =>
      this.userNamed(username).then(
        (user) => {
          if (user?.id === sub) this.rememberUsername(sub, user.username);
        },
        () => undefined,
      ),
    );
  }

  /** The provider's `findAccount`: the account `sub` names, with its claims, if it may still be used. */
  async find(sub: string, token: unknown): Promise<Account | undefined> {
    const tk = token as TokenFacts | undefined;
    // The application's registration comes from the per-instance client cache (the provider loaded
    // the same client for this request), so the role check costs no storage read.
    const [user, live, app] = await Promise.all([
      this.accountUser(sub),
      tk?.grantId ? grantSessionLive(this.store, this.sessions, tk.grantId) : true,
      tk?.clientId ? this.applications.clientForProvider(tk.clientId) : undefined,
    ]);
    if (!user || user.disabled || !live) return undefined;
    if (tk?.clientId && (!app || !meetsRoles(effectiveRoles(user), app.allowedRoles))) return undefined;
    const issued = tk?.authTime ?? tk?.iat;
    if (issued !== undefined && issuedBeforeRevocation(user, issued)) return undefined;
    const amr = tk?.amr;
    const integrationId = user.verifyType.kind === 'integration' ? user.verifyType.integrationId : null;
    const idp = amr?.includes('pwd')
      ? 'password'
      : amr?.includes('fed')
        ? (integrationId ?? 'federated')
        : (integrationId ?? 'password');
    return {
      accountId: sub,
      claims: async () => ({
        sub,
        preferred_username: user.username,
        name: user.displayName || user.username,
        ...(user.email ? { email: user.email } : {}),
        roles: effectiveRoles(user),
        idp,
      }),
    };
  }

  /**
   * The user a `sub` names. Ids are immutable and never reused, and a username names one user row at a
   * time, so this instance remembers which username an id had: the user row is then read directly (one
   * round trip instead of the id index and then the row). The row read is the check: a user deleted
   * and created again under the same name has a new id, so the remembered name no longer matches and
   * the id index decides (undefined for a deleted user).
   */
  private async accountUser(sub: string): Promise<UserRecord | undefined> {
    // A hinted name being read ahead in this request (never rejects) is proved or not first.
    if (!this.usernameById.has(sub)) await requestCachedPeek(hintedKey(sub));
    const known = this.usernameById.get(sub);
    if (known !== undefined) {
      const user = await this.userNamed(known);
      if (user?.id === sub) return user;
      this.usernameById.delete(sub);
    }
    const user = await this.users.getById(sub);
    if (user) this.rememberUsername(sub, user.username);
    return user;
  }

  /** Bounded: the oldest pair goes first. */
  private rememberUsername(sub: string, username: string): void {
    this.usernameById.delete(sub);
    if (this.usernameById.size >= USERNAME_BY_ID_MAX) {
      const oldest = this.usernameById.keys().next().value;
      if (oldest !== undefined) this.usernameById.delete(oldest);
    }
    this.usernameById.set(sub, username);
  }
}
