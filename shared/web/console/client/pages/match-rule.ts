/** What must match on an Entra user's first sign-in, in the words the user and user pages show. */
import { addNote, field } from '../fields.ts';
import type { Integration } from '../types.ts';

/**
 * The broker binds an unbound user on the first Entra sign-in when the integration's match claim
 * (lower-cased) equals the user's username or email; from then on only the bound identity counts.
 */
export const matchRule = (i: Pick<Integration, 'title' | 'matchClaim'>): string =>
  `First sign-in with ${i.title}: Entra’s ${i.matchClaim} claim (usually the work sign-in name, such as alice@contoso.com) must equal this user’s username or email. After that, the Entra account is bound to the user.`;

/** The Verify type field with the rule below it, which the select is also described by. */
export function verifyTypeField(select: HTMLSelectElement, hint: string, rule: HTMLElement): HTMLDivElement {
  const wrap = field('Verify type', select, hint);
  addNote(wrap, rule);
  return wrap;
}
