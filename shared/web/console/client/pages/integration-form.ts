/** The integration form's fields, and what it holds as the API's create and patch bodies. */
import { h } from '../dom.ts';
import { field, select, text } from '../fields.ts';
import { lines, textOf } from '../format.ts';
import type { Integration } from '../types.ts';

/** The editable settings, as the API names them. */
export interface IntegrationValues {
  title: string;
  applicationId: string;
  tenant: string;
  cloud: string;
  matchClaim: string;
  allowedTenants: string[];
}

const SCALARS = ['title', 'applicationId', 'tenant', 'cloud', 'matchClaim'] as const;

export const secretHint = (cur: Integration | null): string =>
  cur
    ? 'Leave empty to keep the current secret. To rotate it, enter the new secret’s Value. Never shown again after saving.'
    : 'The secret’s Value (not its Secret ID) from Certificates & secrets. Never shown again after saving.';

/** Every field but the client secret's, which the page keeps to update its hint. */
export function integrationFields(cur: Integration | null, secretField: HTMLElement): HTMLElement[] {
  return [
    field(
      'Title',
      text('title', cur?.title, { maxlength: 100, autocomplete: 'off' }),
      'Users see “Continue with <Title>”; also the name in a user’s Verify type.',
    ),
    field(
      'Application ID',
      text('applicationId', cur?.applicationId, { autocomplete: 'off', spellcheck: 'false' }),
      'Application (client) ID from the app registration’s Overview page.',
    ),
    field(
      'Tenant',
      text('tenant', cur?.tenant, { autocomplete: 'off', spellcheck: 'false' }),
      'Directory (tenant) ID, a verified domain such as contoso.onmicrosoft.com, or “organizations”.',
    ),
    secretField,
    field(
      'Client secret expires on (optional)',
      h('input', { type: 'date', name: 'clientSecretExpiresOn' }),
      'From the Expires column in Entra; used for the expiry warning.',
    ),
    h(
      'details',
      {},
      h('summary', {}, 'Optional settings'),
      field(
        'Cloud',
        select(
          'cloud',
          [
            ['public', 'Public (login.microsoftonline.com)'],
            ['usgov', 'US Government'],
            ['china', 'China (21Vianet)'],
          ],
          cur?.cloud || 'public',
        ),
      ),
      field(
        'Allowed tenants',
        h('textarea', { name: 'allowedTenants', rows: 3, value: (cur?.allowedTenants || []).join('\n') }),
        'Only with tenant “organizations”: the tenant IDs allowed to sign in, one per line.',
      ),
      field(
        'Match claim',
        select(
          'matchClaim',
          [
            ['preferred_username', 'preferred_username'],
            ['upn', 'upn'],
            ['email', 'email'],
          ],
          cur?.matchClaim || 'preferred_username',
        ),
        'The ID token claim compared with the user’s email on the first sign-in.',
      ),
    ),
  ];
}

export function readForm(form: HTMLFormElement): { v: IntegrationValues; secret: string; expiresOn: string } {
  const f = new FormData(form);
  const v = {
    title: textOf(f, 'title'),
    applicationId: textOf(f, 'applicationId').trim(),
    tenant: textOf(f, 'tenant').trim(),
    cloud: String(f.get('cloud')),
    matchClaim: String(f.get('matchClaim')),
    allowedTenants: lines(textOf(f, 'allowedTenants')),
  };
  return { v, secret: textOf(f, 'clientSecret'), expiresOn: textOf(f, 'clientSecretExpiresOn') };
}

/** The PATCH body: only what differs from the saved integration. */
export function changes(v: IntegrationValues, cur: Integration): Partial<IntegrationValues> {
  const patch: Partial<IntegrationValues> = {};
  for (const k of SCALARS) if (v[k] !== cur[k]) patch[k] = v[k];
  if (v.allowedTenants.join(',') !== (cur.allowedTenants || []).join(','))
    patch.allowedTenants = v.allowedTenants;
  return patch;
}
