/**
 * Single sign-on inside the authorization request (docs/security.md OP12): the provider's interaction
 * policy starts with the broker session. When the request's browser has a live broker session that
 * satisfies the request (no `prompt=login`, a sign-in within `max_age`, a user who is enabled and
 * holds a role the application requires), the authorization is answered at once: the OP session
 * signs that user in, the application's grant in it is carried on when it covers the request
 * (grant-reuse.ts) or else a fresh grant bound to the broker session is made, and the library answers
 * with the code. No page, no interaction row, no extra redirects.
 *
 * Otherwise the policy asks for an interaction, and the library does what OIDC Core 3.1.2.1 says:
 * with `prompt=none` it answers the application's redirect URI with `login_required` (no session,
 * too old, `prompt=login`) or `access_denied` (a role missing), without a page and without writing a
 * cookie (an OP session is only saved once someone signed in); without it, the browser goes to the
 * login step (`interaction/{uid}`, login-step.ts) as before.
 */
import type { interactionPolicy as PolicyLib } from 'oidc-provider';
import type { Clock } from '../core/clock.ts';
import type { SessionService } from '../sessions/service.ts';
import { effectiveRoles } from '../users/records.ts';
import { type Accounts, meetsRoles } from './accounts.ts';
import { brokerSession } from './broker-session.ts';
import { reusableGrant } from './grant-reuse.ts';
import { bindGrantSession } from './grant-session.ts';
import type { AuditRecorder, ProviderClientSource } from './ports.ts';
import type { OidcContext } from './provider.ts';
import { stateOf } from './request.ts';
import { addResourceScopes } from './resources.ts';
import { indexGrant } from './session-grants.ts';
import {
  type Binding,
  bindingOf,
  carryOver,
  noteBinding,
  type OpSessionLike,
  sidFor,
} from './session-switch.ts';
import type { OidcTableStore } from './store.ts';

export interface SsoDeps {
  clock: Clock;
  store: OidcTableStore;
  accounts: Accounts;
  applications: ProviderClientSource;
  sessionService: SessionService;
  record: AuditRecorder;
}

/** What the broker session says about one authorization request. */
type Decision = 'sign-in' | 'denied' | 'signed-in' | 'not-mine';

interface OpSession extends OpSessionLike {
  loginAccount(details: { accountId: string; loginTs: number; amr: string[] }): void;
  ensureClientContainer(clientId: string): void;
  grantIdFor(clientId: string, grantId: string): void;
  sidFor(clientId: string, sid: string): void;
}

/** The provider's interaction policy: the broker session first, then the library's login and consent prompts. */
export function interactionPolicy(lib: typeof PolicyLib, d: SsoDeps): unknown {
  const { Prompt, Check, base } = lib;
  const decisions = new WeakMap<object, Promise<Decision>>();
  const decide = (ctx: OidcContext): Promise<Decision> => {
    let p = decisions.get(ctx);
    if (!p) {
      p = answerFromBrokerSession(ctx, d);
      decisions.set(ctx, p);
    }
    return p;
  };
  const broker = new Prompt(
    { name: 'broker', requestable: false },
    new Check(
      'broker_session',
      'End-User authentication is required',
      'login_required',
      async (ctx: OidcContext) => (await decide(ctx)) === 'sign-in',
    ),
    new Check(
      'application_roles',
      'a role the application requires is missing',
      'access_denied',
      async (ctx: OidcContext) => (await decide(ctx)) === 'denied',
    ),
  );
  const policy = base();
  // prompt=consent stays a valid value, but asks for nothing: there is no consent page (admin-registered
  // applications), and `offline_access` implies it (adjustments.ts).
  const consent = policy.get('consent');
  const asked = consent?.checks.findIndex((c: { reason: string }) => c.reason === 'consent_prompt') ?? -1;
  if (consent && asked >= 0) consent.checks.splice(asked, 1);
  policy.add(broker, 0);
  return policy;
}

