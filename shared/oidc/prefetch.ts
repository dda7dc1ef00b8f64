/**
 * Early reads: the provider reads OidcStore rows (and, through findAccount, user rows) one after
 * another, each read waiting for the one before. Where the request itself already names a row the
 * provider will read, it is read here meanwhile, into the request's memo (`withRequestMemo`,
 * `requestCached`), so the provider finds it there: fewer sequential round trips, never more rows.
 * Only reads of rows the provider reads itself; what it does with them is unchanged. A failed read
 * here is dropped: the provider's own read of the same row reports it.
 */
import { decodeJwt } from 'jose';
import type { SessionService } from '../sessions/service.ts';
import type { Accounts } from './accounts.ts';
import { brokerSessionToken, cookieOf, OP_SESSION_COOKIE } from './broker-session.ts';
import type { CarryingModel, HintSeal } from './carried-hints.ts';
import { boundSession, sessionLive } from './grant-session.ts';
import type { IssuedHint } from './issued-hints.ts';
import type { RequestHead } from './node-exchange.ts';
import type { OidcTableStore } from './store.ts';

const ignore = () => {};

/** Longest code, refresh or access token read ahead for (with its carried hint: 512, at most 768). */
const MAX_ARTIFACT_CHARS = 1024;

/**
 * The authorization's resume after the login step (`auth/{uid}`): the provider reads the OP session,
 * then this interaction, then (findAccount) the user, then the grant the login step made, one after
 * another. The interaction and its grant are read meanwhile: two round trips fewer. A bogus uid costs
 * the read the provider makes anyway.
 */
export function prefetchResume(store: OidcTableStore, path: string): void {
  const uid = /^auth\/([A-Za-z0-9_-]{1,128})$/.exec(path)?.[1];
  if (!uid) return;
  const reading = (async () => {
    const interaction = await store.adapterFor('Interaction').find(uid);
    const grantId = (interaction?.result as { consent?: { grantId?: unknown } } | undefined)?.consent
      ?.grantId;
    if (typeof grantId === 'string') await store.adapterFor('Grant').find(grantId);
  })();
  reading.catch(ignore);
}

/**
 * An authorization (`auth`, `auth/{uid}`) with an OP session: the provider reads the OP session and
 * then (findAccount) its user. The broker session cookie names that user (its JWT's subject): the
 * user's row is read meanwhile. The cookie is only a hint, not verified here: what is read is a real
 * row, keyed by the username, and findAccount still checks it names the `sub` of the verified OP
 * session. A wrong hint costs one read.
 */
export function prefetchSessionUser(accounts: Accounts, headers: Headers, path: string): void {
  if (path !== 'auth' && !path.startsWith('auth/')) return;
  // Without an OP session the provider calls no findAccount here: nothing to read ahead.
  if (!cookieOf(headers, OP_SESSION_COOKIE)) return;
  const token = brokerSessionToken(headers);
  if (!token || token.length > 4096) return;
  let username: string | undefined;
  try {
    username = decodeJwt(token).sub; // not verified: a hint only
  } catch {
    return;
  }
  if (!username || username.length > 256) return;
  accounts.userNamed(username).catch(ignore);
}

/**
 * An authorization with an OP session this instance has seen holding a grant for the requesting
 * application: that grant's row is read beside the OP session, so single sign-on can carry on with it
 * (sso.ts `reusableGrant`) without a round trip more. The cookie and `client_id` are only hints here:
 * the provider verifies the cookie, and the grant is used only when the OP session it reads names it.
 */
export function prefetchSessionGrant(
  store: OidcTableStore,
  request: { method: string; url: string; headers: Headers },
  path: string,
): void {
  if (path !== 'auth' || request.method !== 'GET') return;
  const sessionId = cookieOf(request.headers, OP_SESSION_COOKIE);
  if (!sessionId || sessionId.length > 256) return;
  const clientId = new URL(request.url).searchParams.get('client_id');
  if (!clientId || clientId.length > 256) return;
  const grantId = store.sessionGrantHint(sessionId, clientId);
  if (grantId) store.adapterFor('Grant').find(grantId).catch(ignore);
}

/**
 * The token endpoint: the provider reads the code (or refresh token), then its grant, then redeems it,
 * then (findAccount) the user and the grant's broker session (named on the grant's row) and whether
 * that session lives. The grant, the user (when this instance knows the `sub`'s username) and the
 * broker session the code's own row names (its grant's when the code was issued) are read as soon as
 * the code's row is in: three round trips fewer. Should the grant's row name another session (a
 * re-authentication moved the grant since), that one is read once the grant's row is in. A stale read
 * loses as before: the redemption is conditional on the code's etag, and findAccount decides.
 */
