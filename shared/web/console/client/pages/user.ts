/**
 * One user: profile, Verify type, password (set or remove), roles, disabled; and the bound Entra
 * identity with the actions that end access (reset the binding, sign out everywhere).
 */
import { api } from '../api.ts';
import { h } from '../dom.ts';
import { formFailure, problem, success } from '../feedback.ts';
import { checkbox, checkField, field, select, text } from '../fields.ts';
import { textOf, when, words } from '../format.ts';
import { consoleUrl, ME, show } from '../page.ts';
import type { User, VerifyType } from '../types.ts';
import { confirmButton, liveRegion, onSubmit, section, submitRow } from '../widgets.ts';
import { matchRule, verifyTypeField } from './match-rule.ts';
import { provisionedNote } from './user-provisioning.ts';
import { integrationChoices, verifyTypeOptions } from './users.ts';

/** A Verify type as its select value: `password` or the integration's id. */
const verifyTypeValue = (vt: VerifyType): string => (vt.kind === 'password' ? 'password' : vt.integrationId);

/** The PATCH body: only what differs from the user as loaded. */
function changes(f: FormData, user: User): Record<string, unknown> {
  const patch: Record<string, unknown> = {};
  const displayName = textOf(f, 'displayName');
  if (displayName !== (user.displayName || '')) patch.displayName = displayName;
  const email = textOf(f, 'email').trim();
  if (email !== (user.email || '')) patch.email = email || null;
  const vt = String(f.get('verifyType'));
  if (vt !== verifyTypeValue(user.verifyType))
    patch.verifyType = vt === 'password' ? 'password' : { integrationId: vt };
  const roles = words(textOf(f, 'roles'));
  if (roles.join(' ') !== user.roles.join(' ')) patch.roles = roles;
  const disabled = f.get('disabled') === 'on';
  if (disabled !== user.disabled) patch.disabled = disabled;
  return patch;
}

export async function userPage(username: string): Promise<void> {
  const path = `/users/${encodeURIComponent(username)}`;
  const [r, integrations] = await Promise.all([api<User>('GET', path), integrationChoices()]);
  if (!r.ok) return show('User', problem(r));
  let user = r.body;
  let etag = r.etag;
  const box = liveRegion();
  const passwordInput = h('input', {
    type: 'password',
    name: 'password',
    autocomplete: 'new-password',
    maxlength: 1024,
  });
  const verifyType = select('verifyType', verifyTypeOptions(integrations), verifyTypeValue(user.verifyType));
  // What an Entra user's first sign-in compares, for the integration chosen (none once bound).
  const rule = h('p', { class: 'hint', id: 'match-rule' });
  const explain = () => {
    const chosen = integrations.find((i) => i.id === verifyType.value);
    rule.hidden = !chosen || !!user.entraBinding;
    rule.textContent = chosen ? matchRule(chosen) : '';
  };
  verifyType.addEventListener('change', explain);
  explain();
  const form = h(
    'form',
    { novalidate: true },
    field('Display name', text('displayName', user.displayName, { maxlength: 200, autocomplete: 'off' })),
    field(
      'Email',
      h('input', {
        type: 'email',
        name: 'email',
        value: user.email || '',
        autocomplete: 'off',
        maxlength: 254,
      }),
    ),
    verifyTypeField(
      verifyType,
      'How this user proves who they are: a password here, or Entra ID through an integration.',
      rule,
    ),
    field(
      'Password',
      passwordInput,
      `${user.hasPassword ? 'A password is set.' : 'No password is set.'} Type a new one to set it; leave empty to keep it as it is.`,
    ),
    user.hasPassword ? checkField('Remove the password', checkbox('clearPassword', false)) : null,
    field(
      'Roles',
      text('roles', user.roles.join(' '), { autocomplete: 'off', spellcheck: 'false' }),
      'Separated by spaces; “admin” can use this console.',
    ),
    checkField(
      'Disabled',
      checkbox('disabled', user.disabled),
      'A disabled user cannot sign in and loses every session.',
    ),
    box,
    submitRow('Save'),
  );

  onSubmit(form, box, async (f) => {
    const patch = changes(f, user);
    let changed = false;
    if (Object.keys(patch).length) {
      const res = await api<User>('PATCH', path, { body: patch, etag });
      if (!res.ok) return formFailure(form, box, res);
      user = res.body;
      etag = res.etag;
      changed = true;
    }
    const password = textOf(f, 'password');
    if (password || f.get('clearPassword') === 'on') {
      const res = password
        ? await api('PUT', `${path}/password`, { body: { password }, etag })
        : await api('DELETE', `${path}/password`, { etag });
      if (!res.ok) return formFailure(form, box, res);
      etag = res.etag || etag;
      changed = true;
    }
    passwordInput.value = '';
    // The password calls answer no user: read it again for the form's next comparison.
    const fresh = await api<User>('GET', path);
    if (fresh.ok) {
      user = fresh.body;
      etag = fresh.etag;
    }
    success(box, changed ? `Saved ${user.username}.` : 'Nothing to save: no field was changed.');
  });

  if (new URLSearchParams(location.search).has('created')) {
    success(box, `Created ${user.username}.`);
    history.replaceState(null, '', location.pathname);
  }
  const actionsBox = liveRegion();
  const binding = user.entraBinding;
  show(
    `User: ${user.username}`,
    h('p', {}, h('a', { href: consoleUrl('users') }, '← All users')),
    provisionedNote(user),
    h('div', { class: 'card' }, form),
    section(
      'binding-h',
      'Entra identity and sessions',
      binding
        ? h(
            'dl',
            { class: 'facts' },
            h('dt', {}, 'Tenant ID'),
            h('dd', { class: 'mono' }, binding.tenantId),
            h('dt', {}, 'Object ID'),
            h('dd', { class: 'mono' }, binding.objectId),
            h('dt', {}, 'Bound'),
            h('dd', {}, when(binding.boundAt)),
          )
        : h(
            'p',
            { class: 'muted' },
            'No Entra identity is bound yet; it is bound at the first Entra sign-in.',
          ),
      actionsBox,
      h(
        'div',
        { class: 'actions' },
        binding
          ? confirmButton('Reset binding', 'Forget the bound Entra identity?', async () => {
              const res = await api('DELETE', `${path}/binding`, { etag });
              if (!res.ok) return actionsBox.replaceChildren(problem(res));
              etag = res.etag || etag;
              success(actionsBox, 'Binding reset: the next Entra sign-in binds again by the match claim.');
            })
          : null,
        confirmButton('Sign out everywhere', `Sign ${user.username} out of every session?`, async () => {
          const res = await api('DELETE', `${path}/sessions`);
          if (!res.ok) return actionsBox.replaceChildren(problem(res));
          success(actionsBox, `${user.username} is signed out everywhere.`);
          if (user.username === ME) location.reload();
        }),
      ),
    ),
  );
}
