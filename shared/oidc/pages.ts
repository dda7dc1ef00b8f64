/**
 * The pages the OpenID Provider shows a user. Their look (layout, texts, CSP) is the web layer's:
 * it passes an implementation in (shared/web/pages/oidc.ts), so the OP renders no HTML of its own.
 */

/** A rendered page: its status, its headers (content type and CSP included) and its HTML. */
export interface OidcPage {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface OidcPages {
  /** An application's request the OP refuses to act on (unknown client, bad redirect URI, stale interaction). */
  invalidRequest(o: { status: number; correlationId: string }): OidcPage;
  /**
   * Asks the user to confirm a sign-out an application requested. `form` is the provider's hidden
   * form (`op.logoutForm`); `formTargets` are the origins its post may be redirected to; `appName`
   * the registered name of the application that asked (null when it did not say which it is). The
   * form posted with `logout=yes` ends the broker session; without it, the user leaves that
   * application only and stays signed in.
   */
  signOutConfirm(o: { form: string; formTargets: readonly string[]; appName: string | null }): OidcPage;
  /** The user signed out at an application's request and no redirect back was asked for. */
  signedOut(): OidcPage;
}