export function prefetchTokenGrant(
  store: OidcTableStore,
  request: RequestHead,
  path: string,
  body: Buffer,
  opts: { accounts?: Accounts; sessions?: Pick<SessionService, 'isLive'>; hintSeal?: HintSeal } = {},
): void {
  const { accounts, sessions } = opts;
  if (path !== 'token' || request.method !== 'POST' || body.length === 0 || body.length > 16_384) return;
  if (!String(request.headers.get('content-type') ?? '').startsWith('application/x-www-form-urlencoded'))
    return;
  const form = new URLSearchParams(body.toString('utf8'));
  const grantType = form.get('grant_type');
  const [model, id]: [CarryingModel | undefined, string | null] =
    grantType === 'authorization_code'
      ? ['AuthorizationCode', form.get('code')]
      : grantType === 'refresh_token'
        ? ['RefreshToken', form.get('refresh_token')]
        : [undefined, null];
  if (!model || !id || id.length > MAX_ARTIFACT_CHARS) return;
  // Issued here lately, or carrying its hint (carried-hints.ts): what the row will name is read
  // beside the row itself.
  const issued = store.issuedHint(model, id) ?? opts.hintSeal?.open(model, id);
  if (issued) readIssued(store, issued, accounts, sessions).catch(ignore);
  readNamedBy(store, model, id, accounts, sessions).catch(ignore);
}

/**
 * An artifact's row, then what it names, together: its user (when this instance knows the `sub`'s
 * username), the broker session on its own row, and its grant, whose row names the grant's broker
 * session (read too, should it be another one).
 */
async function readNamedBy(
  store: OidcTableStore,
  model: string,
  id: string,
  accounts?: Accounts,
  sessions?: Pick<SessionService, 'isLive'>,
): Promise<void> {
  const artifact = await store.adapterFor(model).find(id);
  const grantId = artifact?.grantId;
  if (typeof grantId !== 'string') return;
  const sub = artifact?.accountId;
  const hint = store.sessionHint(model, id);
  await Promise.all([
    typeof sub === 'string' ? accounts?.readAhead(sub) : undefined,
    sessions && hint ? sessionLive(sessions, hint.u, hint.s) : undefined,
    (async () => {
      const bound = await boundSession(store, grantId);
      if (sessions && bound) await sessionLive(sessions, bound.u, bound.s);
    })(),
  ]);
}

/**
 * What a code, refresh or access token will name (issued-hints.ts: this instance's memory of what it
 * issued; carried-hints.ts: what the value carries): its grant, its user, the grant's broker session
 * and the OP session it ends with. Reads only, into the request's memo; the artifact's own row, read
 * meanwhile, still decides what the provider does with them.
 */
async function readIssued(
  store: OidcTableStore,
  hint: IssuedHint,
  accounts?: Accounts,
  sessions?: Pick<SessionService, 'isLive'>,
): Promise<void> {
  const op = hint.opSession;
  if (op) store.noteSessionRow(op.uid, op.pk, op.rk);
  await Promise.all([
    hint.sub ? accounts?.readAhead(hint.sub, hint.brokerSession?.u) : undefined,
    sessions && hint.brokerSession
      ? sessionLive(sessions, hint.brokerSession.u, hint.brokerSession.s)
      : undefined,
    boundSession(store, hint.grantId),
    op ? store.read(op.pk, op.rk) : undefined,
  ]);
}

/**
 * userinfo (`me`) with a bearer access token: the provider reads the token, then (a token that ends
 * with its OP session) that session, then (findAccount) the user, the grant and the grant's broker
 * session, one after another. What the token carries (carried-hints.ts) is read beside the token
 * itself; without it (a value whose hint this instance cannot open), what the token's row names is
 * read as soon as that row is in. A token sent another way (a form body, the DPoP scheme) is simply
 * not read ahead.
 */
export function prefetchUserinfo(
  store: OidcTableStore,
  headers: Headers,
  path: string,
  opts: { accounts?: Accounts; sessions?: Pick<SessionService, 'isLive'>; hintSeal?: HintSeal } = {},
): void {
  if (path !== 'me') return;
  const { accounts, sessions } = opts;
  const token = /^Bearer ([A-Za-z0-9._~+/-]{1,1024}=*)$/i.exec(headers.get('authorization') ?? '')?.[1];
  if (!token) return;
  // What the token carries (carried-hints.ts) is read beside its row: one round trip in all.
  const carried = opts.hintSeal?.open('AccessToken', token);
  if (carried) readIssued(store, carried, accounts, sessions).catch(ignore);
  readNamedBy(store, 'AccessToken', token, accounts, sessions).catch(ignore);
}

/**
 * The login step: the provider reads the interaction, then the OP session through its uid index, then
 * the session row. That row's id is the OP session cookie's value: read meanwhile (a hint only: the
 * provider still finds the row through the uid its interaction names).
 */
export function prefetchOpSession(store: OidcTableStore, headers: Headers): void {
  const opSessionId = cookieOf(headers, OP_SESSION_COOKIE);
  if (opSessionId && opSessionId.length <= 256) store.adapterFor('Session').find(opSessionId).catch(ignore);
}
