/** An integration's state as the list and its page both show it: status, secret expiry, last test. */
import { h } from '../dom.ts';
import { when } from '../format.ts';
import type { ClientSecretInfo, TestResult } from '../types.ts';

const DAY = 86_400_000;
/** Expiry within this many days is a warning. */
const WARN_DAYS = 30;

export function expiry(secret: Pick<ClientSecretInfo, 'expiresOn'> | null | undefined): Node | string {
  const on = secret?.expiresOn;
  if (!on) return h('span', { class: 'muted' }, 'Expiry date not recorded');
  const days = Math.floor((Date.parse(on) - Date.now()) / DAY);
  if (days < 0) return h('span', { class: 'warn' }, `Warning: expired on ${on.slice(0, 10)}`);
  if (days <= WARN_DAYS)
    return h('span', { class: 'warn' }, `Warning: expires in ${days} days (${on.slice(0, 10)})`);
  return `${on.slice(0, 10)}`;
}

export function lastTest(t: TestResult | null | undefined): HTMLSpanElement {
  if (!t) return h('span', { class: 'muted' }, 'Not tested');
  return h(
    'span',
    {},
    h('span', { class: `status ${t.ok ? 'ok' : 'failed'}` }, t.ok ? 'Passed' : 'Failed'),
    ' ',
    when(t.at),
    t.reason ? ` (${t.reason.replace(/_/g, ' ')})` : '',
  );
}

export const statusBadge = (s: string): HTMLSpanElement =>
  h('span', { class: `status ${s}` }, s === 'active' ? 'Active' : 'Inactive');
