/**
 * One API: its name, scopes, the applications allowed to ask and the token lifetime, edited with the
 * ETag it was read with (a change by someone else meanwhile is a 412, shown as such). The resource
 * URI is the API's identity, shown to copy but not edited.
 */
import { api } from '../api.ts';
import { h } from '../dom.ts';
import { formFailure, problem, success } from '../feedback.ts';
import { consoleUrl, show } from '../page.ts';
import type { ApiResource, Application, Page } from '../types.ts';
import { copyBox, liveRegion, onSubmit, section, submitRow } from '../widgets.ts';
import { apiFields, readApiFields } from './api-fields.ts';

const same = (a: string[], b: string[]): boolean => a.join('\n') === b.join('\n');

/** The PATCH body: only what differs from the API as loaded. */
function changes(f: FormData, cur: ApiResource): Record<string, unknown> {
  const patch: Record<string, unknown> = {};
  const v = readApiFields(f);
  if (v.name !== cur.name) patch.name = v.name;
  if (!same(v.scopes, cur.scopes)) patch.scopes = v.scopes;
  if (!same(v.allowedApplications, cur.allowedApplications))
    patch.allowedApplications = v.allowedApplications;
  if (v.accessTokenLifetimeSeconds !== cur.accessTokenLifetimeSeconds)
    patch.accessTokenLifetimeSeconds = v.accessTokenLifetimeSeconds;
  return patch;
}

export async function apiPage(id: string): Promise<void> {
  const path = `/apis/${encodeURIComponent(id)}`;
  const [r, apps] = await Promise.all([
    api<ApiResource>('GET', path),
    api<Page<Application>>('GET', '/applications'),
  ]);
  if (!r.ok) return show('API', problem(r));
  let cur = r.body;
  let etag = r.etag;
  const box = liveRegion();
  const form = h(
    'form',
    { novalidate: true },
    apiFields(cur, apps.ok ? apps.body.items : []),
    box,
    submitRow('Save'),
  );
  onSubmit(form, box, async (f) => {
    const patch = changes(f, cur);
    if (!Object.keys(patch).length) return success(box, 'Nothing to save: no field was changed.');
    const res = await api<ApiResource>('PATCH', path, { body: patch, etag });
    if (!res.ok) return formFailure(form, box, res);
    cur = res.body;
    etag = res.etag;
    success(box, `Saved ${cur.name}. Every instance uses the change within 5 seconds.`);
  });
  show(
    `API: ${cur.name}`,
    h('p', {}, h('a', { href: consoleUrl('apis') }, '← All APIs')),
    section(
      'api-facts-h',
      'For the API’s token validation',
      h('p', { class: 'label' }, 'Resource URI (the tokens’ audience)'),
      copyBox('resource URI', cur.resource),
      h(
        'p',
        { class: 'muted' },
        'The resource URI is fixed at registration: for another one, register a new API.',
      ),
    ),
    h('div', { class: 'card' }, form),
  );
}
