/** Admin API tokens: the list with revoke, and creation (the token's value is shown once). */
import { api } from '../api.ts';
import { h } from '../dom.ts';
import { formFailure, problem } from '../feedback.ts';
import { field, text } from '../fields.ts';
import { textOf, when } from '../format.ts';
import { consoleUrl, show } from '../page.ts';
import type { ApiToken, IssuedToken, Page } from '../types.ts';
import {
  confirmButton,
  copyBox,
  liveRegion,
  onSubmit,
  secretCard,
  section,
  submitRow,
  tableOr,
  td,
} from '../widgets.ts';

export async function tokensPage(): Promise<void> {
  const r = await api<Page<ApiToken>>('GET', '/tokens');
  if (!r.ok) return show('API tokens', problem(r));
  const box = liveRegion();
  const listBox = liveRegion();
  const secretBox = liveRegion();
  const form = h(
    'form',
    { novalidate: true },
    field(
      'Name',
      text('name', '', { maxlength: 100, autocomplete: 'off' }),
      'What the token is for, e.g. deployment pipeline.',
    ),
    field(
      'Expires in days (optional)',
      h('input', { type: 'number', name: 'expiresInDays', min: 1, max: 730, inputmode: 'numeric' }),
    ),
    box,
    submitRow('Create token'),
  );
  onSubmit(form, box, async (f) => {
    const days = textOf(f, 'expiresInDays');
    const res = await api<IssuedToken>('POST', '/tokens', {
      body: { name: textOf(f, 'name'), ...(days ? { expiresInDays: Number(days) } : {}) },
    });
    if (!res.ok) return formFailure(form, box, res);
    form.reset();
    secretBox.replaceChildren(
      secretCard(
        `Token ${res.body.name}: `,
        'token',
        res.body.token,
        h('p', {}, h('a', { href: consoleUrl('tokens') }, 'Done: show the list')),
      ),
    );
  });
  const openApi = `${location.origin}/api/manage/openapi.json`;
  show(
    'API tokens',
    section(
      'use-h',
      'Using a token',
      h(
        'p',
        {},
        'A token lets a script or pipeline call the management API (',
        h('code', {}, '/api/manage'),
        ') as an admin: send it as ',
        h('code', {}, 'Authorization: Bearer <token>'),
        '. The API is described by its OpenAPI document (it needs a token too):',
      ),
      copyBox('OpenAPI address', openApi),
    ),
    secretBox,
    listBox,
    tableOr(
      ['Name', 'Expires', 'Last used', 'Actions'],
      r.body.items,
      (t) =>
        h(
          'tr',
          {},
          td('Name', t.name),
          td('Expires', when(t.expiresAt)),
          td('Last used', when(t.lastUsedAt)),
          td(
            'Actions',
            confirmButton('Revoke', `Revoke ${t.name}?`, async () => {
              const res = await api('DELETE', `/tokens/${encodeURIComponent(t.id)}`);
              if (!res.ok) return listBox.replaceChildren(problem(res));
              location.reload();
            }),
          ),
        ),
      'No API tokens.',
    ),
    section('create-h', 'Create a token', form),
  );
}
