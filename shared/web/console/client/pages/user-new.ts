/**
 * A new user: username, display name, email, Verify type (Password or an integration's Title), an
 * initial password, roles. The API checks everything; its messages appear under their fields.
 *
 * No set-password link: the broker has no one-time link today, and the initial password (typed or
 * generated here, shown to the admin only in this form) gives the same start without a new secret
 * kind to store, expire and audit. An Entra user needs no password at all.
 */
import { api } from '../api.ts';
import { h } from '../dom.ts';
import { formFailure } from '../feedback.ts';
import { field, select, text } from '../fields.ts';
import { textOf, words } from '../format.ts';
import { consoleUrl, show } from '../page.ts';
import type { User } from '../types.ts';
import { liveRegion, onSubmit, submitRow } from '../widgets.ts';
import { matchRule, verifyTypeField } from './match-rule.ts';
import { integrationChoices, userUrl, verifyTypeOptions } from './users.ts';

/** 18 random bytes as base64url (24 characters): far above the password policy's minimum. */
function generatedPassword(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(18));
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_');
}

export async function newUserPage(): Promise<void> {
  const integrations = await integrationChoices();
  const box = liveRegion();
  const passwordInput = h('input', {
    type: 'password',
    name: 'password',
    autocomplete: 'new-password',
    maxlength: 1024,
  });
  const generate = h(
    'button',
    {
      type: 'button',
      class: 'secondary',
      onclick: () => {
        passwordInput.value = generatedPassword();
        // Shown so the admin can pass it on; it is sent once and never shown again.
        passwordInput.type = 'text';
        passwordInput.focus();
        passwordInput.select();
      },
    },
    'Generate a password',
  );
  const verifyType = select('verifyType', verifyTypeOptions(integrations), 'password');
  const rule = h('p', { class: 'hint', id: 'match-rule' });
  const explain = () => {
    const chosen = integrations.find((i) => i.id === verifyType.value);
    rule.textContent = chosen
      ? matchRule(chosen)
      : 'The user signs in with the password below (at least 8 characters).';
  };
  verifyType.addEventListener('change', explain);
  explain();
  const form = h(
    'form',
    { novalidate: true },
    field(
      'Username',
      text('username', '', {
        maxlength: 64,
        autocomplete: 'off',
        autocapitalize: 'none',
        spellcheck: 'false',
      }),
      'Letters a-z, digits and . _ @ - (stored in lower case); what the user types to sign in.',
    ),
    field('Display name (optional)', text('displayName', '', { maxlength: 200, autocomplete: 'off' })),
    field(
      'Email (optional)',
      h('input', { type: 'email', name: 'email', autocomplete: 'off', maxlength: 254 }),
    ),
    verifyTypeField(
      verifyType,
      'How this user proves who they are: Password (here), or an integration’s Title (Entra ID).',
      rule,
    ),
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'new-password' }, 'Initial password (optional)'),
      h(
        'p',
        { class: 'hint', id: 'new-password-hint' },
        'Give it to the user on a safe channel; they can sign in with it at once. Needed for Verify type Password; for an integration user only with Allow OAuth Passwords.',
      ),
      passwordInput,
      h('div', { class: 'actions' }, generate),
    ),
    field(
      'Roles (optional)',
      text('roles', '', { autocomplete: 'off', spellcheck: 'false' }),
      'Separated by spaces; “admin” can use this console.',
    ),
    box,
    submitRow('Create user'),
  );
  passwordInput.id = 'new-password';
  passwordInput.dataset.hint = 'new-password-hint';
  passwordInput.setAttribute('aria-describedby', 'new-password-hint');

  onSubmit(form, box, async (f) => {
    const vt = String(f.get('verifyType'));
    const displayName = textOf(f, 'displayName').trim();
    const email = textOf(f, 'email').trim();
    const password = textOf(f, 'password');
    const roles = words(textOf(f, 'roles'));
    const res = await api<User>('POST', '/users', {
      body: {
        username: textOf(f, 'username').trim(),
        ...(displayName ? { displayName } : {}),
        ...(email ? { email } : {}),
        verifyType: vt === 'password' ? 'password' : { integrationId: vt },
        ...(password ? { password } : {}),
        ...(roles.length ? { roles } : {}),
      },
    });
    if (!res.ok) return formFailure(form, box, res);
    location.assign(`${userUrl(res.body.username)}?created=1`);
  });

  show(
    'New user',
    h('p', {}, h('a', { href: consoleUrl('users') }, '← All users')),
    h('div', { class: 'card' }, form),
  );
}
