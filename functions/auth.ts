/**
 * Browser sign-in routes (docs/architecture.md "Browser (anonymous)"): sign-in page, login start, IdP-first start, Entra
 * callback, password sign-in, session, logout, JWKS. Parse the request, call the sign-in service,
 * render a page or redirect.
 */
import { app, type Cookie, type HttpResponseInit } from '@azure/functions';
import { z } from 'zod';
import { UnauthorizedError } from '../shared/core/errors.ts';
import { authorityOrigins } from '../shared/entra/authority.ts';
import type { CookieToSet } from '../shared/sessions/service.ts';
import { SignInError } from '../shared/signin/errors.ts';
import { USERNAME_MAX } from '../shared/signin/input.ts';
import { sessionUser, signedInLanding } from '../shared/signin/signed-in.ts';
import { loginCookieName, stalePendingCookies } from '../shared/signin/transactions.ts';
import { effectiveRoles } from '../shared/users/records.ts';
import { json, readForm } from '../shared/web/body.ts';
import {
  expiredCookie,
  hostCookie,
  readCookie,
  readCookies,
  sessionCookie,
  toCookie,
} from '../shared/web/cookies.ts';
import type { RequestContext } from '../shared/web/endpoint.ts';
import { assertSameOrigin } from '../shared/web/origin.ts';
import { choicePage, passwordPage, signedInPage, usernamePage } from '../shared/web/pages/render.ts';
import { passwordFormError, signInErrorPage } from '../shared/web/pages/signin-errors.ts';
import { TEXTS } from '../shared/web/pages/texts.ts';
import { endpoint } from '../shared/web/runtime.ts';

const LAST_USER_COOKIE = '__Host-broker_last_user';
const LAST_USER_MAX_AGE = 90 * 86_400;
const PASSWORD_INPUT_MAX = 1024;

const product = (rc: RequestContext) => rc.services.config.BROKER_PRODUCT_NAME;
/**
 * Where a form on our pages may end up after the broker's redirect (browsers apply CSP form-action to
 * it): Entra's authority for the username and choice forms, an allow-listed return URL after sign-in.
 */
const formTargets = async (rc: RequestContext, returnTo: string | null) => [
  ...authorityOrigins(rc.services.config),
  ...(await rc.services.signIn.settings()).allowedReturnOrigins,
  // Signing in for an application (returnTo = the OP's login step): the chain of redirects after the
  // form post ends at that application's registered redirect URI.
  ...(await rc.services.oidc.formTargetsFor(returnTo)),
];
const info = (rc: RequestContext) => ({ clientAddress: rc.clientAddress, correlationId: rc.correlationId });

/** The new transaction's cookie, and the browser's oldest pending ones expired (a small Cookie header). */
const startCookies = (rc: RequestContext, cookie: CookieToSet): Cookie[] => [
  toCookie(cookie),
  ...stalePendingCookies(readCookies(rc.request)).map(expiredCookie),
];

function redirect(location: string, status = 302, cookies: Cookie[] = []): HttpResponseInit {
  return { status, headers: { Location: location }, ...(cookies.length ? { cookies } : {}) };
}

/** Error pages for every browser route: a fixed text per case, the correlation id, nothing reflected. */
const renderError = (status: number, correlationId: string, err: unknown, rc: RequestContext) =>
  signInErrorPage({ product: product(rc), status, correlationId, err });

const text = (max: number) => z.string().max(max).optional();

async function form<S extends z.ZodType>(rc: RequestContext, schema: S): Promise<z.output<S>> {
  const params = await readForm(rc.request);
  const parsed = schema.safeParse(Object.fromEntries(params));
  if (!parsed.success) throw new SignInError('invalid_callback', 400, 'invalid_form');
  return parsed.data;
}

const loginForm = z.object({
  username: text(USERNAME_MAX + 64),
  returnTo: text(4096),
  method: z.enum(['entra', 'password']).optional(),
  /** Kept from an application's `prompt=login`: the user must really sign in again, at Entra too. */
  prompt: z.enum(['login']).optional(),
});

const passwordForm = z.object({
  username: text(USERNAME_MAX + 64),
  password: text(PASSWORD_INPUT_MAX),
  returnTo: text(4096),
});

