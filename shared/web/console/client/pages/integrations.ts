/** The integrations list: each one's status, tenant, secret expiry and last activation test. */
import { api } from '../api.ts';
import { h } from '../dom.ts';
import { problem } from '../feedback.ts';
import { consoleUrl, show } from '../page.ts';
import type { Integration, Page } from '../types.ts';
import { tableOr, td } from '../widgets.ts';
import { expiry, lastTest, statusBadge } from './integration-status.ts';

export async function integrationsList(): Promise<void> {
  const r = await api<Page<Integration>>('GET', '/integrations');
  if (!r.ok) return show('Integrations', problem(r));
  show(
    'Integrations',
    h(
      'p',
      {},
      'An integration connects the broker to an app registration in your organisation’s Microsoft Entra ID (Azure AD): its users then sign in there, with their own password and MFA.',
    ),
    h('p', {}, h('a', { class: 'button', href: consoleUrl('integrations', 'new') }, 'Configure Azure AD')),
    tableOr(
      ['Title', 'Status', 'Tenant', 'Client secret expiry', 'Last activation test'],
      r.body.items,
      (i) =>
        h(
          'tr',
          {},
          td('Title', h('a', { href: consoleUrl('integrations', i.id) }, i.title)),
          td('Status', statusBadge(i.status)),
          td('Tenant', h('span', { class: 'mono' }, i.tenant)),
          td(
            'Client secret expiry',
            i.credential?.certificate
              ? expiry(i.credential.certificate)
              : i.credential && i.credential.kind !== 'clientSecret'
                ? h('span', { class: 'muted' }, 'Does not expire')
                : expiry(i.clientSecret),
          ),
          td('Last activation test', lastTest(i.lastTest)),
        ),
      'No integrations yet. Configure Azure AD to let users sign in with Entra ID.',
    ),
  );
}
