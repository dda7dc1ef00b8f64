/**
 * Table Storage requests and sequential round trips per sign-in leg, counted at a TCP proxy in front
 * of Azurite (scripts/standins/table-proxy.ts): the test app's TableClients all go through it. A warm
 * instance: one sign-in first fills the caches (signing key, integration secret, MSAL client), the
 * second is measured. Counts, never timings.
 *
 * The expected numbers are what the code does TODAY. They are upper bounds by intent: a change that
 * ADDS a request or a sequential round trip must fail here. A change that removes some must lower the
 * constant in the same commit (the test asserts equality so the numbers here stay the truth).
 */
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEMO_ENTRA,
  DEMO_MANAGED_IDENTITY,
  demoTenant,
  type EntraStandIn,
  startEntraStandIn,
} from '../../scripts/standins/entra.ts';
import { type KeyVaultStandIn, startKeyVaultStandIn } from '../../scripts/standins/keyvault.ts';
import { type LegStats, startTableProxy, type TableProxy } from '../../scripts/standins/table-proxy.ts';
import { manualClock } from '../../shared/core/clock.ts';
import { fromPem } from '../../shared/entra/x509.ts';
import {
  CERTIFICATE_ASSERTION_LIFETIME_S,
  CERTIFICATE_REUSE_MARGIN_S,
} from '../../shared/integrations/credentials/assertions.ts';
import { HintSeal } from '../../shared/oidc/carried-hints.ts';
import { HINT_LIFETIMES } from '../../shared/oidc/provider.ts';
import { SETTINGS_CACHE_TTL_MS } from '../../shared/settings/service.ts';
import { userPartition } from '../../shared/users/store.ts';
import { authorize, createApplication, redeem, userinfoStatus } from '../helpers/oidc.ts';
import { BrokerBrowser, createDemoIntegration, createUser, demoAccount } from '../helpers/signin.ts';
import { stack, startTestApp, type TestApp } from '../helpers/stack.ts';
import { graph } from '../standins/credential-helpers.ts';

// ---- measured on the current code (warm instance); lower them, never raise them. The issue-12 targets
// for a returning Entra user are start ≤ 1 round / 2 requests and callback ≤ 3 rounds / 5 requests;
// the callback now takes 2 storage rounds (slot, state and user together; then session and audit), with
// Entra in between.
/** POST /api/auth/login for an integration user → 302 to Entra. */
const ENTRA_START = { requests: 2, rounds: 1 };
/** GET /api/auth/callback for a user already bound (returning), warm instance. */
const ENTRA_CALLBACK = { requests: 5, rounds: 2 };
/**
 * An application's first sign-in in a broker session (authorize answered inside /auth from the broker
 * session, then the token request), warm instance: the authorization limit's slot is taken while the
 * OP session, the broker session's row and the user are read, all together; then the grant (its row
 * names its broker session), the session's grant index (session → grants, for back-channel logout),
 * the code (naming the grant's broker session too) and the OP session are written together. A code
 * has no grant index row. Each row is read at most once per request, and a request's writes are held
 * and applied together before it answers (`withRequestMemo`). The same at an instance that has not
 * seen this OP session's grants.
 */
const APP_AUTHORIZE_FRESH = { requests: 8, rounds: 2 };
/**
 * The application signs in again in the same broker session, at an instance that saw its grant: the
 * grant's row is read beside the OP session (with the slot, the broker session and the user), and
 * carried on (grant-reuse.ts); the OP session, unchanged but for its expiry, is not written again
 * (SESSION_REWRITE_SLACK_MS): only the code is written, and the grant's entry in the broker session's
 * grant index again (idempotent: a lost first write must not keep the app from back-channel logout).
 */
const APP_AUTHORIZE = { requests: 7, rounds: 2 };
/**
 * The token request at the instance that issued the code: the limit's slot, the code, and what this
 * instance remembers the code names (its grant, the user, the broker session), together; then the
 * redemption (conditional on the code's etag), the two tokens, the refresh token's grant index row
 * (an access token has none: its grant decides) and the audit event, together.
 */
