/** The fields an application is registered and edited with, and what they hold as the API's lists. */
import { h } from '../dom.ts';
import { field, text } from '../fields.ts';
import { lines, textOf, words } from '../format.ts';
import type { Application } from '../types.ts';

/** What the API accepts (the same rule as its message): exact URIs, https or loopback http. */
export const REDIRECT_URI_HINT =
  'One per line, matched exactly: https, or http on localhost, 127.0.0.1 or [::1] (local development); no # fragment, no wildcards.';

export function applicationFields(cur: Application | null): HTMLElement[] {
  return [
    field(
      'Redirect URIs',
      h('textarea', {
        name: 'redirectUris',
        rows: 3,
        spellcheck: 'false',
        value: (cur?.redirectUris ?? []).join('\n'),
      }),
      REDIRECT_URI_HINT,
    ),
    field(
      'Post-logout redirect URIs (optional)',
      h('textarea', {
        name: 'postLogoutRedirectUris',
        rows: 2,
        spellcheck: 'false',
        value: (cur?.postLogoutRedirectUris ?? []).join('\n'),
      }),
      'Where the app may send the browser after signing out at the broker. One per line, same rule.',
    ),
    field(
      'Initiate login URI (optional)',
      text('initiateLoginUri', cur?.initiateLoginUri ?? '', {
        autocomplete: 'off',
        spellcheck: 'false',
        maxlength: 2000,
      }),
      'Where the app starts its own sign-in. When set, the app appears on the broker’s signed-in page for users allowed to use it. Same rule: https, or http on localhost, 127.0.0.1 or [::1].',
    ),
    field(
      'Allowed roles (optional)',
      text('allowedRoles', (cur?.allowedRoles ?? []).join(' '), { autocomplete: 'off', spellcheck: 'false' }),
      'Separated by spaces; empty lets every user in.',
    ),
  ];
}

export interface ApplicationValues {
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  allowedRoles: string[];
  /** null when the field is empty (no link on the signed-in page). */
  initiateLoginUri: string | null;
}

export function readApplicationFields(f: FormData): ApplicationValues {
  return {
    redirectUris: lines(textOf(f, 'redirectUris')),
    postLogoutRedirectUris: lines(textOf(f, 'postLogoutRedirectUris')),
    allowedRoles: words(textOf(f, 'allowedRoles')),
    initiateLoginUri: textOf(f, 'initiateLoginUri').trim() || null,
  };
}