// GET /api/auth/login — the username step (or "you are signed in").
app.http(
  'auth-login-page',
  endpoint({
    route: 'auth/login',
    methods: ['GET'],
    renderError,
    handler: async (rc) => {
      const { signIn } = rc.services;
      const returnTo = await signIn.returnUrl(rc.request.query.get('returnTo'));
      // `prompt=login` (an application asked for a new sign-in): the username step even while signed in.
      const forceSignIn = rc.request.query.get('prompt') === 'login';
      if (!forceSignIn) {
        const landing = await signedInLanding(
          {
            sessions: rc.services.sessionService,
            users: rc.services.users,
            applications: rc.services.applications,
          },
          sessionCookie(rc.request),
          returnTo,
        );
        if (landing.kind === 'return') return redirect(landing.to);
        if (landing.kind === 'page') {
          const { kind: _, ...page } = landing;
          return signedInPage({ product: product(rc), ...page });
        }
      }
      const prefill = rc.request.query.get('username') ?? readCookie(rc.request, LAST_USER_COOKIE) ?? '';
      return usernamePage({
        product: product(rc),
        formTargets: await formTargets(rc, returnTo),
        username: prefill.slice(0, USERNAME_MAX),
        returnTo,
        reauthenticate: forceSignIn,
      });
    },
  }),
);

// POST /api/auth/login — username submitted: Entra redirect, password step or choice page.
app.http(
  'auth-login-submit',
  endpoint({
    route: 'auth/login',
    methods: ['POST'],
    renderError,
    leg: { name: 'signin.start' },
    handler: async (rc) => {
      const { signIn } = rc.services;
      assertSameOrigin(rc.request, signIn.brokerOrigin);
      const body = await form(rc, loginForm);
      const returnTo = await signIn.returnUrl(body.returnTo);
      const username = (body.username ?? '').trim();
      if (!username || username.length > USERNAME_MAX) {
        return usernamePage({
          product: product(rc),
          formTargets: await formTargets(rc, returnTo),
          username: username.slice(0, USERNAME_MAX),
          returnTo,
          reauthenticate: body.prompt === 'login',
          status: 400,
          error: username ? TEXTS.usernameTooLong : TEXTS.usernameRequired,
        });
      }
      const step = await signIn.usernameStep(username, returnTo, body.method, info(rc), {
        reauthenticate: body.prompt === 'login',
      });
      rc.tracing.annotate({ 'broker.signin.method': step.kind === 'redirect' ? 'entra' : step.kind });
      if (step.kind === 'redirect') return redirect(step.location, 302, startCookies(rc, step.cookie));
      if (step.kind === 'choice')
        return choicePage({ product: product(rc), formTargets: await formTargets(rc, returnTo), ...step });
      return passwordPage({
        product: product(rc),
        formTargets: await formTargets(rc, returnTo),
        username: step.username,
        returnTo: step.returnTo,
      });
    },
  }),
);

// GET /api/auth/login/{integrationId} — "Sign in with <Title>" (IdP-first).
app.http(
  'auth-login-idp',
  endpoint({
    route: 'auth/login/{integrationId}',
    methods: ['GET'],
    renderError,
    leg: { name: 'signin.start', attributes: { 'broker.signin.method': 'entra' } },
    handler: async (rc) => {
      const { signIn } = rc.services;
      const returnTo = await signIn.returnUrl(rc.request.query.get('returnTo'));
      const start = await signIn.idpFirstStart(rc.request.params.integrationId ?? '', returnTo, info(rc));
      return redirect(start.location, 302, startCookies(rc, start.cookie));
    },
  }),
);

const callbackQuery = z.object({
  code: z.string().min(1).max(4096).optional(),
  state: z.string().min(1).max(256).optional(),
  error: z.string().min(1).max(256).optional(),
});

