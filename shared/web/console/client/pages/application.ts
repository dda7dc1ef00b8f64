/**
 * One application: its name, redirect URIs, post-logout URIs, initiate login URI and allowed roles,
 * edited with the ETag it was read with (a change by someone else meanwhile is a 412, shown as such);
 * its client ID and discovery URL to copy.
 */
import { api } from '../api.ts';
import { h } from '../dom.ts';
import { formFailure, problem, success } from '../feedback.ts';
import { field, text } from '../fields.ts';
import { textOf } from '../format.ts';
import { consoleUrl, show } from '../page.ts';
import type { Application } from '../types.ts';
import { copyBox, liveRegion, onSubmit, section, submitRow } from '../widgets.ts';
import { applicationFields, readApplicationFields } from './application-fields.ts';

const same = (a: string[], b: string[]): boolean => a.join('\n') === b.join('\n');

/** The PATCH body: only what differs from the application as loaded. */
function changes(f: FormData, app: Application): Record<string, unknown> {
  const patch: Record<string, unknown> = {};
  const name = textOf(f, 'name');
  if (name !== app.name) patch.name = name;
  const v = readApplicationFields(f);
  if (!same(v.redirectUris, app.redirectUris)) patch.redirectUris = v.redirectUris;
  if (!same(v.postLogoutRedirectUris, app.postLogoutRedirectUris))
    patch.postLogoutRedirectUris = v.postLogoutRedirectUris;
  if (!same(v.allowedRoles, app.allowedRoles)) patch.allowedRoles = v.allowedRoles;
  if (v.initiateLoginUri !== (app.initiateLoginUri ?? null)) patch.initiateLoginUri = v.initiateLoginUri;
  return patch;
}

export async function applicationPage(clientId: string): Promise<void> {
  const path = `/applications/${encodeURIComponent(clientId)}`;
  const r = await api<Application>('GET', path);
  if (!r.ok) return show('Application', problem(r));
  let app = r.body;
  let etag = r.etag;
  const box = liveRegion();
  const form = h(
    'form',
    { novalidate: true },
    field('Name', text('name', app.name, { maxlength: 100, autocomplete: 'off' })),
    applicationFields(app),
    box,
    submitRow('Save'),
  );
  onSubmit(form, box, async (f) => {
    const patch = changes(f, app);
    if (!Object.keys(patch).length) return success(box, 'Nothing to save: no field was changed.');
    const res = await api<Application>('PATCH', path, { body: patch, etag });
    if (!res.ok) return formFailure(form, box, res);
    app = res.body;
    etag = res.etag;
    success(box, `Saved ${app.name}. Every instance uses the change within 5 seconds.`);
  });
  show(
    `Application: ${app.name}`,
    h('p', {}, h('a', { href: consoleUrl('applications') }, '← All applications')),
    section(
      'app-facts-h',
      'For the application’s settings',
      h('p', { class: 'label' }, 'Client ID'),
      copyBox('client ID', app.clientId),
      h('p', { class: 'label' }, 'Discovery URL'),
      copyBox('discovery URL', app.discoveryUrl),
      h('p', { class: 'muted' }, `Type: ${app.type}. The type is fixed at registration.`),
    ),
    h('div', { class: 'card' }, form),
  );
}
