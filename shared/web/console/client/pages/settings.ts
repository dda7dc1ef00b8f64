/** Global settings: Allow OAuth Passwords, the session lifetime, the allowed return origins, audit retention. */
import { api } from '../api.ts';
import { h } from '../dom.ts';
import { formFailure, problem, success } from '../feedback.ts';
import { checkbox, checkField, field } from '../fields.ts';
import { lines, textOf } from '../format.ts';
import { show } from '../page.ts';
import type { Settings } from '../types.ts';
import { liveRegion, onSubmit, submitRow } from '../widgets.ts';

export async function settingsPage(): Promise<void> {
  const r = await api<Settings>('GET', '/settings');
  if (!r.ok) return show('Global settings', problem(r));
  let s = r.body;
  let etag = r.etag;
  const box = liveRegion();
  const form = h(
    'form',
    { novalidate: true },
    checkField(
      'Allow OAuth Passwords',
      checkbox('allowOAuthPasswords', s.allowOAuthPasswords),
      'Users whose Verify type is an integration may also sign in with a password set here (this skips Entra ID’s MFA).',
    ),
    field(
      'Session lifetime (minutes)',
      h('input', {
        type: 'number',
        name: 'sessionLifetimeMinutes',
        value: String(s.sessionLifetimeMinutes),
        min: 5,
        max: 1440,
        inputmode: 'numeric',
      }),
      'How long a broker session lasts, from 5 to 1440 minutes.',
    ),
    field(
      'Allowed return origins',
      h('textarea', {
        name: 'allowedReturnOrigins',
        rows: 4,
        value: s.allowedReturnOrigins.join('\n'),
        spellcheck: 'false',
      }),
      'Other https origins sign-in may send users back to, one per line (e.g. https://app.example.com).',
    ),
    field(
      'Audit retention (days)',
      h('input', {
        type: 'number',
        name: 'auditRetentionDays',
        value: String(s.auditRetentionDays),
        min: 31,
        max: 3650,
        inputmode: 'numeric',
      }),
      'How long audit events are kept, from 31 to 3650 days; a month of events is deleted once all of it is older.',
    ),
    box,
    submitRow('Save'),
  );
  onSubmit(form, box, async (f) => {
    const patch: Record<string, unknown> = {};
    const allow = f.get('allowOAuthPasswords') === 'on';
    if (allow !== s.allowOAuthPasswords) patch.allowOAuthPasswords = allow;
    const raw = textOf(f, 'sessionLifetimeMinutes');
    // An emptied field is sent as null so the API names the field, rather than being skipped.
    if (raw !== String(s.sessionLifetimeMinutes))
      patch.sessionLifetimeMinutes = raw === '' ? null : Number(raw);
    const days = textOf(f, 'auditRetentionDays');
    if (days !== String(s.auditRetentionDays)) patch.auditRetentionDays = days === '' ? null : Number(days);
    const origins = lines(textOf(f, 'allowedReturnOrigins'));
    if (origins.join('\n') !== s.allowedReturnOrigins.join('\n')) patch.allowedReturnOrigins = origins;
    if (!Object.keys(patch).length) return success(box, 'Nothing to save: no setting was changed.');
    const res = await api<Settings>('PATCH', '/settings', { body: patch, etag });
    if (!res.ok) return formFailure(form, box, res);
    s = res.body;
    etag = res.etag;
    success(box, 'Settings saved.');
  });
  show('Global settings', h('div', { class: 'card' }, form));
}