// GET /api/auth/callback — Entra returns here.
app.http(
  'auth-callback',
  endpoint({
    route: 'auth/callback',
    methods: ['GET'],
    renderError,
    leg: { name: 'signin.callback', attributes: { 'broker.signin.method': 'entra' } },
    handler: async (rc) => {
      const { signIn } = rc.services;
      const q = callbackQuery.safeParse({
        code: rc.request.query.get('code') ?? undefined,
        state: rc.request.query.get('state') ?? undefined,
        error: rc.request.query.get('error') ?? undefined,
      });
      const query = q.success ? q.data : undefined;
      const done = await signIn.callback(
        query,
        (state) => readCookie(rc.request, loginCookieName(state)),
        info(rc),
      );
      return redirect(done.location, 302, [
        toCookie(done.cookie),
        hostCookie(LAST_USER_COOKIE, done.username, LAST_USER_MAX_AGE),
        // The transaction's cookie is spent (its marker row refuses it anyway).
        expiredCookie(loginCookieName(query?.state ?? '')),
      ]);
    },
  }),
);

// POST /api/auth/password — password sign-in.
app.http(
  'auth-password',
  endpoint({
    route: 'auth/password',
    methods: ['POST'],
    renderError,
    leg: { name: 'signin.password', attributes: { 'broker.signin.method': 'password' } },
    handler: async (rc) => {
      const { signIn } = rc.services;
      assertSameOrigin(rc.request, signIn.brokerOrigin);
      const body = await form(rc, passwordForm);
      const returnTo = await signIn.returnUrl(body.returnTo);
      const username = (body.username ?? '').trim().slice(0, USERNAME_MAX);
      if (!body.password) {
        return passwordPage({
          product: product(rc),
          formTargets: await formTargets(rc, returnTo),
          username,
          returnTo,
          status: 400,
          error: TEXTS.passwordRequired,
        });
      }
      try {
        const done = await signIn.passwordSignIn(username, body.password, returnTo, info(rc));
        return redirect(done.location, 303, [
          toCookie(done.cookie),
          hostCookie(LAST_USER_COOKIE, done.username, LAST_USER_MAX_AGE),
        ]);
      } catch (err) {
        const refused = passwordFormError(err);
        if (!refused) throw err;
        return passwordPage({
          product: product(rc),
          formTargets: await formTargets(rc, returnTo),
          username,
          returnTo,
          ...refused,
        });
      }
    },
  }),
);

// POST /api/auth/logout
app.http(
  'auth-logout',
  endpoint({
    route: 'auth/logout',
    methods: ['POST'],
    renderError,
    handler: async (rc) => {
      const { signIn } = rc.services;
      assertSameOrigin(rc.request, signIn.brokerOrigin);
      const isForm = (rc.request.headers.get('content-type') ?? '').startsWith(
        'application/x-www-form-urlencoded',
      );
      const params = isForm ? await readForm(rc.request) : new URLSearchParams();
      const returnTo = await signIn.returnUrl(params.get('returnTo') ?? rc.request.query.get('returnTo'));
      const ended = await signIn.signOut(sessionCookie(rc.request), info(rc));
      return redirect(returnTo ?? signIn.defaultLanding, 303, [toCookie(ended)]);
    },
  }),
);

// GET /api/auth/session
app.http(
  'auth-session',
  endpoint({
    route: 'auth/session',
    methods: ['GET'],
    handler: async (rc) => {
      const live = await sessionUser(
        { sessions: rc.services.sessionService, users: rc.services.users },
        sessionCookie(rc.request),
      );
      if (!live) throw new UnauthorizedError('No valid session.', 'no_session');
      const { session, user } = live;
      return {
        ...json(200, {
          username: user.username,
          displayName: user.displayName,
          roles: effectiveRoles(user),
          method: session.method,
          integrationId: session.integrationId,
          expiresAt: session.expiresAt,
        }),
        ...(session.refreshedCookie ? { cookies: [toCookie(session.refreshedCookie)] } : {}),
      };
    },
  }),
);

// GET /api/auth/jwks — public keys that verify the broker's session tokens.
app.http(
  'auth-jwks',
  endpoint({
    route: 'auth/jwks',
    methods: ['GET'],
    cacheable: true,
    handler: async (rc) =>
      json(200, await rc.services.sessionKeys.jwks(), { 'Content-Type': 'application/jwk-set+json' }),
  }),
);