const APP_TOKEN = { requests: 10, rounds: 2 };
/**
 * The same at another instance (nothing remembered, not even the user's name): the code carries what
 * its row names, sealed (carried-hints.ts), so those rows are read beside it as at the instance that
 * issued it.
 */
const APP_TOKEN_ELSEWHERE = { requests: 10, rounds: 2 };
/**
 * The same with a code whose carried hint this instance cannot open (sealed under a cookie key it no
 * longer holds): the slot and the code; then what the code's row names, together; then the writes.
 */
const APP_TOKEN_UNHINTED = { requests: 10, rounds: 3 };
/**
 * The same without `offline_access`: the code ends with its OP session, which the library checks
 * before it redeems. The code's row (and this instance's memory of it) names the session's row, read
 * beside the grant (no uid index): the same rounds, the refresh token and its index row fewer, the
 * session more.
 */
const APP_TOKEN_SESSION_BOUND = { requests: 9, rounds: 2 };
/** The same at another instance: the code carries what its row names, its OP session's row too. */
const APP_TOKEN_SESSION_BOUND_ELSEWHERE = { requests: 9, rounds: 2 };
/**
 * The same at another instance for codes whose OP session gets its row only when the request that
 * makes the code ends: a re-authentication that moves the session to a new row, and an app's first
 * sign-in in a browser, which makes the OP session. The code's hint names the row the session is
 * saved under (carried-hints.ts `bitsOfOpaqueRandomness`), not the one it had or none.
 */
const APP_TOKEN_NEW_SESSION_ROW_ELSEWHERE = APP_TOKEN_SESSION_BOUND_ELSEWHERE;
/** userinfo with a value that is no live access token (a used code, an expired token): its row only. */
const USERINFO_NOISE = { requests: 1, rounds: 1 };
/**
 * A refresh at the instance that issued the refresh token: the slot, the token, its grant, the user
 * and the broker session, together; then the rotation (the old token consumed, conditional on its
 * etag; the new one, its grant index row, and an access token) and the audit event, together.
 */
const APP_REFRESH = { requests: 10, rounds: 2 };
/**
 * userinfo with such an access token, at any instance: the token carries what its row names, sealed
 * (carried-hints.ts), so the token, the OP session (no uid index), the user, the grant and the broker
 * session are read together.
 */
const APP_USERINFO_SESSION_BOUND = { requests: 5, rounds: 1 };
/**
 * The same with a token whose hint this instance cannot open, at an instance that knows nothing (as
 * every instance did before tokens carried hints): the token; then the OP session, the grant and the
 * broker session its row names; then the id index for the user's name; then the user's row.
 */
const APP_USERINFO_UNHINTED = { requests: 6, rounds: 4 };
/**
 * `prompt=none` with a broker session: the round trips of a single sign-on authorization; one request
 * more, written in the same round: the silent sign-in's audit event.
 */
const APP_SILENT = { requests: APP_AUTHORIZE.requests + 1, rounds: APP_AUTHORIZE.rounds };
/**
 * GET /api/auth/callback on a user's first Entra sign-in (the binding is written), warm instance:
 * username first, and IdP first (no username given: the binding index is read, then the claim's user
 * by name or email). Then that user's IdP-first return.
 */
const ENTRA_FIRST_CALLBACK = { requests: 11, rounds: 7 };
const ENTRA_IDP_FIRST_CALLBACK = { requests: 14, rounds: 11 };
const ENTRA_IDP_RETURNING_CALLBACK = { requests: 6, rounds: 4 };
/**
 * POST /api/auth/password → 303 with a session, warm instance: round 1, together: the user read, the
 * address's slot (insert) and backoff row (read), the account's counter (insert); then argon2; round 2,
 * together: the account's counter and the address slot deleted, the session and audit inserts.
 */
