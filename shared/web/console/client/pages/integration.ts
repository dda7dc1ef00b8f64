/**
 * One integration: create it (Configure Azure AD) with a credential kind (a federated credential
 * unless the admin picks another), or edit it, rotate its secret, activate (the API tests the
 * connection first), deactivate, delete; add a second credential, test it and make it current. An
 * activation failure is shown next to the field it is about (wrong secret → client secret, unknown
 * tenant → tenant), or, for the values pasted in Entra, with the values Entra must hold.
 */
import { api, type Failure, type Result } from '../api.ts';
import { h } from '../dom.ts';
import { alert, clearErrors, fieldError, formFailure, howToFix, problem, success } from '../feedback.ts';
import { field } from '../fields.ts';
import { when } from '../format.ts';
import { consoleUrl, REDIRECT_URI, retitle, show } from '../page.ts';
import type { CredentialKind, FederatedValues, Integration } from '../types.ts';
import { actionButton, confirmButton, copyBox, liveRegion, onSubmit } from '../widgets.ts';
import { credentialCard, KIND_NAMES, kindField, toggleSecretFields } from './integration-credential.ts';
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
  const activateHint = h(
    'p',
    { class: 'hint', id: 'activate-hint' },
    'Activate saves the form and tests the connection with Entra in one step; the integration turns active only when the test passes. Users whose Verify type is this Title can sign in once it is active.',
  );
  const secretInput = h('input', {
    type: 'password',
    name: 'clientSecret',
    autocomplete: 'new-password',
    maxlength: 1024,
  });
  const secretField = field('Client secret', secretInput, secretHint(cur));
  const fields = integrationFields(cur, secretField);
  const currentKind = (): CredentialKind => cur?.credential?.kind ?? (cur ? 'clientSecret' : 'federated');
  // The secret and its expiry only where a client secret is (or is being) the credential.
  const secretFields = [secretField, fields[fields.indexOf(secretField) + 1] as HTMLElement];
  if (!cur) fields.splice(fields.indexOf(secretField), 0, kindField('credentialKind'));
  form.append(...fields, box, activateHint, buttons);
  if (!cur) toggleSecretFields(form, 'credentialKind', secretFields);
  else for (const f of secretFields) f.hidden = currentKind() !== 'clientSecret';
  const credentials = h('div', {});

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
      const kind = chosenKind();
      const r = await api<Integration>('POST', '/integrations', {
        body: {
          kind: 'azure-ad',
          ...v,
          ...(v.allowedTenants.length ? {} : { allowedTenants: undefined }),
          ...(kind === 'clientSecret'
            ? { clientSecret: secret, ...(expiresOn ? { clientSecretExpiresOn: expiresOn } : {}) }
            : { credential: { kind } }),
        },
      });
      if (!took(r)) return false;
      history.replaceState(null, '', consoleUrl('integrations', r.body.id));
      retitle(`Integration: ${r.body.title}`);
    } else {
      const patch = changes(v, cur);
      if (Object.keys(patch).length) {
        if (!took(await api<Integration>('PATCH', `/integrations/${cur.id}`, { body: patch, etag })))
          return false;
        if (patch.title !== undefined) retitle(`Integration: ${saved().title}`);
      }
      if (secret && !took(await putSecret(saved(), secret, expiresOn))) return false;
    }
    secretInput.value = '';
    return true;
  }

  function chosenKind(): CredentialKind {
    if (cur) return currentKind();
    return (form.querySelector<HTMLSelectElement>('select[name="credentialKind"]')?.value ??
      'federated') as CredentialKind;
  }

  /** The values Entra's federated credential must hold, after a refusal about one of them. */
  function expectedValues(expected: FederatedValues | undefined): HTMLElement | null {
    if (!expected) return null;
    return h(
      'div',
      {},
      h('p', {}, 'Entra must hold exactly these values in the federated credential:'),
      copyBox('Expected issuer', expected.issuer),
      copyBox('Expected subject identifier', expected.subject),
      copyBox('Expected audience', expected.audience),
    );
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
      box.replaceChildren(
        alert(
          h('p', {}, message),
          r.body?.fix ? howToFix(r.body.fix) : null,
          expectedValues(r.body?.expected),
        ),
      );
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
    const fresh = !cur;
    if (!(await save())) return refresh();
    if (fresh && currentKind() !== 'clientSecret') {
      success(
        box,
        `Saved. Do the steps for the ${KIND_NAMES[currentKind()].toLowerCase()} below in Entra, then choose Activate.`,
      );
      return refresh();
    }
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

  async function addCredential(): Promise<void> {
    const current = saved();
    const kind = (credentials.querySelector<HTMLSelectElement>('select[name="pendingKind"]')?.value ??
      'federated') as CredentialKind;
    const secretValue =
      credentials.querySelector<HTMLInputElement>('input[name="pendingSecret"]')?.value ?? '';
    const r = await api<Integration>('POST', `/integrations/${current.id}/credentials`, {
      body: { credential: kind === 'clientSecret' ? { kind, clientSecret: secretValue } : { kind } },
      etag,
    });
    if (!took(r)) return refresh();
    success(box, `${KIND_NAMES[kind]} added as the second credential. Do its steps in Entra, then test it.`);
    refresh();
  }

  async function promote(): Promise<void> {
    const r = await api<Integration>('POST', `/integrations/${saved().id}/credentials/promote`, { etag });
    if (!r.ok && r.status === 422) {
      activationFailed(r);
      return refresh();
    }
    if (!took(r)) return refresh();
    success(
      box,
      `The ${KIND_NAMES[saved().credential?.kind ?? 'clientSecret'].toLowerCase()} is now current.`,
    );
    refresh();
  }

  async function dropPending(): Promise<void> {
    if (!took(await api<Integration>('DELETE', `/integrations/${saved().id}/credentials/pending`, { etag })))
      return refresh();
    success(box, 'The second credential was removed.');
    refresh();
  }

  function credentialSections(current: Integration): Node[] {
    const out: Node[] = [];
    if (current.credential) out.push(credentialCard('Credential', current.credential, current.id));
    if (current.pendingCredential) {
      out.push(
        credentialCard('Second credential (not used yet)', current.pendingCredential, current.id, [
          h(
            'p',
            { class: 'hint' },
            'Sign-ins keep using the current credential until this one passes its test. Then the old one can be removed in Entra.',
          ),
          h(
            'div',
            { class: 'actions' },
            actionButton('Test and make current', promote),
            confirmButton('Remove', 'Remove the second credential?', dropPending),
          ),
        ]),
      );
    } else {
      const secret = field(
        'New client secret',
        h('input', {
          type: 'password',
          name: 'pendingSecret',
          autocomplete: 'new-password',
          maxlength: 1024,
        }),
        'The secret’s Value (not its Secret ID).',
      );
      const section = h(
        'section',
        { class: 'card', 'aria-label': 'Add a second credential' },
        h('h2', {}, 'Switch credential'),
        h(
          'p',
          { class: 'hint' },
          'Add a second credential, set it up in Entra and test it; it becomes current only once its test passes, so no sign-in fails during the switch.',
        ),
        kindField(
          'pendingKind',
          current.credential?.kind === 'federated' ? 'certificate' : 'federated',
          'Second credential',
        ),
        secret,
        h('div', { class: 'actions' }, actionButton('Add second credential', addCredential)),
      );
      toggleSecretFields(section, 'pendingKind', [secret]);
      out.push(section);
    }
    return out;
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
      h('dt', {}, current.clientSecret ? 'Client secret' : 'Credential'),
      h(
        'dd',
        {},
        current.clientSecret
          ? [
              `Set (version ${current.clientSecret.version || '—'}, updated ${when(current.clientSecret.updatedOn)}). `,
              expiry(current.clientSecret),
            ]
          : KIND_NAMES[current.credential?.kind ?? 'federated'],
      ),
      h('dt', {}, 'Last activation test'),
      h('dd', {}, lastTest(current.lastTest)),
    );
  }

  /** The facts and the buttons follow the integration's state after every call. */
  function refresh(): void {
    summary.replaceChildren(cur ? facts(cur) : h('p', { class: 'muted' }, 'Not saved yet.'));
    credentials.replaceChildren(...(cur ? credentialSections(cur) : []));
    // The kind is chosen once, on create; later changes go through a second credential.
    const kindSelect = form.querySelector<HTMLElement>('select[name="credentialKind"]')?.closest('.field');
    if (cur && kindSelect instanceof HTMLElement) kindSelect.hidden = true;
    if (cur) for (const f of secretFields) f.hidden = currentKind() !== 'clientSecret';
    const hint = secretField.querySelector('.hint');
    if (hint) hint.textContent = secretHint(cur);
    const active = cur?.status === 'active';
    const list: Node[] = [
      h(
        'button',
        { type: 'submit', ...(active ? {} : { 'aria-describedby': 'activate-hint' }) },
        active ? 'Save' : 'Activate',
      ),
    ];
    if (cur) {
      if (!active) list.push(actionButton('Save without activating', saveOnly));
      if (currentKind() === 'clientSecret') list.push(actionButton('Rotate secret', rotate));
      if (active) list.push(actionButton('Deactivate', () => setActive(false)));
      list.push(confirmButton('Delete', `Delete ${cur.title}?`, remove));
    }
    buttons.replaceChildren(...list);
    activateHint.hidden = active;
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
    credentials,
  );
}
