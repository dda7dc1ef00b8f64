/**
 * The broker as OpenID Provider, per instance: builds the provider lazily on the first /api/oidc
 * request (keys from Key Vault, Table Storage adapter), hands requests to it through the bridge, and
 * runs the login step (the interaction route) with the broker's own sign-in.
 *
 * Login step (`/api/oidc/interaction/{uid}`): the broker session is the single source of sign-in.
 * - A valid broker session that is fresh enough (`prompt=login`: a sign-in after this interaction
 *   asked for one; `max_age`: a sign-in within it) finishes the interaction at once (single sign-on,
 *   no page).
 * - Otherwise → the broker's sign-in page with a relative `returnTo` back to this route (it survives
 *   the Entra round trip in the login transaction, and the password form keeps it), `username` from
 *   `login_hint`, and `prompt=login` when a new sign-in is needed although a session exists.
 * - A user lacking every one of the app's `allowedRoles` → the app gets `access_denied`, never a code.
 * - On success: a fresh grant for the requested scopes (no consent screen: admin-registered apps),
 *   login `amr` `pwd`/`fed` and `auth_time` = the broker session's sign-in time.
 *
 * Accounts (`findAccount`): by the immutable user id (`sub`); undefined for a deleted or disabled
 * user or for a token whose sign-in is older than the user's last "sign out everywhere" (OP6), so
 * refresh fails with invalid_grant and userinfo refuses the access token.
 */