const PASSWORD_SIGN_IN = { requests: 8, rounds: 2 };
/**
 * GET /api/auth/login (the signed-in page) and GET /api/auth/session with a live session, warm
 * instance: the session's row and the user's, read together (signed-in.ts); the applications the page
 * lists are cached per instance.
 */
const SIGNED_IN_PAGE = { requests: 2, rounds: 1 };
const SESSION_INFO = { requests: 2, rounds: 1 };
/**
 * Key Vault requests of a warm Entra sign-in per credential kind: federated assertions are signed
 * with the OP's key already in memory, the managed identity's token is cached by @azure/identity, a
 * certificate assertion is kept until shortly before it expires. A certificate signs once per
 * assertion lifetime, not per sign-in.
 */
const KEY_VAULT_WARM_SIGN_IN = { federated: 0, managedIdentity: 0, certificate: 0 };
const KEY_VAULT_SIGNS_PER_CERTIFICATE_ASSERTION = 1;

const ROUND_TRIP_MS = 100;
const PASSWORD = 'Roundtrips-Password-Correct-42!';

let proxy: TableProxy;
let app: TestApp;
/** Stands still unless a test moves it (to let a per-instance cache go stale). */
const clock = manualClock(Date.now());

beforeAll(async () => {
  // A held round trip makes requests issued together overlap for sure on a busy machine (loopback
  // answers can be faster than the event loop issues the next parallel request); sequential ones
  // never overlap whatever the delay. Counting stays independent of speed.
  proxy = await startTableProxy({ target: stack().tableEndpoint, rttMs: ROUND_TRIP_MS });
  // A clock that stands still: "warm" means every per-instance cache (settings: 2 s) is still fresh
  // when the measured sign-in runs, however slow the machine is.
  app = await startTestApp({
    clock,
    env: { BROKER_TABLE_ENDPOINT: proxy.endpoint },
  });
});
afterAll(async () => {
  await app?.close();
  await proxy?.close();
});

/** Runs `leg` with the proxy's counters reset, waits for background writes, returns the leg's counts. */
async function measure<T>(leg: () => Promise<T>): Promise<{ result: T; stats: LegStats }> {
  await proxy.idle();
  proxy.reset();
  const result = await leg();
  await proxy.idle();
  return { result, stats: proxy.snapshot() };
}

const counts = (s: LegStats) => ({ requests: s.requests, rounds: s.rounds });

