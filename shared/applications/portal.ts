/**
 * The broker's signed-in page as a portal: which applications a user sees there. Only those that
 * registered where their sign-in starts (`initiateLoginUri`), and of those only the ones the user may
 * use: the very rule the OP applies when the application asks for a sign-in (`meetsRoles`), so the
 * page never links an application that would then refuse the user.
 */
import { meetsRoles } from '../oidc/accounts.ts';
import { redirectUriIssue } from './schemas.ts';
import type { PortalCandidate } from './store.ts';

export interface PortalLink {
  name: string;
  href: string;
}

/** The links for a user holding `roles`, sorted by name (then address, so the order is stable). */
export function portalLinks(candidates: readonly PortalCandidate[], roles: readonly string[]): PortalLink[] {
  return (
    candidates
      // The URI rule again: a row changed around the API must still never put another scheme
      // (`javascript:`) into a link on the broker's own page.
      .filter((c) => redirectUriIssue(c.initiateLoginUri) === undefined && meetsRoles(roles, c.allowedRoles))
      .map((c) => ({ name: c.name, href: c.initiateLoginUri }))
      .sort((a, b) => a.name.localeCompare(b.name) || a.href.localeCompare(b.href))
  );
}