import { randomUUID } from 'node:crypto';
import type { TableClient } from '@azure/data-tables';
import type { Cookie, HttpRequest, HttpResponseInit } from '@azure/functions';
import type { SecretClient } from '@azure/keyvault-secrets';
import { decodeJwt } from 'jose';
import type { AuditEventInput, AuditLog } from '../audit/log.ts';
import type { Clock } from '../core/clock.ts';
import type { Config } from '../core/config.ts';
import { PayloadTooLargeError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import {
  type ActiveSession,
  SESSION_COOKIE,
  SessionRejectedError,
  type SessionService,
} from '../sessions/service.ts';
import { issuedBeforeRevocation } from '../users/service.ts';
import type { UserRecord } from '../users/store.ts';
import { expiredCookie, readCookie, sessionCookie, toCookie } from '../web/cookies.ts';
import { type BridgeTarget, bridge, captureResponse, toNodeRequest } from '../web/oidc-bridge.ts';
import { errorPage, escapeHtml, page } from '../web/pages/render.ts';
import { TEXTS, t } from '../web/pages/texts.ts';
import { KEY_REFRESH_MS, OidcKeys } from './keys.ts';
import {
  type BridgedRequest,
  createProvider,
  INTERACTION_PATH,
  OIDC_MOUNT,
  type OidcContext,
  type ProviderModule,
  TTL,
} from './provider.ts';
import { OidcTableStore, type Payload, requestCached, withRequestMemo } from './store.ts';

/** The OP session cookie (oidc-provider's default name, `cookies.names.session`). */
const OP_SESSION_COOKIE = '_session';

/** What the OP reads of an application (shared/applications/service.ts `clientForProvider`). */
export interface ProviderClientSource {
  clientForProvider(clientId: string): Promise<{ client_id: string; allowedRoles: string[] } | undefined>;
}

/** OidcStore model: grant id → the broker session it was made in. */
const GRANT_SESSION_MODEL = 'GrantSession';

export interface OidcServiceDeps {
  config: Config;
  clock: Clock;
  log: Logger;
  audit: AuditLog;
  table: TableClient;
  secrets: SecretClient;
  users: {
    getById(id: string): Promise<UserRecord | undefined>;
    getByUsername(username: string): Promise<UserRecord | undefined>;
  };
  applications: ProviderClientSource;
  sessionService: SessionService;
}

/** What the function file passes per request. */
export interface OidcRequest {
  request: HttpRequest;
  correlationId: string;
  clientAddress: string;
}

interface RequestState {
  rc: OidcRequest;
  endSession?: boolean;
  pending: Promise<unknown>[];
}

const UID = /^[A-Za-z0-9_-]{1,64}$/;
const MAX_BODY = 64 * 1024;
/** How many `sub` → username pairs an instance remembers (`accountUser`). */
const USERNAME_BY_ID_MAX = 10_000;

export class OidcService {
  readonly issuer: string;
  readonly keys: OidcKeys;
  readonly store: OidcTableStore;
  /** Table Storage operations by kind since start (benchmarks read it). */
  readonly ops: Record<string, number> = {};
  private readonly target: BridgeTarget;
  private readonly usernameById = new Map<string, string>();
  private state?: {
    built: Promise<ProviderModule & { handler: ReturnType<ProviderModule['provider']['callback']> }>;
    versions?: string;
    checkedAt: number;
  };

  constructor(private readonly d: OidcServiceDeps) {
    const base = new URL(d.config.BROKER_PUBLIC_BASE_URL);
    this.issuer = `${base.origin}${OIDC_MOUNT}`;
    this.target = { publicBaseUrl: base, mountPath: OIDC_MOUNT };
    this.keys = new OidcKeys(d.secrets);
    this.store = new OidcTableStore(d.table, d.clock, {
      count: (kind) => {
        this.ops[kind] = (this.ops[kind] ?? 0) + 1;
      },
    });
  }

  /** The provider of this instance (built on first use; rebuilt when another instance rotated the keys). */
  async provider(): Promise<
    ProviderModule & { handler: ReturnType<ProviderModule['provider']['callback']> }
  > {
    const now = this.d.clock.now();
    const s = this.state;
    if (s && now - s.checkedAt > KEY_REFRESH_MS) {
      s.checkedAt = now;
      const latest = await this.keys.currentVersions().catch(() => undefined);
      if (latest && s.versions && latest !== s.versions) this.state = undefined;
    }
    if (!this.state) {
      const state: NonNullable<OidcService['state']> = { checkedAt: now, built: Promise.resolve() as never };
      state.built = (async () => {
        const material = await this.keys.load();
        state.versions = material.versions;
        const mod = await createProvider(this.issuer, material, this.store, this.hooks());
        this.store.consumedError = () => new mod.errors.InvalidGrant('authorization code already consumed');
        return { ...mod, handler: mod.provider.callback() };
      })();
      state.built.catch(() => {
        if (this.state === state) this.state = undefined;
      });
      this.state = state;
    }
    return this.state.built;
  }

  /** Rotates the signing and cookie keys; this instance uses them at once, others within KEY_REFRESH_MS. */
  async rotateKeys(): Promise<void> {
    await this.keys.rotate();
    this.state = undefined;
  }

  /**
   * The origin of the application a sign-in page works for, when its returnTo is our login step: the
   * redirects after the page's form post end there, and browsers apply CSP form-action to them. The
   * redirect URI was checked against the registration before the interaction was created.
   */
  async formTargetsFor(returnTo: string | null | undefined): Promise<string[]> {
    const m = returnTo ? new RegExp(`^${OIDC_MOUNT}/${INTERACTION_PATH}/([^/?#]+)$`).exec(returnTo) : null;
    if (!m || !UID.test(m[1] ?? '')) return [];
    const interaction = await this.store.adapterFor('Interaction').find(m[1] ?? '');
    const uri = (interaction?.params as Record<string, unknown> | undefined)?.redirect_uri;
    try {
      return typeof uri === 'string' ? [new URL(uri).origin] : [];
    } catch {
      return [];
    }
  }

  /** Every /api/oidc/{path} request (OidcStore rows read at most once per request: `withRequestMemo`). */
  handle(rc: OidcRequest, path: string): Promise<HttpResponseInit> {
    return withRequestMemo(() => this.serve(rc, path));
  }

  private async serve(rc: OidcRequest, path: string): Promise<HttpResponseInit> {
    const m = new RegExp(`^${INTERACTION_PATH}/([^/]+)$`).exec(path);
    if (m) return this.interaction(rc, m[1] ?? '');
    const { handler } = await this.provider();
    this.prefetchResume(path);
    this.prefetchSessionUser(rc.request, path);
    const body = await readBody(rc.request);
    this.prefetchTokenGrant(rc.request, path, body);
    const state: RequestState = { rc, pending: [] };
    const response = await bridge(handler, rc.request, body, this.target, (req) => {
      (req as BridgedRequest).broker = state as unknown as Record<string, unknown>;
    });
    // The audit events the request recorded and its held OidcStore writes, together.
    await Promise.all([Promise.allSettled(state.pending), this.store.applyHeld()]);
    if (state.endSession) await this.endBrokerSession(rc.request, response);
    return response;
  }

  /**
   * The authorization's resume after the login step (`auth/{uid}`): the provider reads the OP session,
   * then this interaction, then (findAccount) the user, then the grant the login step made, one after
   * another. The interaction and its grant are read here meanwhile, into the request's memo, so the
   * provider finds them there: two round trips fewer. A bogus uid costs the read the provider makes anyway.
   */
  private prefetchResume(path: string): void {
    const uid = /^auth\/([A-Za-z0-9_-]{1,128})$/.exec(path)?.[1];
    if (!uid) return;
    const reading = (async () => {
      const interaction = await this.store.adapterFor('Interaction').find(uid);
      const grantId = (interaction?.result as { consent?: { grantId?: unknown } } | undefined)?.consent
        ?.grantId;
      if (typeof grantId === 'string') await this.store.adapterFor('Grant').find(grantId);
    })();
    reading.catch(() => {}); // the provider's own read reports a failure
  }

  /** A user row, read at most once per request (`requestCached`). */
  private userNamed(username: string): Promise<UserRecord | undefined> {
    return requestCached(`user:${username}`, () => this.d.users.getByUsername(username));
  }

  /**
   * An authorization (`auth`, `auth/{uid}`) with an OP session: the provider reads the OP session and
   * then (findAccount) its user. The broker session cookie names that user (its JWT's subject): the
   * user's row is read here meanwhile, into the request's memo, so findAccount finds it there. The
   * cookie is only a hint, not verified here: what is read is a real row, keyed by the username, and
   * findAccount still checks it names the `sub` of the verified OP session. A wrong hint costs one read.
   */
  private prefetchSessionUser(request: HttpRequest, path: string): void {
    if (path !== 'auth' && !path.startsWith('auth/')) return;
    // Without an OP session the provider calls no findAccount here: nothing to read ahead.
    if (!readCookie(request, OP_SESSION_COOKIE)) return;
    const token = readCookie(request, SESSION_COOKIE);
    if (!token || token.length > 4096) return;
    let username: string | undefined;
    try {
      username = decodeJwt(token).sub; // not verified: a hint only
    } catch {
      return;
    }
    if (!username || username.length > 256) return;
    this.userNamed(username).catch(() => {}); // findAccount's own read reports a failure
  }

  /**
   * The token endpoint: the provider reads the code (or refresh token), then its grant, then redeems it,
   * then (findAccount) the user and the grant's broker-session row. The grant and that row are read here
   * as soon as the code's row is in, into the request's memo: two round trips fewer. Only reads, of
   * rows the provider reads itself; what it does with them is unchanged (a stale read loses as before:
   * the redemption is conditional on the code's etag).
   */
  private prefetchTokenGrant(request: HttpRequest, path: string, body: Buffer): void {
    if (path !== 'token' || request.method !== 'POST' || body.length === 0 || body.length > 16_384) return;
    if (!String(request.headers.get('content-type') ?? '').startsWith('application/x-www-form-urlencoded'))
      return;
    const form = new URLSearchParams(body.toString('utf8'));
    const grantType = form.get('grant_type');
    const [model, id] =
      grantType === 'authorization_code'
        ? ['AuthorizationCode', form.get('code')]
        : grantType === 'refresh_token'
          ? ['RefreshToken', form.get('refresh_token')]
          : [undefined, null];
    if (!model || !id || id.length > 512) return;
    const reading = (async () => {
      const artifact = await this.store.adapterFor(model).find(id);
      const grantId = artifact?.grantId;
      if (typeof grantId !== 'string') return;
      await Promise.all([
        this.store.adapterFor('Grant').find(grantId),
        this.store.adapterFor(GRANT_SESSION_MODEL).find(grantId),
      ]);
    })();
    reading.catch(() => {}); // the provider's own read reports a failure
  }

  /** RP-initiated logout ended the OP session: the broker session ends too (row revoked, cookie expired). */
  private async endBrokerSession(request: HttpRequest, response: HttpResponseInit): Promise<void> {
    try {
      const session = await this.d.sessionService.authenticate(sessionCookie(request));
      await this.d.sessionService.revoke(session);
    } catch (err) {
      if (!(err instanceof SessionRejectedError)) throw err;
    }
    response.cookies = [...(response.cookies ?? []), expiredCookie(SESSION_COOKIE)];
  }

  // ------------------------------------------------------------------------------ login step

  private async interaction(rc: OidcRequest, uid: string): Promise<HttpResponseInit> {
    const product = this.d.config.BROKER_PRODUCT_NAME;
    const invalid = () =>
      errorPage({ product, status: 400, errorCase: 'app_request_invalid', correlationId: rc.correlationId });
    if (!UID.test(uid)) return invalid();
    const { provider } = await this.provider();
    const req = toNodeRequest(rc.request, Buffer.alloc(0), this.target);
    const { res } = captureResponse(req);
    // The broker session (and its user: the session token names the user once verified) is read
    // while the provider reads the interaction and its OP session: they do not depend on each other.
    let userRead: Promise<UserRecord | undefined> | undefined;
    const sessionRead = this.d.sessionService
      .authenticate(sessionCookie(rc.request), {
        onVerified: (username) => {
          userRead = this.d.users.getByUsername(username);
          userRead.catch(() => {}); // awaited below only when the session lives
        },
      })
      .catch((err: unknown) => {
        if (err instanceof SessionRejectedError) return undefined;
        throw err;
      });
    sessionRead.catch(() => {}); // awaited below unless the interaction is refused
    // The provider reads the interaction, then the OP session through its uid index, then the session
    // row. That row's id is the OP session cookie's value: read meanwhile, into the request's memo (a
    // hint only: the provider still finds the row through the uid its interaction names).
    const opSessionId = readCookie(rc.request, OP_SESSION_COOKIE);
    if (opSessionId && opSessionId.length <= 256)
      this.store
        .adapterFor('Session')
        .find(opSessionId)
        .catch(() => {});
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
    const cookies: Cookie[] = session?.refreshedCookie ? [toCookie(session.refreshedCookie)] : [];
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
    } else if (app.allowedRoles.length > 0 && !user.roles.some((r) => app.allowedRoles.includes(r))) {
      result = { error: 'access_denied', error_description: 'a role the application requires is missing' };
      await this.auditRefusal(rc, clientId, user, 'missing_role');
    } else {
      const grant = new provider.Grant({ accountId: user.id, clientId });
      grant.addOIDCScope(String(params.scope ?? 'openid'));
      // The grant's id is made here so that both rows are written together.
      const grantId = (grant as unknown as { generateTokenId(): string }).generateTokenId();
      grant.jti = grantId;
      await Promise.all([
        grant.save(),
        // The grant dies with this broker session: findAccount refuses its tokens once the session ends.
        this.store
          .adapterFor(GRANT_SESSION_MODEL)
          .upsert(grantId, { u: session.username, s: session.sessionId }, TTL.Grant),
      ]);
      result = {
        login: {
          accountId: user.id,
          amr: [session.method === 'password' ? 'pwd' : 'fed'],
          ts: Math.floor(session.authTime / 1000),
          remember: true,
        },
        consent: { grantId },
      };
    }
    const returnTo = await provider.interactionResult(req, res, result, { mergeWithLastSubmission: false });
    return { status: 303, headers: { Location: returnTo }, ...(cookies.length ? { cookies } : {}) };
  }

  /**
   * The user a `sub` names. Ids are immutable and never reused, and a username names one user row at a
   * time, so this instance remembers which username an id had: the user row is then read directly (one
   * round trip instead of the id index and then the row). The row read is the check: a user deleted
   * and created again under the same name has a new id, so the remembered name no longer matches and
   * the id index decides (undefined for a deleted user).
   */
  private async accountUser(sub: string): Promise<UserRecord | undefined> {
    const known = this.usernameById.get(sub);
    if (known !== undefined) {
      const user = await this.userNamed(known);
      if (user?.id === sub) return user;
      this.usernameById.delete(sub);
    }
    const user = await this.d.users.getById(sub);
    if (user) {
      if (this.usernameById.size >= USERNAME_BY_ID_MAX) {
        const oldest = this.usernameById.keys().next().value;
        if (oldest !== undefined) this.usernameById.delete(oldest);
      }
      this.usernameById.set(sub, user.username);
    }
    return user;
  }

  /**
   * Whether the broker session a grant was made in still lives (refresh tokens and access tokens die
   * with it: logout, idle or absolute end). Grants made before this was recorded have no row: alive.
   */
  private async grantSessionLive(grantId: string): Promise<boolean> {
    const row = (await this.store.adapterFor(GRANT_SESSION_MODEL).find(grantId)) as
      | { u?: unknown; s?: unknown }
      | undefined;
    if (!row || typeof row.u !== 'string' || typeof row.s !== 'string') return true;
    return this.d.sessionService.isLive(row.u, row.s);
  }

  /**
   * When this interaction first asked for a new sign-in (ms): written on the first visit, so a broker
   * session only counts for `prompt=login` / `max_age` if it signed in after that.
   */
  private async freshnessMark(uid: string, exp: number): Promise<number> {
    const adapter = this.store.adapterFor('InteractionFresh');
    const found = (await adapter.find(uid)) as Payload | undefined;
    if (found && typeof found.since === 'number') return found.since;
    const since = this.d.clock.now();
    const ttl = Math.max(1, exp - Math.floor(since / 1000));
    await adapter.upsert(uid, { since }, ttl);
    return since;
  }

  private auditRefusal(rc: OidcRequest, clientId: string, user: UserRecord, reason: string) {
    return this.record({
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

  private record(event: AuditEventInput): Promise<unknown> {
    return this.d.audit.record(event).catch((err: unknown) => {
      this.d.log.error('oidc.audit_failed', { error: err, type: event.type });
    });
  }

  // ------------------------------------------------------------------------------ provider hooks

  private hooks() {
    const product = this.d.config.BROKER_PRODUCT_NAME;
    const stateOf = (ctx: OidcContext) =>
      (ctx.req as BridgedRequest).broker as unknown as RequestState | undefined;
    const setPage = (ctx: OidcContext, p: HttpResponseInit) => {
      ctx.type = 'html';
      ctx.body = String(p.body);
      for (const [k, v] of Object.entries((p.headers ?? {}) as Record<string, string>)) ctx.set(k, v);
    };
    return {
      findClient: async (clientId: string) => {
        const app = await this.d.applications.clientForProvider(clientId);
        return app ? ({ ...app } as Record<string, unknown>) : undefined;
      },
      findAccount: async (ctx: OidcContext, sub: string, token: unknown) => {
        const tk = token as { iat?: number; authTime?: number; amr?: string[]; grantId?: string } | undefined;
        const [user, live] = await Promise.all([
          this.accountUser(sub),
          tk?.grantId ? this.grantSessionLive(tk.grantId) : true,
        ]);
        if (!user || user.disabled || !live) return undefined;
        const issued = tk?.authTime ?? tk?.iat;
        if (issued !== undefined && issuedBeforeRevocation(user, issued)) return undefined;
        const amr = tk?.amr;
        const integrationId = user.verifyType.kind === 'integration' ? user.verifyType.integrationId : null;
        const idp = amr?.includes('pwd')
          ? 'password'
          : amr?.includes('fed')
            ? (integrationId ?? 'federated')
            : (integrationId ?? 'password');
        void ctx;
        return {
          accountId: sub,
          claims: async () => ({
            sub,
            preferred_username: user.username,
            name: user.displayName || user.username,
            ...(user.email ? { email: user.email } : {}),
            roles: user.roles,
            idp,
          }),
        };
      },
      renderError: (ctx: OidcContext, out: { error: string }) => {
        const correlationId = stateOf(ctx)?.rc.correlationId ?? randomUUID();
        void out;
        const status = Math.max(ctx.status, 400);
        setPage(ctx, errorPage({ product, status, errorCase: 'app_request_invalid', correlationId }));
        ctx.status = status;
      },
      logoutPage: (ctx: OidcContext, form: string) => {
        const target = ctx.oidc.params?.post_logout_redirect_uri;
        let formTargets: string[] = [];
        try {
          if (typeof target === 'string') formTargets = [new URL(target).origin];
        } catch {
          formTargets = [];
        }
        setPage(
          ctx,
          page({
            product,
            title: TEXTS.appSignOutTitle,
            formTargets,
            body: `<h1>${escapeHtml(TEXTS.appSignOutTitle)}</h1>
<p>${escapeHtml(t(TEXTS.appSignOutIntro, { product }))}</p>
${form}
<button type="submit" form="op.logoutForm" name="logout" value="yes">${escapeHtml(TEXTS.signOut)}</button>`,
          }),
        );
      },
      logoutDone: (ctx: OidcContext) => {
        setPage(
          ctx,
          page({
            product,
            title: TEXTS.appSignedOutTitle,
            body: `<h1>${escapeHtml(TEXTS.appSignedOutTitle)}</h1>
<p><a class="button" href="/api/auth/login">${escapeHtml(TEXTS.signInAgain)}</a></p>`,
          }),
        );
      },
      onEvent: (name: string, ctx: OidcContext, err?: unknown) => {
        const st = stateOf(ctx);
        const clientId = ctx.oidc?.client?.clientId;
        const base = {
          target: clientId ? `application:${clientId}` : 'oidc',
          ...(st ? { correlationId: st.rc.correlationId, clientAddress: st.rc.clientAddress } : {}),
        };
        let p: Promise<unknown> | undefined;
        if (name === 'grant.success') {
          const e = ctx.oidc.entities as Record<string, { accountId?: string } | undefined>;
          const accountId =
            e.AccessToken?.accountId ?? e.RefreshToken?.accountId ?? e.Account?.accountId ?? '';
          p = this.record({
            type: 'oidc.token.issued',
            actor: accountId ? `user-id:${accountId}` : 'unknown',
            outcome: 'success',
            ...base,
            details: {
              clientId: clientId ?? null,
              userId: accountId || null,
              grantType: String(ctx.oidc.params?.grant_type ?? ''),
            },
          });
        } else if (name === 'authorization.error' || name === 'grant.error') {
          const code = (err as { error?: unknown })?.error;
          p = this.record({
            type: name === 'grant.error' ? 'oidc.token.refused' : 'oidc.authorization.refused',
            actor: 'anonymous',
            outcome: 'failure',
            reason: typeof code === 'string' && /^[a-z_]{1,64}$/.test(code) ? code : 'server_error',
            ...base,
            details: { clientId: clientId ?? null },
          });
        } else if (name === 'end_session.success') {
          // Only a logout of an OP session with a signed-in account ends the broker session: the
          // library answers a browser without one with an auto-submitting form, which any site could
          // make a visitor load (a cross-site sign-out of the broker otherwise).
          if (st && (ctx.oidc as { session?: { accountId?: string } }).session?.accountId)
            st.endSession = true;
          p = this.record({ type: 'oidc.logout', actor: 'anonymous', outcome: 'success', ...base });
        } else if (name === 'server_error') {
          this.d.log.error('oidc.server_error', { error: err, correlationId: st?.rc.correlationId });
        }
        if (p && st) st.pending.push(p);
      },
    };
  }
}

async function readBody(request: HttpRequest): Promise<Buffer> {
  if (request.method === 'GET' || request.method === 'HEAD' || request.method === 'OPTIONS')
    return Buffer.alloc(0);
  const buf = Buffer.from(await request.arrayBuffer());
  if (buf.length > MAX_BODY) throw new PayloadTooLargeError(MAX_BODY);
  return buf;
}

export type { ActiveSession };