describe('Table round trips per sign-in leg (counting proxy in front of Azurite)', () => {
  it('the proxy sees the app’s Table traffic', async () => {
    const before = proxy.total;
    const res = await app.admin('/api/manage/users?limit=1');
    expect(res.status).toBe(200);
    await proxy.idle();
    expect(proxy.total).toBeGreaterThan(before);
  });

  it('returning Entra user: start and callback legs', async () => {
    const integration = await createDemoIntegration(app);
    await createUser(app, {
      username: 'rt-entra',
      email: demoAccount('rt-entra'),
      verifyType: { integrationId: integration.id },
    });
    // First sign-in binds the account and warms every cache; the second is the returning user.
    const warm = await new BrokerBrowser(app).signInWithEntra('rt-entra', 'rt-entra');
    expect(warm.callback.status).toBe(302);

    const b = new BrokerBrowser(app);
    const start = await measure(() => b.post('/api/auth/login', { username: 'rt-entra' }));
    expect(start.result.status).toBe(302);
    const callbackUrl = await b.entraLogin(start.result.headers.get('location') as string, 'rt-entra');
    const callback = await measure(() => b.get(callbackUrl));
    expect(callback.result.status).toBe(302);
    expect((await b.session()).status).toBe(200);

    expect(counts(start.stats), start.stats.timeline.join('\n')).toEqual(ENTRA_START);
    expect(counts(callback.stats), callback.stats.timeline.join('\n')).toEqual(ENTRA_CALLBACK);
  });

  it('a stale settings cache adds a request to a leg, never a round trip', async () => {
    const integration = await createDemoIntegration(app);
    await createUser(app, {
      username: 'rt-stale',
      email: demoAccount('rt-stale'),
      verifyType: { integrationId: integration.id },
    });
    const warm = await new BrokerBrowser(app).signInWithEntra('rt-stale', 'rt-stale');
    expect(warm.callback.status).toBe(302);

    const b = new BrokerBrowser(app);
    // Settings are cached for SETTINGS_CACHE_TTL_MS; integration rows for 5 s (still fresh at the end).
    clock.advance(SETTINGS_CACHE_TTL_MS + 1);
    const start = await measure(() => b.post('/api/auth/login', { username: 'rt-stale' }));
    expect(start.result.status).toBe(302);
    const callbackUrl = await b.entraLogin(start.result.headers.get('location') as string, 'rt-stale');
    clock.advance(SETTINGS_CACHE_TTL_MS + 1);
    const callback = await measure(() => b.get(callbackUrl));
    expect(callback.result.status).toBe(302);

    const stale = { requests: 1, rounds: 0 };
    const plus = (a: typeof stale, b: typeof stale) => ({
      requests: a.requests + b.requests,
      rounds: a.rounds + b.rounds,
    });
    expect(counts(start.stats), start.stats.timeline.join('\n')).toEqual(plus(ENTRA_START, stale));
    expect(counts(callback.stats), callback.stats.timeline.join('\n')).toEqual(plus(ENTRA_CALLBACK, stale));
  });

  it('first Entra sign-in (username first, IdP first) and an IdP-first return', async () => {
    const integration = await createDemoIntegration(app);
    const entraUser = (username: string) =>
      createUser(app, {
        username,
        email: demoAccount(username),
        verifyType: { integrationId: integration.id },
      });
    await entraUser('rt-first-warm');
    await entraUser('rt-first');
    await entraUser('rt-idp');
    // Another user's first sign-in warms the caches.
    const warm = await new BrokerBrowser(app).signInWithEntra('rt-first-warm', 'rt-first-warm');
    expect(warm.callback.status).toBe(302);

    const b = new BrokerBrowser(app);
    const start = await b.post('/api/auth/login', { username: 'rt-first' });
    expect(start.status).toBe(302);
    const firstUrl = await b.entraLogin(start.headers.get('location') as string, 'rt-first');
    const first = await measure(() => b.get(firstUrl));
    expect(first.result.status).toBe(302);
    expect((await b.session()).status).toBe(200);

    const idpFirst = async () => {
      const i = new BrokerBrowser(app);
      const s = await i.get(`/api/auth/login/${integration.id}`);
      expect(s.status).toBe(302);
      const url = await i.entraLogin(s.headers.get('location') as string, 'rt-idp');
      const cb = await measure(() => i.get(url));
      expect(cb.result.status).toBe(302);
      expect(await (await i.session()).json()).toMatchObject({ username: 'rt-idp' });
      return cb.stats;
    };
    const idp = await idpFirst();
    const idpAgain = await idpFirst();

    expect(counts(first.stats), first.stats.timeline.join('\n')).toEqual(ENTRA_FIRST_CALLBACK);
    expect(counts(idp), idp.lines.join('\n')).toEqual(ENTRA_IDP_FIRST_CALLBACK);
    expect(counts(idpAgain), idpAgain.lines.join('\n')).toEqual(ENTRA_IDP_RETURNING_CALLBACK);
  });

  it('password sign-in', async () => {
    await createUser(app, { username: 'rt-pw', verifyType: 'password', password: PASSWORD });
    const warm = await new BrokerBrowser(app).post('/api/auth/password', {
      username: 'rt-pw',
      password: PASSWORD,
    });
    expect(warm.status).toBe(303);

    const b = new BrokerBrowser(app);
    const signIn = await measure(() =>
      b.post('/api/auth/password', { username: 'rt-pw', password: PASSWORD }),
    );
    expect(signIn.result.status).toBe(303);
    expect(counts(signIn.stats), signIn.stats.timeline.join('\n')).toEqual(PASSWORD_SIGN_IN);
  });

  it('the signed-in page and the session endpoint', async () => {
    await createUser(app, { username: 'rt-page', verifyType: 'password', password: PASSWORD });
    const b = new BrokerBrowser(app);
    expect((await b.post('/api/auth/password', { username: 'rt-page', password: PASSWORD })).status).toBe(
      303,
    );
    expect((await b.get('/api/auth/login', { accept: 'text/html' })).status).toBe(200); // warm: applications

    const page = await measure(() => b.get('/api/auth/login', { accept: 'text/html' }));
    expect(page.result.status).toBe(200);
    expect(await page.result.text()).toContain('rt-page');
    const info = await measure(() => b.session());
    expect(await info.result.json()).toMatchObject({ username: 'rt-page' });

    expect(counts(page.stats), page.stats.timeline.join('\n')).toEqual(SIGNED_IN_PAGE);
    expect(counts(info.stats), info.stats.timeline.join('\n')).toEqual(SESSION_INFO);
  });

  it('an application signs a user in through the OpenID Provider, with a broker session', async () => {
    /** What another instance would not know: the artifacts this one issued, and users' names. */
    const forgetInstanceMemory = () => {
      app.services.oidc.store.issued.clear();
      (
        app.services.oidc as unknown as { accounts: { usernameById: Map<string, string> } }
      ).accounts.usernameById.clear();
    };
    /** Runs `fn` as an instance that cannot open the hints values carry (it holds other cookie keys). */
    const withoutOpeningHints = async <T>(fn: () => Promise<T>): Promise<T> => {
      const built = (await app.services.oidc.provider()) as { hintSeal: HintSeal };
      const own = built.hintSeal;
      built.hintSeal = new HintSeal(['a cookie key this instance does not hold'], HINT_LIFETIMES);
      try {
        return await fn();
      } finally {
        built.hintSeal = own;
      }
    };
    await createUser(app, { username: 'rt-app', verifyType: 'password', password: PASSWORD });
    const rp = await createApplication(app);
    const b = new BrokerBrowser(app);
    expect((await b.post('/api/auth/password', { username: 'rt-app', password: PASSWORD })).status).toBe(303);
    await redeem(rp, await authorize(b, rp)); // warm: OP keys, client cache

    // Another application's first sign-in in this session, and this one's at an instance that has not
    // seen the session's grants: a fresh grant each.
    const other = await createApplication(app);
    const first = await measure(() => authorize(b, other));
    expect(first.result.callbackUrl?.searchParams.get('code')).toBeTruthy();
    expect(counts(first.stats), first.stats.timeline.join('\n')).toEqual(APP_AUTHORIZE_FRESH);
    app.services.oidc.store.sessionGrants.clear();
    const cold = await measure(() => authorize(b, rp));
    expect(counts(cold.stats), cold.stats.timeline.join('\n')).toEqual(APP_AUTHORIZE_FRESH);
    await redeem(rp, cold.result);

    const auth = await measure(() => authorize(b, rp));
    expect(auth.result.callbackUrl?.searchParams.get('code')).toBeTruthy();
    const token = await measure(() => redeem(rp, auth.result));
    expect(token.result.id_token).toBeTruthy();
    expect(counts(auth.stats), auth.stats.timeline.join('\n')).toEqual(APP_AUTHORIZE);
    expect(counts(token.stats), token.stats.timeline.join('\n')).toEqual(APP_TOKEN);

    const refreshed = await measure(() =>
      oidc.refreshTokenGrant(rp.config, token.result.refresh_token as string),
    );
    expect(refreshed.result.access_token).toBeTruthy();
    expect(counts(refreshed.stats), refreshed.stats.timeline.join('\n')).toEqual(APP_REFRESH);

    // Another instance: what this one remembers of the codes it issued and of usernames is not there.
    const elsewhere = await authorize(b, rp);
    forgetInstanceMemory();
    const elsewhereToken = await measure(() => redeem(rp, elsewhere));
    expect(elsewhereToken.result.refresh_token).toBeTruthy();
    expect(counts(elsewhereToken.stats), elsewhereToken.stats.timeline.join('\n')).toEqual(
      APP_TOKEN_ELSEWHERE,
    );
    // Its refresh token carries its hint too: refreshed elsewhere in the same rounds.
    forgetInstanceMemory();
    const refreshedElsewhere = await measure(() =>
      oidc.refreshTokenGrant(rp.config, elsewhereToken.result.refresh_token as string),
    );
    expect(refreshedElsewhere.result.access_token).toBeTruthy();
    expect(counts(refreshedElsewhere.stats), refreshedElsewhere.stats.timeline.join('\n')).toEqual(
      APP_REFRESH,
    );

    // An instance that cannot open the code's hint: the rows its row names are read after it.
    const unhinted = await authorize(b, rp);
    app.services.oidc.store.issued.clear();
    const unhintedToken = await withoutOpeningHints(() => measure(() => redeem(rp, unhinted)));
    expect(unhintedToken.result.refresh_token).toBeTruthy();
    expect(counts(unhintedToken.stats), unhintedToken.stats.timeline.join('\n')).toEqual(APP_TOKEN_UNHINTED);

    const silent = await measure(() => authorize(b, rp, { prompt: 'none' }));
    expect(silent.result.callbackUrl?.searchParams.get('code')).toBeTruthy();
    expect(counts(silent.stats), silent.stats.timeline.join('\n')).toEqual(APP_SILENT);

    const bound = await authorize(b, rp, { scope: 'openid profile email' });
    const boundToken = await measure(() => redeem(rp, bound));
    expect(boundToken.result.refresh_token).toBeUndefined();
    expect(counts(boundToken.stats), boundToken.stats.timeline.join('\n')).toEqual(APP_TOKEN_SESSION_BOUND);
    const sub = boundToken.result.claims()?.sub as string;
    const info = await measure(() => oidc.fetchUserInfo(rp.config, boundToken.result.access_token, sub));
    expect(info.result.sub).toBe(sub);
    expect(counts(info.stats), info.stats.timeline.join('\n')).toEqual(APP_USERINFO_SESSION_BOUND);
    const boundElsewhere = await authorize(b, rp, { scope: 'openid profile email' });
    forgetInstanceMemory();
    const boundElsewhereToken = await measure(() => redeem(rp, boundElsewhere));
    expect(boundElsewhereToken.result.id_token).toBeTruthy();
    expect(counts(boundElsewhereToken.stats), boundElsewhereToken.stats.timeline.join('\n')).toEqual(
      APP_TOKEN_SESSION_BOUND_ELSEWHERE,
    );

    // A new sign-in in the same browser (prompt=login) gives the OP session a new row in the request
    // that makes the code: the code and its tokens name the new row, read at once at another instance.
    clock.advance(1000); // the clock stands still: a sign-in only counts as new once it is later
    const again = await authorize(b, rp, {
      scope: 'openid profile email',
      prompt: 'login',
      login: { kind: 'password', username: 'rt-app', password: PASSWORD },
    });
    expect(again.loginPages).toBe(1);
    forgetInstanceMemory();
    const againToken = await measure(() => redeem(rp, again));
    expect(counts(againToken.stats), againToken.stats.timeline.join('\n')).toEqual(
      APP_TOKEN_NEW_SESSION_ROW_ELSEWHERE,
    );
    forgetInstanceMemory();
    const againInfo = await measure(() => oidc.fetchUserInfo(rp.config, againToken.result.access_token, sub));
    expect(counts(againInfo.stats), againInfo.stats.timeline.join('\n')).toEqual(APP_USERINFO_SESSION_BOUND);
    forgetInstanceMemory();
    const unhintedInfo = await withoutOpeningHints(() =>
      measure(() => oidc.fetchUserInfo(rp.config, againToken.result.access_token, sub)),
    );
    expect(counts(unhintedInfo.stats), unhintedInfo.stats.timeline.join('\n')).toEqual(APP_USERINFO_UNHINTED);

    // A browser's first application sign-in makes its OP session in the request that makes the code.
    const fresh = new BrokerBrowser(app);
    expect((await fresh.post('/api/auth/password', { username: 'rt-app', password: PASSWORD })).status).toBe(
      303,
    );
    const firstInBrowser = await authorize(fresh, rp, { scope: 'openid profile email' });
    expect(firstInBrowser.loginPages).toBe(0);
    forgetInstanceMemory();
    const firstToken = await measure(() => redeem(rp, firstInBrowser));
    expect(counts(firstToken.stats), firstToken.stats.timeline.join('\n')).toEqual(
      APP_TOKEN_NEW_SESSION_ROW_ELSEWHERE,
    );

    // Noise costs what it did before hints: a used code sent to userinfo opens no hint (another
    // kind), and an expired access token none either (past its lifetime): the value's own row only.
    const usedCode = firstInBrowser.callbackUrl?.searchParams.get('code') as string;
    const codeAsToken = await measure(() => userinfoStatus(app, usedCode));
    expect(codeAsToken.result).toBe(401);
    expect(counts(codeAsToken.stats), codeAsToken.stats.timeline.join('\n')).toEqual(USERINFO_NOISE);
    const started = clock.now();
    clock.advance((HINT_LIFETIMES.AccessToken + 1) * 1000);
    try {
      const expired = await measure(() => userinfoStatus(app, firstToken.result.access_token));
      expect(expired.result).toBe(401);
      expect(counts(expired.stats), expired.stats.timeline.join('\n')).toEqual(USERINFO_NOISE);
    } finally {
      clock.set(started);
    }
  });

  it('counts requests run together as one round trip', async () => {
    // The proxy's own rule, checked with the app's real clients: parallel reads are one round.
    const { stats } = await measure(() =>
      Promise.all([
        app.services.tables.users.getEntity(userPartition('nobody-1'), 'nobody-1').catch(() => undefined),
        app.services.tables.users.getEntity(userPartition('nobody-2'), 'nobody-2').catch(() => undefined),
        app.services.tables.users.getEntity(userPartition('nobody-3'), 'nobody-3').catch(() => undefined),
      ]),
    );
    expect(stats.requests).toBe(3);
    expect(stats.rounds, stats.timeline.join('\n')).toBe(1);
    const sequential = await measure(async () => {
      for (const key of ['nobody-4', 'nobody-5']) {
        await app.services.tables.users.getEntity(userPartition(key), key).catch(() => undefined);
      }
    });
    expect(counts(sequential.stats)).toEqual({ requests: 2, rounds: 2 });
  });
});

