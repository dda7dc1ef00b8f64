/**
 * The OpenID Provider's pages (the OP asks for them through its `OidcPages` port): the error page for
 * an application's invalid request, and the sign-out an application asked for.
 */
import type { HttpResponseInit } from '@azure/functions';
import type { OidcPage, OidcPages } from '../../oidc/pages.ts';
import { escapeHtml } from './document.ts';
import { errorPage, page } from './render.ts';
import { TEXTS, t } from './texts.ts';

function asPage(r: HttpResponseInit): OidcPage {
  return { status: r.status ?? 200, headers: r.headers as Record<string, string>, body: String(r.body) };
}

export function oidcPages(product: string): OidcPages {
  return {
    invalidRequest: ({ status, correlationId }) =>
      asPage(errorPage({ product, status, errorCase: 'app_request_invalid', correlationId })),
    // Names the application that asked and offers both answers: sign out everywhere, or stay.
    signOutConfirm: ({ form, formTargets, appName }) =>
      asPage(
        page({
          product,
          title: TEXTS.appSignOutTitle,
          formTargets,
          body: `<h1>${escapeHtml(TEXTS.appSignOutTitle)}</h1>
<p>${escapeHtml(appName ? t(TEXTS.appSignOutNamed, { app: appName, product }) : t(TEXTS.appSignOutIntro, { product }))}</p>
<p class="small">${escapeHtml(t(TEXTS.appSignOutExplain, { product, app: appName ?? TEXTS.appSignOutUnnamed }))}</p>
${form}
<button type="submit" form="op.logoutForm" name="logout" value="yes">${escapeHtml(TEXTS.signOut)}</button>
<button type="submit" form="op.logoutForm" class="secondary stay">${escapeHtml(TEXTS.staySignedIn)}</button>`,
        }),
      ),
    signedOut: () =>
      asPage(
        page({
          product,
          title: TEXTS.appSignedOutTitle,
          body: `<h1>${escapeHtml(TEXTS.appSignedOutTitle)}</h1>
<p><a class="button" href="/api/auth/login">${escapeHtml(TEXTS.signInAgain)}</a></p>`,
        }),
      ),
  };
}
