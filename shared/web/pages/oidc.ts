/**
 * The OpenID Provider's pages (the OP asks for them through its `OidcPages` port): the error page for
 * an application's invalid request, and the sign-out an application asked for.
 */
import type { HttpResponseInit } from '@azure/functions';
import type { OidcPage, OidcPages } from '../../oidc/pages.ts';
import { errorPage, escapeHtml, page } from './render.ts';
import { TEXTS, t } from './texts.ts';

function asPage(r: HttpResponseInit): OidcPage {
  return { status: r.status ?? 200, headers: r.headers as Record<string, string>, body: String(r.body) };
}

export function oidcPages(product: string): OidcPages {
  return {
    invalidRequest: ({ status, correlationId }) =>
      asPage(errorPage({ product, status, errorCase: 'app_request_invalid', correlationId })),
    signOutConfirm: ({ form, formTargets }) =>
      asPage(
        page({
          product,
          title: TEXTS.appSignOutTitle,
          formTargets,
          body: `<h1>${escapeHtml(TEXTS.appSignOutTitle)}</h1>
<p>${escapeHtml(t(TEXTS.appSignOutIntro, { product }))}</p>
${form}
<button type="submit" form="op.logoutForm" name="logout" value="yes">${escapeHtml(TEXTS.signOut)}</button>`,
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