describe('Key Vault calls of a warm Entra sign-in, per credential kind', () => {
  const APP_IDS = {
    federated: 'aa11aa11-0000-4000-8000-0000000000a1',
    managedIdentity: 'aa11aa11-0000-4000-8000-0000000000a2',
    certificate: 'aa11aa11-0000-4000-8000-0000000000a3',
  } as const;
  const kvClock = manualClock(Date.now());
  let kv: KeyVaultStandIn;
  let entra: EntraStandIn;
  let kvApp: TestApp;
  const saved = { endpoint: process.env.IDENTITY_ENDPOINT, header: process.env.IDENTITY_HEADER };

  beforeAll(async () => {
    const tenant = demoTenant();
    for (const clientId of Object.values(APP_IDS)) tenant.apps.push({ clientId, redirectUris: ['*'] });
    kv = await startKeyVaultStandIn();
    // Entra takes a certificate assertion again until it expires (the broker keeps one per lifetime).
    entra = await startEntraStandIn({
      tenants: [tenant],
      refuseReplayedAssertions: false,
      now: () => kvClock.now(),
    });
    process.env.IDENTITY_ENDPOINT = entra.managedIdentityEndpoint;
    process.env.IDENTITY_HEADER = entra.identityHeader;
    kvApp = await startTestApp({
      clock: kvClock,
      env: {
        BROKER_KEY_VAULT_URI: kv.url,
        BROKER_ENTRA_PUBLIC_AUTHORITY_HOST: entra.host,
        AZURE_CLIENT_ID: DEMO_MANAGED_IDENTITY.clientId,
      },
    });
  });
  afterAll(async () => {
    await kvApp?.close();
    await entra?.close();
    await kv?.close();
    for (const [key, value] of [
      ['IDENTITY_ENDPOINT', saved.endpoint],
      ['IDENTITY_HEADER', saved.header],
    ] as const) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  });

  /** An active integration of `kind`, set up in Entra as its page says. */
  async function integrationOf(kind: keyof typeof APP_IDS): Promise<string> {
    const res = await kvApp.admin('/api/manage/integrations', {
      method: 'POST',
      json: {
        kind: 'azure-ad',
        title: `KV ${kind}`,
        applicationId: APP_IDS[kind],
        tenant: DEMO_ENTRA.tenantId,
        credential: { kind },
      },
    });
    expect(res.status, await res.clone().text()).toBe(201);
    const created = await res.json();
    const values = created.credential.federated ?? created.credential.managedIdentity;
    const path = `/applications(appId='${APP_IDS[kind]}')`;
    const registered = values
      ? await graph(entra, 'POST', `${path}/federatedIdentityCredentials`, {
          name: 'broker',
          issuer: values.issuer,
          subject: values.subject,
          audiences: [values.audience],
        })
      : await graph(entra, 'PATCH', path, {
          keyCredentials: [
            {
              type: 'AsymmetricX509Cert',
              usage: 'Verify',
              key: fromPem(created.credential.certificate.pem).toString('base64'),
            },
          ],
        });
    expect(registered.status).toBeLessThan(300);
    const activated = await kvApp.admin(`/api/manage/integrations/${created.id}/activate`, {
      method: 'POST',
    });
    expect(activated.status, await activated.clone().text()).toBe(200);
    return created.id;
  }

  /** Key Vault requests made by `leg` (the SDK's unauthenticated challenge request not counted). */
  async function vaultCalls(leg: () => Promise<void>): Promise<string[]> {
    kv.resetRequests();
    await leg();
    return kv.requests.filter((r) => r.status !== 401).map((r) => `${r.method} ${r.path}`);
  }

  async function signIn(username: string): Promise<void> {
    const { callback } = await new BrokerBrowser(kvApp).signInWithEntra(username, username);
    expect(callback.status, await callback.clone().text()).toBe(302);
  }

  for (const kind of ['federated', 'managedIdentity', 'certificate'] as const) {
    it(`${kind}: a warm sign-in makes ${KEY_VAULT_WARM_SIGN_IN[kind]} Key Vault calls`, async () => {
      const id = await integrationOf(kind);
      const username = `kv-${kind.toLowerCase()}`;
      await createUser(kvApp, { username, email: demoAccount(username), verifyType: { integrationId: id } });
      await signIn(username);
      const calls = await vaultCalls(() => signIn(username));
      expect(calls.length, calls.join('\n')).toBe(KEY_VAULT_WARM_SIGN_IN[kind]);
    });
  }

  it('certificate: one Key Vault sign per assertion lifetime, not per sign-in', async () => {
    const username = 'kv-certificate';
    // Past the kept assertion's reuse window: the next sign-in needs a new one.
    kvClock.advance((CERTIFICATE_ASSERTION_LIFETIME_S - CERTIFICATE_REUSE_MARGIN_S + 1) * 1000);
    const calls = await vaultCalls(async () => {
      await signIn(username);
      await signIn(username);
    });
    const signs = calls.filter((c) => c.endsWith('/sign'));
    expect(signs.length, calls.join('\n')).toBe(KEY_VAULT_SIGNS_PER_CERTIFICATE_ASSERTION);
  });
});