async function answerFromBrokerSession(ctx: OidcContext, d: SsoDeps): Promise<Decision> {
  const { oidc } = ctx;
  const st = stateOf(ctx);
  if (oidc.route !== 'authorization') {
    // A resumed authorization carries the login step's decision, and the broker session its grant
    // is bound to (noted in the OP session, which the provider saves).
    const result = oidc.result as { broker?: unknown; sid?: unknown } | undefined;
    const clientId = oidc.client?.clientId;
    const op = oidc.session as unknown as OpSession;
    if (clientId && typeof result?.sid === 'string') op.sidFor(clientId, result.sid);
    if (clientId && result?.broker) noteBinding(op, clientId, result.broker as Binding);
    // The login step made the grant without the request's APIs: their scopes are added here.
    if (oidc.grant && addResourceScopes(ctx, oidc.grant)) await oidc.grant.save();
    return 'not-mine';
  }
  if (!st || oidc.prompts.has('login')) return 'sign-in';
  const session = await (st.brokerSession ?? brokerSession(d.sessionService, st.rc.headers));
  if (!session) return 'sign-in';
  if (session.refreshedCookie) st.cookies = [...(st.cookies ?? []), session.refreshedCookie];
  const params = (oidc.params ?? {}) as Record<string, unknown>;
  const maxAge = params.max_age === undefined ? undefined : Number(params.max_age);
  if (maxAge !== undefined && d.clock.now() - session.authTime > maxAge * 1000) return 'sign-in';
  const clientId = oidc.client?.clientId ?? '';
  const [user, app] = await Promise.all([
    d.accounts.userNamed(session.username),
    d.applications.clientForProvider(clientId),
  ]);
  if (!user || user.disabled) return 'sign-in';
  if (!app) return 'denied';
  // The user's own roles and the ones their groups give (provisioning): as the login step and the
  // token endpoint decide.
  if (!meetsRoles(effectiveRoles(user), app.allowedRoles)) return 'denied';

  const op = oidc.session as unknown as OpSession;
  const scope = String(params.scope ?? 'openid');
  const requestedClaims = [
    ...Object.keys(oidc.claims?.id_token ?? {}),
    ...Object.keys(oidc.claims?.userinfo ?? {}),
  ];
  const binding = bindingOf(session);
  const sid = sidFor(op, clientId, user.id);
  // The application's grant in this OP session, when it covers this request (grant-reuse.ts).
  const reused = await reusableGrant(ctx, d.store, op, binding, user.id, clientId, scope, requestedClaims);
  const grant = reused ?? new oidc.provider.Grant({ accountId: user.id, clientId });
  let grantId = reused?.jti;
  if (!grantId) {
    grant.addOIDCScope(scope);
    if (requestedClaims.length) grant.addOIDCClaims(requestedClaims);
    addResourceScopes(ctx, grant);
    grantId = (grant as unknown as { generateTokenId(): string }).generateTokenId();
    grant.jti = grantId;
    // The grant carries its broker session on its own row (grant-session.ts), written by its one save.
    bindGrantSession(d.store, grantId, session);
  }
  const [switched, account] = await Promise.all([
    carryOver({ store: d.store, sessions: d.sessionService }, op, session, user.id),
    d.accounts.find(user.id, undefined),
    reused ? undefined : grant.save(),
    // Written again for a carried-on grant too (one request, same round): should its first write have
    // been lost, the session's end still reaches this application (back-channel logout).
    indexGrant(d.store, binding, grantId, { clientId, sub: user.id, sid }),
  ]);
  if (!account) return 'sign-in';
  if (switched) op.authorizations = {};
  op.loginAccount({
    accountId: user.id,
    loginTs: Math.floor(session.authTime / 1000),
    amr: [session.method === 'password' ? 'pwd' : 'fed'],
  });
  op.sidFor(clientId, sid);
  op.grantIdFor(clientId, grantId);
  noteBinding(op, clientId, binding);
  oidc.entity('Account', account);
  oidc.entity('Grant', grant);
  if (oidc.prompts.has('none')) {
    st.pending.push(
      d.record({
        type: 'oidc.signin.silent',
        actor: user.username,
        target: `application:${clientId}`,
        outcome: 'success',
        correlationId: st.rc.correlationId,
        clientAddress: st.rc.clientAddress,
        details: { clientId, userId: user.id },
      }),
    );
  }
  return 'signed-in';
}
