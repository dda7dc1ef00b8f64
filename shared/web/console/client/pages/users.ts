/** The users list: find by username prefix or Verify type, paged by the API's cursor. */
import { api } from '../api.ts';
import { h } from '../dom.ts';
import { field, select } from '../fields.ts';
import { query, when } from '../format.ts';
import { showFilteredList } from '../list.ts';
import { consoleUrl } from '../page.ts';
import type { Integration, Page, User, VerifyType } from '../types.ts';
import { td } from '../widgets.ts';

/**
 * A user's console page. `users/new` is the New user form, so a user named "new" is opened one
 * segment deeper (`users/new/user`).
 */
export const userUrl = (username: string): string =>
  username === 'new' ? consoleUrl('users', username, 'user') : consoleUrl('users', username);

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
  const newUser = h('p', {}, h('a', { class: 'button', href: consoleUrl('users', 'new') }, 'New user'));
  const top = document.createDocumentFragment();
  top.append(newUser, filters);
  showFilteredList('Users', top, r, params, {
    headers: ['Username', 'Display name', 'Verify type', 'Roles', 'State', 'Last sign-in'],
    row: (u) =>
      h(
        'tr',
        {},
        td('Username', h('a', { href: userUrl(u.username) }, u.username)),
        td('Display name', u.displayName || '—'),
        td('Verify type', verifyTypeText(u.verifyType)),
        td('Roles', u.roles.join(', ') || '—'),
        td('State', u.disabled ? 'Disabled' : 'Enabled'),
        td('Last sign-in', when(u.lastLoginAt)),
      ),
    none: 'No users match.',
  });
}
