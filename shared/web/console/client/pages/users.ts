/** The users list: find by username prefix or Verify type, paged by the API's cursor. */
import { api } from '../api.ts';
import { h } from '../dom.ts';
import { field, select } from '../fields.ts';
import { query, when } from '../format.ts';
import { showFilteredList } from '../list.ts';
import { consoleUrl } from '../page.ts';
import type { Integration, Page, User, VerifyType } from '../types.ts';
import { td } from '../widgets.ts';

export function verifyTypeText(vt: VerifyType): string {
  return vt.kind === 'password' ? 'Password' : vt.title || vt.integrationId;
}

/** The Verify type choices: password, then every integration by its title. */
export const verifyTypeOptions = (integrations: Integration[]): [string, string][] => [
  ['password', 'Password'],
  ...integrations.map((i): [string, string] => [i.id, i.title]),
];

/** The integrations for the Verify type choices; none when they cannot be read. */
export async function integrationChoices(): Promise<Integration[]> {
  const r = await api<Page<Integration>>('GET', '/integrations');
  return r.ok ? r.body.items : [];
}

export async function usersList(): Promise<void> {
  const params = new URLSearchParams(location.search);
  const [r, integrations] = await Promise.all([
    api<Page<User>>('GET', `/users${query(params, ['prefix', 'verifyType', 'cursor'])}`),
    integrationChoices(),
  ]);
  const filters = h(
    'form',
    {
      method: 'get',
      action: consoleUrl('users'),
      class: 'filters card',
      role: 'search',
      'aria-label': 'Find users',
    },
    field(
      'Username starts with',
      h('input', {
        type: 'search',
        name: 'prefix',
        value: params.get('prefix') || '',
        autocapitalize: 'none',
        spellcheck: 'false',
      }),
    ),
    field(
      'Verify type',
      select('verifyType', [['', 'Any'], ...verifyTypeOptions(integrations)], params.get('verifyType') || ''),
    ),
    h('button', { type: 'submit' }, 'Search'),
  );
  showFilteredList('Users', filters, r, params, {
    headers: ['Username', 'Display name', 'Verify type', 'Roles', 'State', 'Last sign-in'],
    row: (u) =>
      h(
        'tr',
        {},
        td('Username', h('a', { href: consoleUrl('users', u.username) }, u.username)),
        td('Display name', u.displayName || '—'),
        td('Verify type', verifyTypeText(u.verifyType)),
        td('Roles', u.roles.join(', ') || '—'),
        td('State', u.disabled ? 'Disabled' : 'Enabled'),
        td('Last sign-in', when(u.lastLoginAt)),
      ),
    none: 'No users match.',
  });
}
