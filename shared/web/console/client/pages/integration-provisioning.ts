/**
 * The integration page's "Provisioning" panel: turn provisioning from Entra (SCIM 2.0) on and off,
 * the two values to paste into Entra (Provisioning → Admin Credentials → Tenant URL and Secret
 * Token) each with a Copy button, rotating the token, and the time and outcome of the last request
 * Entra made. The token is shown once, right after it is made; the API never shows it again.
 */
import { api } from '../api.ts';
import { h } from '../dom.ts';
import { problem, success } from '../feedback.ts';
import { when } from '../format.ts';
import { actionButton, confirmButton, copyBox, liveRegion, secretCard } from '../widgets.ts';

interface ProvisioningState {
  enabled: boolean;
  tenantUrl: string;
  tenantId: string | null;
  lastRequestAt: string | null;
  lastOutcome: string | null;
}

interface WithProvisioning {
  id: string;
  title: string;
  provisioning?: ProvisioningState | null;
  groupRoles?: Record<string, string>;
  jitProvisioning?: boolean;
}

interface Issued extends Required<Omit<WithProvisioning, 'id' | 'title'>> {
  tenantUrl: string;
  secretToken: string;
}

const outcomeText = (o: string | null) =>
  !o ? 'none yet' : /^2/.test(o) ? `${o} (success)` : `${o} (refused: see the audit log)`;

export function provisioningPanel(integration: WithProvisioning): HTMLElement {
  const box = liveRegion();
  const body = h('div', {});
  let state = integration.provisioning ?? null;
  const base = `/integrations/${encodeURIComponent(integration.id)}/provisioning`;

  function issued(r: Issued, heading: string): void {
    state = r.provisioning;
    render();
    box.replaceChildren(
      secretCard(
        heading,
        'Secret Token',
        r.secretToken,
        h('p', { class: 'hint' }, 'Paste it into Entra → Provisioning → Admin Credentials → Secret Token.'),
      ),
    );
  }

  async function turnOn(): Promise<void> {
    const r = await api<Issued>('POST', base, { body: {} });
    if (!r.ok) return void box.replaceChildren(problem(r));
    issued(r.body, 'Provisioning is on: ');
  }

  async function rotate(): Promise<void> {
    const r = await api<Issued>('POST', `${base}/token`);
    if (!r.ok) return void box.replaceChildren(problem(r));
    issued(r.body, 'New token (the old one no longer works): ');
  }

  async function turnOff(): Promise<void> {
    const r = await api('DELETE', base);
    if (!r.ok) return void box.replaceChildren(problem(r));
    state = state ? { ...state, enabled: false } : null;
    render();
    success(box, 'Provisioning is off: Entra’s requests are refused from now on.');
  }

  function render(): void {
    if (!state?.enabled) {
      body.replaceChildren(
        h(
          'p',
          {},
          'Off. When on, Entra creates, changes and deactivates the users of ',
          integration.title,
          ' (SCIM 2.0); a deactivated user is signed out of every application at once.',
        ),
        h('div', { class: 'actions' }, actionButton('Turn on provisioning', turnOn)),
      );
      return;
    }
    const roles = Object.entries(integration.groupRoles ?? {});
    body.replaceChildren(
      h(
        'p',
        { class: 'hint' },
        'In Entra: Enterprise applications → this app → Provisioning → Provisioning Mode: Automatic → Admin Credentials. Paste both values, Test Connection, Save.',
      ),
      h('p', { class: 'label' }, 'Tenant URL'),
      copyBox('Tenant URL', state.tenantUrl),
      h('dl', { class: 'facts' }, [
        h('dt', {}, 'Secret Token'),
        h('dd', {}, 'Set. It is shown only when made; rotate to get a new one.'),
        h('dt', {}, 'Users bound in tenant'),
        h('dd', {}, state.tenantId ?? '—'),
        h('dt', {}, 'Last request from Entra'),
        h(
          'dd',
          { id: 'provisioning-last' },
          `${when(state.lastRequestAt)}, ${outcomeText(state.lastOutcome)}`,
        ),
        h('dt', {}, 'Group roles'),
        h('dd', {}, roles.length ? roles.map(([g, r]) => `${g} → ${r}`).join('; ') : 'none'),
        h('dt', {}, 'Just-in-time creation'),
        h('dd', {}, integration.jitProvisioning ? 'on' : 'off'),
      ]),
      h(
        'div',
        { class: 'actions' },
        confirmButton('Rotate token', 'The current token stops working at once. Rotate?', rotate),
        confirmButton('Turn off', `Stop provisioning ${integration.title}?`, turnOff),
      ),
    );
  }

  render();
  return h(
    'section',
    { class: 'card', 'aria-labelledby': 'provisioning-heading' },
    h('h2', { id: 'provisioning-heading' }, 'Provisioning'),
    body,
    box,
  );
}
