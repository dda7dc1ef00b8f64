/** The audit log: events filtered by type prefix and date range, newest first, paged by cursor. */
import { api } from '../api.ts';
import { h } from '../dom.ts';
import { field, text } from '../fields.ts';
import { query, when } from '../format.ts';
import { showFilteredList } from '../list.ts';
import { consoleUrl } from '../page.ts';
import type { AuditEvent, Page } from '../types.ts';
import { td } from '../widgets.ts';

const details = (e: AuditEvent): string =>
  [e.reason, e.changedFields?.length ? `changed: ${e.changedFields.join(', ')}` : '']
    .filter(Boolean)
    .join('; ') || '—';

export async function auditPage(): Promise<void> {
  const params = new URLSearchParams(location.search);
  const r = await api<Page<AuditEvent>>('GET', `/audit${query(params, ['type', 'from', 'to', 'cursor'])}`);
  const filters = h(
    'form',
    {
      method: 'get',
      action: consoleUrl('audit'),
      class: 'filters card',
      role: 'search',
      'aria-label': 'Filter events',
    },
    field('Type', text('type', params.get('type') || '', { spellcheck: 'false' }), 'e.g. admin. or signin'),
    field('From', h('input', { type: 'date', name: 'from', value: params.get('from') || '' })),
    field('To', h('input', { type: 'date', name: 'to', value: params.get('to') || '' })),
    h('button', { type: 'submit' }, 'Filter'),
  );
  showFilteredList('Audit log', filters, r, params, {
    headers: ['Time', 'Type', 'Actor', 'Target', 'Outcome', 'Details'],
    row: (e) =>
      h(
        'tr',
        {},
        td('Time', when(e.time)),
        td('Type', h('span', { class: 'mono' }, e.type)),
        td('Actor', e.actor),
        td('Target', e.target),
        td('Outcome', h('span', { class: `status ${e.outcome === 'success' ? 'ok' : 'failed'}` }, e.outcome)),
        td('Details', details(e)),
      ),
    none: 'No events match.',
  });
}
