/**
 * The login step (`/api/oidc/interaction/{uid}`): the broker session is the single source of sign-in.
 * - A valid broker session that is fresh enough (`prompt=login`: a sign-in after this interaction
 *   asked for one; `max_age`: a sign-in within it) finishes the interaction at once (single sign-on,
 *   no page).
 * - Otherwise → the broker's sign-in page with a relative `returnTo` back to this route (it survives
 *   the Entra round trip in the login transaction, and the password form keeps it), `username` from
 *   `login_hint`, and `prompt=login` when a new sign-in is needed although a session exists.
 * - A user lacking every one of the app's `allowedRoles` → the app gets `access_denied`, never a code.
 * - On success: a fresh grant for the requested scopes (no consent screen: admin-registered apps),
 *   login `amr` `pwd`/`fed` and `auth_time` = the broker session's sign-in time.
 */
import type { Clock } from '../core/clock.ts';
import type { SessionService } from '../sessions/service.ts';
import { effectiveRoles } from '../users/records.ts';
import type { UserRecord } from '../users/store.ts';
import { meetsRoles } from './accounts.ts';
import { brokerSession, cookieOf, OP_SESSION_COOKIE } from './broker-session.ts';
import { bindGrantSession } from './grant-session.ts';
import { captureResponse, type NodeTarget, toNodeRequest } from './node-exchange.ts';
import type { OidcPages } from './pages.ts';
import type { AuditRecorder, ProviderClientSource, UserSource } from './ports.ts';
import { prefetchOpSession } from './prefetch.ts';
import { INTERACTION_PATH, OIDC_MOUNT, type ProviderModule } from './provider.ts';
import type { Cookie, OidcAnswer, OidcRequest } from './request.ts';
import { indexGrant } from './session-grants.ts';
import { bindingOf, carryOver, type OpSessionLike, sidFor } from './session-switch.ts';
import type { OidcTableStore, Payload } from './store.ts';

/** An interaction's uid as the provider makes them. */
export const INTERACTION_UID = /^[A-Za-z0-9_-]{1,64}$/;

export interface LoginStepDeps {
  clock: Clock;
  store: OidcTableStore;
  users: UserSource;
  applications: ProviderClientSource;
  sessionService: SessionService;
  pages: OidcPages;
  record: AuditRecorder;
  /** The provider of this instance (built on first use). */
  provider(): Promise<ProviderModule>;
  target: NodeTarget;
}

export class LoginStep {
  constructor(private readonly d: LoginStepDeps) {}

