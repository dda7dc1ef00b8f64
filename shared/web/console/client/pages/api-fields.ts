/** The fields an API is registered and edited with (all but its resource URI), and their values. */
import { h } from '../dom.ts';
import { field, text } from '../fields.ts';
import { textOf, words } from '../format.ts';
import type { ApiResource, Application } from '../types.ts';

export const DEFAULT_LIFETIME_SECONDS = 600;

export function apiFields(cur: ApiResource | null, apps: Application[]): HTMLElement[] {
  const registered = apps.length
    ? `; registered: ${apps.map((a) => `${a.name} (${a.clientId})`).join(', ')}`
    : '';
  return [
    field('Name', text('name', cur?.name ?? '', { maxlength: 100, autocomplete: 'off' })),
    field(
      'Scopes (optional)',
      text('scopes', (cur?.scopes ?? []).join(' '), { autocomplete: 'off', spellcheck: 'false' }),
      'Separated by spaces, e.g. orders.read orders.write.',
    ),
    field(
      'Applications allowed to ask (optional)',
      text('allowedApplications', (cur?.allowedApplications ?? []).join(' '), {
        autocomplete: 'off',
        spellcheck: 'false',
      }),
      `Client ids separated by spaces${registered}.`,
    ),
    field(
      'Access token lifetime in seconds',
      h('input', {
        type: 'number',
        name: 'accessTokenLifetimeSeconds',
        min: 60,
        max: 86400,
        value: String(cur?.accessTokenLifetimeSeconds ?? DEFAULT_LIFETIME_SECONDS),
        inputmode: 'numeric',
      }),
    ),
  ];
}

export interface ApiValues {
  name: string;
  scopes: string[];
  allowedApplications: string[];
  accessTokenLifetimeSeconds: number;
}

export function readApiFields(f: FormData): ApiValues {
  return {
    name: textOf(f, 'name'),
    scopes: words(textOf(f, 'scopes')),
    allowedApplications: words(textOf(f, 'allowedApplications')),
    accessTokenLifetimeSeconds: Number(textOf(f, 'accessTokenLifetimeSeconds') || DEFAULT_LIFETIME_SECONDS),
  };
}
