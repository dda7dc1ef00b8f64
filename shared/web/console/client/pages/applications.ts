/**
 * Applications (OpenID Connect clients of the broker): the list with secret rotation and delete, and
 * registration; each name opens the application's own page to edit it. A client secret is in the answer that issued it only, so it is shown that once.
 */
import { api } from '../api.ts';
import { h } from '../dom.ts';
import { formFailure, problem, success } from '../feedback.ts';
import { field, select, text } from '../fields.ts';
import { textOf } from '../format.ts';
import { consoleUrl, show } from '../page.ts';
import type { Application, Page } from '../types.ts';
import {
  actionButton,
  confirmButton,
  liveRegion,
  onSubmit,
  secretCard,
  section,
  submitRow,
  tableOr,
  td,
} from '../widgets.ts';
import { applicationFields, readApplicationFields } from './application-fields.ts';

// An application just registered, shown (with its secret) once on the re-rendered page, then forgotten.
let issued: Application | null = null;

function registrationForm(box: HTMLElement): HTMLFormElement {
  const form = h(
    'form',
    { novalidate: true },
    field('Name', text('name', '', { maxlength: 100, autocomplete: 'off' })),
    field(
      'Type',
      select(
        'type',
        [
          ['confidential', 'Confidential (a server with a client secret)'],
          ['public', 'Public (a browser or mobile app, PKCE only)'],
        ],
        'confidential',
      ),
    ),
    applicationFields(null),
    box,
    submitRow('Register'),
  );
  onSubmit(form, null, async (f) => {
    const {
      redirectUris,
      postLogoutRedirectUris: post,
      allowedRoles: roles,
      initiateLoginUri,
    } = readApplicationFields(f);
    const res = await api<Application>('POST', '/applications', {
      body: {
        name: textOf(f, 'name'),
        type: String(f.get('type')),
        redirectUris,
        ...(post.length ? { postLogoutRedirectUris: post } : {}),
        ...(roles.length ? { allowedRoles: roles } : {}),
        ...(initiateLoginUri ? { initiateLoginUri } : {}),
      },
    });
    if (!res.ok) return formFailure(form, box, res);
    issued = res.body;
    await applicationsPage();
  });
  return form;
}

export async function applicationsPage(): Promise<void> {
  const r = await api<Page<Application>>('GET', '/applications');
  if (r.status === 404) {
    return show(
      'Applications',
      h(
        'div',
        { class: 'alert info', role: 'status' },
        h(
          'p',
          {},
          'Applications are coming: this broker does not offer OpenID Connect sign-in for other applications yet.',
        ),
      ),
    );
  }
  if (!r.ok) return show('Applications', problem(r));
  const box = liveRegion();
  const secretBox = liveRegion();
  const showSecret = (app: Application) => {
    if (!app.clientSecretValue) return;
    secretBox.replaceChildren(
      secretCard(`Client secret of ${app.name}: `, 'client secret', app.clientSecretValue),
    );
  };
  const form = registrationForm(box);
  if (issued) {
    showSecret(issued);
    success(box, `Registered ${issued.name} (client ID ${issued.clientId}).`);
    issued = null;
  }
  const row = (a: Application) =>
    h(
      'tr',
      {},
      td('Name', h('a', { href: consoleUrl('applications', a.clientId) }, a.name)),
      td('Client ID', h('span', { class: 'mono' }, a.clientId)),
      td('Type', a.type),
      td('Redirect URIs', h('span', { class: 'mono' }, (a.redirectUris || []).join(' '))),
      td(
        'Actions',
        h(
          'span',
          { class: 'actions' },
          h(
            'a',
            { class: 'button secondary', href: consoleUrl('applications', a.clientId) },
            'Edit',
            h('span', { class: 'visually-hidden' }, ` ${a.name}`),
          ),
          a.type === 'confidential'
            ? actionButton(
                // The visible words start the accessible name (WCAG 2.5.3); the app's name follows for
                // screen readers, hidden on screen where the row already shows it.
                ['Rotate the secret', h('span', { class: 'visually-hidden' }, ` of ${a.name}`)],
                async () => {
                  const res = await api<Application>(
                    'POST',
                    `/applications/${encodeURIComponent(a.clientId)}/client-secret`,
                    { etag: a.etag },
                  );
                  if (!res.ok) return secretBox.replaceChildren(problem(res));
                  showSecret(res.body);
                },
              )
            : null,
          confirmButton('Delete', `Delete ${a.name}? Its tokens stop working.`, async () => {
            const res = await api('DELETE', `/applications/${encodeURIComponent(a.clientId)}`, {
              etag: a.etag,
            });
            if (!res.ok) return secretBox.replaceChildren(problem(res));
            location.reload();
          }),
        ),
      ),
    );
  show(
    'Applications',
    secretBox,
    tableOr(
      ['Name', 'Client ID', 'Type', 'Redirect URIs', 'Actions'],
      r.body.items,
      row,
      'No applications registered yet.',
    ),
    section('register-h', 'Register an application', form),
  );
}
