/**
 * APIs (resource servers applications get JWT access tokens for): the list with delete, and
 * registration (resource URI, name, scopes, the applications allowed to ask, token lifetime); each
 * name opens the API's own page to edit it.
 */
import { api } from '../api.ts';
import { h } from '../dom.ts';
import { formFailure, problem } from '../feedback.ts';
import { field, text } from '../fields.ts';
import { textOf } from '../format.ts';
import { consoleUrl, show } from '../page.ts';
import type { ApiResource, Application, Page } from '../types.ts';
import { confirmButton, liveRegion, onSubmit, section, submitRow, tableOr, td } from '../widgets.ts';
import { apiFields, readApiFields } from './api-fields.ts';

function registrationForm(box: HTMLElement, apps: Application[]): HTMLFormElement {
  const form = h(
    'form',
    { novalidate: true },
    field(
      'Resource URI',
      text('resource', '', { maxlength: 2000, autocomplete: 'off', spellcheck: 'false' }),
      'The audience of its tokens, e.g. https://orders.example/api (or api://…, urn:…).',
    ),
    apiFields(null, apps),
    box,
    submitRow('Register'),
  );
  onSubmit(form, box, async (f) => {
    const res = await api<ApiResource>('POST', '/apis', {
      body: { resource: textOf(f, 'resource'), ...readApiFields(f) },
    });
    if (!res.ok) return formFailure(form, box, res);
    location.reload();
  });
  return form;
}

export async function apisPage(): Promise<void> {
  const [r, apps] = await Promise.all([
    api<Page<ApiResource>>('GET', '/apis'),
    api<Page<Application>>('GET', '/applications'),
  ]);
  if (!r.ok) return show('APIs', problem(r));
  const listBox = liveRegion();
  const appNames = new Map((apps.ok ? apps.body.items : []).map((a) => [a.clientId, a.name]));
  show(
    'APIs',
    listBox,
    tableOr(
      ['Name', 'Resource URI', 'Scopes', 'Applications', 'Token lifetime', 'Actions'],
      r.body.items,
      (a) =>
        h(
          'tr',
          {},
          td('Name', h('a', { href: consoleUrl('apis', a.id) }, a.name)),
          td('Resource URI', a.resource),
          td('Scopes', a.scopes.join(' ') || '—'),
          td('Applications', a.allowedApplications.map((id) => appNames.get(id) ?? id).join(', ') || '—'),
          td('Token lifetime', `${a.accessTokenLifetimeSeconds} s`),
          td(
            'Actions',
            h(
              'span',
              { class: 'actions' },
              h(
                'a',
                { class: 'button secondary', href: consoleUrl('apis', a.id) },
                'Edit',
                h('span', { class: 'visually-hidden' }, ` ${a.name}`),
              ),
              confirmButton('Delete', `Delete ${a.name}? Tokens for it are no longer issued.`, async () => {
                const res = await api('DELETE', `/apis/${encodeURIComponent(a.id)}`, { etag: a.etag });
                if (!res.ok) return listBox.replaceChildren(problem(res));
                location.reload();
              }),
            ),
          ),
        ),
      'No APIs.',
    ),
    section('register-h', 'Register an API', registrationForm(liveRegion(), apps.ok ? apps.body.items : [])),
  );
}