  async run(rc: OidcRequest, uid: string): Promise<OidcAnswer> {
    const invalid = (): OidcAnswer =>
      this.d.pages.invalidRequest({ status: 400, correlationId: rc.correlationId });
    if (!INTERACTION_UID.test(uid)) return invalid();
    const { provider } = await this.d.provider();
    const req = toNodeRequest(rc, Buffer.alloc(0), this.d.target);
    const { res } = captureResponse(req);
    // The broker session (and its user: the session token names the user once verified) is read
    // while the provider reads the interaction and its OP session: they do not depend on each other.
    let userRead: Promise<UserRecord | undefined> | undefined;
    const sessionRead = brokerSession(this.d.sessionService, rc.headers, (username) => {
      userRead = this.d.users.getByUsername(username);
      userRead.catch(() => {}); // awaited below only when the session lives
    });
    sessionRead.catch(() => {}); // awaited below unless the interaction is refused
    prefetchOpSession(this.d.store, rc.headers);
    let details: Awaited<ReturnType<typeof provider.interactionDetails>>;
    try {
      details = await provider.interactionDetails(req, res);
    } catch {
      return invalid(); // no interaction cookie, expired or unknown interaction
    }
    if (details.uid !== uid) return invalid();
    const params = details.params as Record<string, unknown>;
    const clientId = String(params.client_id ?? '');
    const [app, session] = await Promise.all([this.d.applications.clientForProvider(clientId), sessionRead]);
    const cookies: Cookie[] = session?.refreshedCookie ? [session.refreshedCookie] : [];
    const user = session
      ? await (userRead && session.username ? userRead : this.d.users.getByUsername(session.username))
      : undefined;

    const prompts = new Set(String(params.prompt ?? '').split(' '));
    const maxAge = params.max_age === undefined ? undefined : Number(params.max_age);
    const needsFresh = prompts.has('login') || (maxAge !== undefined && Number.isFinite(maxAge));
    let freshSince: number | undefined;
    if (needsFresh) freshSince = await this.freshnessMark(uid, details.exp);
    const now = this.d.clock.now();
    const fresh =
      !!session &&
      (!prompts.has('login') || (freshSince !== undefined && session.authTime >= freshSince)) &&
      (maxAge === undefined ||
        !Number.isFinite(maxAge) ||
        now - session.authTime <= maxAge * 1000 ||
        (freshSince !== undefined && session.authTime >= freshSince));

    if (!session || !user || user.disabled || !fresh) {
      const q = new URLSearchParams({ returnTo: `${OIDC_MOUNT}/${INTERACTION_PATH}/${uid}` });
      if (needsFresh) q.set('prompt', 'login');
      if (typeof params.login_hint === 'string' && params.login_hint.length <= 256)
        q.set('username', params.login_hint);
      return {
        status: 302,
        headers: { Location: `/api/auth/login?${q}` },
        ...(cookies.length ? { cookies } : {}),
      };
    }

    let result: Record<string, unknown>;
    if (!app) {
      result = { error: 'access_denied', error_description: 'the application is not registered' };
      await this.auditRefusal(rc, clientId, user, 'unknown_application');
    } else if (!meetsRoles(effectiveRoles(user), app.allowedRoles)) {
      result = { error: 'access_denied', error_description: 'a role the application requires is missing' };
      await this.auditRefusal(rc, clientId, user, 'missing_role');
    } else {
      const grant = new provider.Grant({ accountId: user.id, clientId });
      grant.addOIDCScope(String(params.scope ?? 'openid'));
      // The grant's id is made here so that both rows are written together.
      const grantId = (grant as unknown as { generateTokenId(): string }).generateTokenId();
      grant.jti = grantId;
      // The grant dies with this broker session: findAccount refuses its tokens once the session ends.
      // The OP session's other grants follow the sign-in (session-switch.ts).
      const opSession = details.session?.uid
        ? ((await provider.Session.findByUid(details.session.uid)) as OpSessionLike | undefined)
        : undefined;
      const sid = sidFor(opSession, clientId, user.id);
      // The session is written on the grant's own row, by the grant's one write.
      bindGrantSession(this.d.store, grantId, session);
      const [switched] = await Promise.all([
        carryOver({ store: this.d.store, sessions: this.d.sessionService }, opSession, session, user.id),
        grant.save(),
        indexGrant(this.d.store, bindingOf(session), grantId, { clientId, sub: user.id, sid }),
      ]);
      if (switched) {
        // Another user signed in: the previous user's OP session ends here, so the authorization
        // resumes in a new one (instead of the provider's own "sign out first?" page).
        const opId = cookieOf(rc.headers, OP_SESSION_COOKIE);
        if (opId) await this.d.store.adapterFor('Session').destroy(opId);
        details.session = undefined;
      }
      result = {
        login: {
          accountId: user.id,
          amr: [session.method === 'password' ? 'pwd' : 'fed'],
          ts: Math.floor(session.authTime / 1000),
          remember: true,
        },
        consent: { grantId },
        // Noted in the OP session on resume (session-switch.ts), and the sid its ID tokens carry.
        broker: bindingOf(session),
        sid,
      };
    }
    details.result = result;
    // The interaction keeps the expiry the provider gave it (on its own clock).
    await details.save(Math.max(1, details.exp - Math.floor(Date.now() / 1000)));
    const returnTo = details.returnTo;
    return { status: 303, headers: { Location: returnTo }, ...(cookies.length ? { cookies } : {}) };
  }

  /**
   * The origin of the application a sign-in page works for, when its returnTo is this login step: the
   * redirects after the page's form post end there, and browsers apply CSP form-action to them. The
   * redirect URI was checked against the registration before the interaction was created.
   */
  async formTargetsFor(returnTo: string | null | undefined): Promise<string[]> {
    const m = returnTo ? new RegExp(`^${OIDC_MOUNT}/${INTERACTION_PATH}/([^/?#]+)$`).exec(returnTo) : null;
    if (!m || !INTERACTION_UID.test(m[1] ?? '')) return [];
    const interaction = await this.d.store.adapterFor('Interaction').find(m[1] ?? '');
    const uri = (interaction?.params as Record<string, unknown> | undefined)?.redirect_uri;
    try {
      return typeof uri === 'string' ? [new URL(uri).origin] : [];
    } catch {
      return [];
    }
  }

  /**
   * When this interaction first asked for a new sign-in (ms): written on the first visit, so a broker
   * session only counts for `prompt=login` / `max_age` if it signed in after that.
   */
  private async freshnessMark(uid: string, exp: number): Promise<number> {
    const adapter = this.d.store.adapterFor('InteractionFresh');
    const found = (await adapter.find(uid)) as Payload | undefined;
    if (found && typeof found.since === 'number') return found.since;
    const since = this.d.clock.now();
    const ttl = Math.max(1, exp - Math.floor(since / 1000));
    await adapter.upsert(uid, { since }, ttl);
    return since;
  }

  private auditRefusal(rc: OidcRequest, clientId: string, user: UserRecord, reason: string) {
    return this.d.record({
      type: 'oidc.authorization.refused',
      actor: user.username,
      target: `application:${clientId}`,
      outcome: 'failure',
      reason,
      correlationId: rc.correlationId,
      clientAddress: rc.clientAddress,
      details: { clientId, userId: user.id },
    });
  }
}
