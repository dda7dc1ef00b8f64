/**
 * One integration: create it (Configure Azure AD) or edit it, rotate its secret, activate (the API
 * tests the connection first), deactivate, delete. An activation failure is shown next to the field
 * it is about (wrong secret → client secret, unknown tenant → tenant).
 */
import { api, type Failure, type Result } from '../api.ts';
import { h } from '../dom.ts';
import { alert, clearErrors, fieldError, formFailure, howToFix, problem, success } from '../feedback.ts';
import { field } from '../fields.ts';
import { when } from '../format.ts';
import { consoleUrl, REDIRECT_URI, show } from '../page.ts';
import type { Integration } from '../types.ts';
import { actionButton, confirmButton, copyBox, liveRegion, onSubmit } from '../widgets.ts';
import { changes, integrationFields, readForm, secretHint } from './integration-form.ts';
import { provisioningPanel } from './integration-provisioning.ts';
import { expiry, lastTest, statusBadge } from './integration-status.ts';

/** Where an activation failure belongs in the form. */
const FAILURE_FIELD: Record<string, string> = {
  wrong_secret: 'clientSecret',
  secret_expired: 'clientSecret',
  unknown_application: 'applicationId',
  unknown_tenant: 'tenant',
};

export async function integrationPage(id: string): Promise<void> {
  let cur: Integration | null = null;
  let etag: string | null = null;
  if (id !== 'new') {
    const r = await api<Integration>('GET', `/integrations/${encodeURIComponent(id)}`);
    if (!r.ok) return show('Integration', problem(r));
    cur = r.body;
    etag = r.etag;
  }
  const form = h('form', { novalidate: true });
  const box = liveRegion();
  const summary = h('div', {});
  const buttons = h('div', { class: 'actions' });
  const secretInput = h('input', {
    type: 'password',
    name: 'clientSecret',
    autocomplete: 'new-password',
    maxlength: 1024,
  });
  const secretField = field('Client secret', secretInput, secretHint(cur));
  form.append(...integrationFields(cur, secretField), box, buttons);

  /** The actions other than the first save run on a saved integration only. */
  function saved(): Integration {
    if (!cur) throw new Error('the integration is not saved yet');
    return cur;
  }

  /** Keeps the answer of a successful call; shows a failed one on the form. */
  function took(r: Result<Integration>): r is Exclude<Result<Integration>, Failure> {
    if (!r.ok) {
      formFailure(form, box, r);
      return false;
    }
    cur = r.body;
    etag = r.etag;
    return true;
  }

  const putSecret = (integration: Integration, clientSecret: string, expiresOn: string) =>
    api<Integration>('PUT', `/integrations/${integration.id}/client-secret`, {
      body: { clientSecret, ...(expiresOn ? { expiresOn } : {}) },
      etag,
    });

  /** Saves the form: create, or patch what changed and rotate a typed secret. False when it failed. */
  async function save(): Promise<boolean> {
    const { v, secret, expiresOn } = readForm(form);
    if (!cur) {
      const r = await api<Integration>('POST', '/integrations', {
        body: {
          kind: 'azure-ad',
          ...v,
          ...(v.allowedTenants.length ? {} : { allowedTenants: undefined }),
          clientSecret: secret,
          ...(expiresOn ? { clientSecretExpiresOn: expiresOn } : {}),
        },
      });
      if (!took(r)) return false;
      history.replaceState(null, '', consoleUrl('integrations', r.body.id));
    } else {
      const patch = changes(v, cur);
      if (Object.keys(patch).length) {
        if (!took(await api<Integration>('PATCH', `/integrations/${cur.id}`, { body: patch, etag })))
          return false;
      }
      if (secret && !took(await putSecret(saved(), secret, expiresOn))) return false;
    }
    secretInput.value = '';
    return true;
  }

  /** An activation the connection test refused: the message next to its field when there is one. */
  function activationFailed(r: Failure): void {
    const current = saved();
    if (r.body?.etag) etag = r.body.etag;
    cur = { ...current, status: 'inactive', lastTest: r.body?.lastTest || current.lastTest };
    const code = r.body?.code;
    const where = code ? FAILURE_FIELD[code] : undefined;
    const message = `Activation failed: ${r.body?.detail || 'the connection test failed.'}`;
    if (!where || !fieldError(form, where, message, r.body?.fix)) {
      box.replaceChildren(alert(h('p', {}, message), r.body?.fix ? howToFix(r.body.fix) : null));
    } else {
      box.replaceChildren(
        alert(
          h(
            'p',
            {},
            'Activation failed: the integration is saved but not active. See the message next to the field.',
          ),
        ),
      );
      form.querySelector<HTMLElement>(`[name="${where}"]`)?.focus();
    }
  }

  async function activate(): Promise<void> {
    clearErrors(form);
    box.replaceChildren();
    if (!(await save())) return refresh();
    const r = await api<Integration>('POST', `/integrations/${saved().id}/activate`, { etag });
    if (!r.ok && r.status === 422) {
      activationFailed(r);
      return refresh();
    }
    if (!took(r)) return refresh();
    const { title } = saved();
    success(box, `${title} is active. Users whose Verify type is ${title} now sign in with Entra ID.`);
    refresh();
  }

  async function saveOnly(): Promise<void> {
    clearErrors(form);
    box.replaceChildren();
    if (await save()) success(box, 'Saved.');
    refresh();
  }

  async function rotate(): Promise<void> {
    clearErrors(form);
    if (!secretInput.value) {
      fieldError(form, 'clientSecret', 'Enter the new secret’s Value to rotate it.');
      secretInput.focus();
      return;
    }
    const { expiresOn } = readForm(form);
    if (!took(await putSecret(saved(), secretInput.value, expiresOn))) return;
    secretInput.value = '';
    success(
      box,
      `Secret rotated (version ${saved().clientSecret?.version ?? 'new'}). Activate again to test it.`,
    );
    refresh();
  }

  async function setActive(on: boolean): Promise<void> {
    const r = await api<Integration>(
      'POST',
      `/integrations/${saved().id}/${on ? 'activate' : 'deactivate'}`,
      {
        etag,
      },
    );
    if (!took(r)) return;
    success(box, `${saved().title} is ${saved().status}.`);
    refresh();
  }

  async function remove(): Promise<void> {
    const current = saved();
    const r = await api('DELETE', `/integrations/${current.id}`, { etag });
    if (!r.ok && r.status === 409) {
      box.replaceChildren(
        alert(
          h(
            'p',
            {},
            h('strong', {}, 'Not deleted: '),
            r.body?.detail || 'users are still assigned to this integration.',
          ),
          h(
            'p',
            {},
            'Change those users’ Verify type first, then delete. ',
            h(
              'a',
              { href: `${consoleUrl('users')}?verifyType=${encodeURIComponent(current.id)}` },
              `Users with Verify type ${current.title}`,
            ),
          ),
        ),
      );
      return refresh();
    }
    if (!r.ok) return formFailure(form, box, r);
    location.assign(consoleUrl('integrations'));
  }

  function facts(current: Integration): HTMLDListElement {
    return h(
      'dl',
      { class: 'facts card' },
      h('dt', {}, 'Status'),
      h('dd', { id: 'integration-status' }, statusBadge(current.status)),
      h('dt', {}, 'Client secret'),
      h(
        'dd',
        {},
        current.clientSecret
          ? `Set (version ${current.clientSecret.version || '—'}, updated ${when(current.clientSecret.updatedOn)}). `
          : 'Not set. ',
        expiry(current.clientSecret),
      ),
      h('dt', {}, 'Last activation test'),
      h('dd', {}, lastTest(current.lastTest)),
    );
  }

  /** The facts and the buttons follow the integration's state after every call. */
  function refresh(): void {
    summary.replaceChildren(cur ? facts(cur) : h('p', { class: 'muted' }, 'Not saved yet.'));
    const hint = secretField.querySelector('.hint');
    if (hint) hint.textContent = secretHint(cur);
    const active = cur?.status === 'active';
    const list: Node[] = [h('button', { type: 'submit' }, active ? 'Save' : 'Activate')];
    if (cur) {
      if (!active) list.push(actionButton('Save without activating', saveOnly));
      list.push(actionButton('Rotate secret', rotate));
      if (active) list.push(actionButton('Deactivate', () => setActive(false)));
      list.push(confirmButton('Delete', `Delete ${cur.title}?`, remove));
    }
    buttons.replaceChildren(...list);
  }

  onSubmit(form, box, () => (cur?.status === 'active' ? saveOnly() : activate()));
  refresh();
  show(
    cur ? `Integration: ${cur.title}` : 'Configure Azure AD',
    h('p', {}, h('a', { href: consoleUrl('integrations') }, '← All integrations')),
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'redirect-uri-label' },
      h('p', { class: 'label', id: 'redirect-uri-label' }, 'Redirect URI'),
      h(
        'p',
        { class: 'hint' },
        'Add this exact URI to the app registration in Entra (Authentication → Add a platform → Web) before activating.',
      ),
      copyBox('Redirect URI', cur?.redirectUri || REDIRECT_URI),
    ),
    summary,
    h('div', { class: 'card' }, form),
    cur ? provisioningPanel(cur) : null,
  );
}
