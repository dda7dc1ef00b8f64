/**
 * An integration's credential on its page: the kind selector (a federated credential by default),
 * the values to paste in Entra for it, each with a Copy button and one line on where it goes, the
 * certificate to download, and the second ("pending") credential that a passing test makes current.
 */
import { h } from '../dom.ts';
import { field, select } from '../fields.ts';
import type { CertificateInfo, CredentialKind, CredentialView, FederatedValues } from '../types.ts';
import { copyBox } from '../widgets.ts';
import { expiry } from './integration-status.ts';

export const KIND_LABELS: Record<CredentialKind, string> = {
  federated: 'Federated credential: the broker is the issuer (recommended: no secret, nothing expires)',
  certificate: 'Certificate: the broker keeps its key in Key Vault',
  managedIdentity: 'Managed identity of the broker (app registrations in the broker’s own tenant)',
  clientSecret: 'Client secret',
};

export const KIND_NAMES: Record<CredentialKind, string> = {
  federated: 'Federated credential',
  certificate: 'Certificate',
  managedIdentity: 'Managed identity',
  clientSecret: 'Client secret',
};

/** The kind selector; `federated` unless told otherwise. */
export function kindField(
  name: string,
  selected: CredentialKind = 'federated',
  label = 'Credential',
): HTMLDivElement {
  return field(
    label,
    select(
      name,
      (Object.keys(KIND_LABELS) as CredentialKind[]).map((k) => [k, KIND_LABELS[k]] as const),
      selected,
    ),
    'How the broker proves to Entra that it is this app registration. With a federated credential or a certificate nothing secret is typed here.',
  );
}

/** Shows `secretFields` only while the selector says client secret. */
export function toggleSecretFields(form: HTMLElement, selectName: string, secretFields: HTMLElement[]): void {
  const sel = form.querySelector<HTMLSelectElement>(`select[name="${selectName}"]`);
  const sync = () => {
    for (const f of secretFields) f.hidden = sel?.value !== 'clientSecret';
  };
  sel?.addEventListener('change', sync);
  sync();
}

function value(label: string, v: string, where: string): HTMLDivElement {
  return h(
    'div',
    { class: 'paste' },
    h('p', { class: 'label' }, label),
    h('p', { class: 'hint' }, where),
    copyBox(label, v),
  );
}

function federatedValues(v: FederatedValues, scenario: string): HTMLElement[] {
  return [
    h(
      'p',
      {},
      `In Entra open App registrations → your app → Certificates & secrets → Federated credentials → Add credential, choose “${scenario}”, and paste:`,
    ),
    ...(v.issuerWarning ? [h('p', { class: 'warn', role: 'note' }, `Warning: ${v.issuerWarning}`)] : []),
    value('Issuer', v.issuer, 'Goes in “Issuer”, exactly as shown (no trailing slash).'),
    value('Subject identifier', v.subject, 'Goes in “Subject identifier” (it is case-sensitive).'),
    value('Audience', v.audience, 'Goes in “Audience” (Entra’s default; leave it as it is).'),
    h('p', { class: 'hint' }, 'Any name will do for “Name”. Save it in Entra, then test here.'),
  ];
}

/** A download of the certificate's public half as PEM or DER (.cer): what Entra's upload takes. */
function download(label: string, fileName: string, content: () => BlobPart, type: string): HTMLButtonElement {
  return h(
    'button',
    {
      type: 'button',
      class: 'secondary',
      onclick: () => {
        const url = URL.createObjectURL(new Blob([content()], { type }));
        const a = h('a', { href: url, download: fileName });
        document.body.append(a);
        a.click();
        a.remove();
        setTimeout(() => URL.revokeObjectURL(url), 10_000);
      },
    },
    label,
  );
}

function der(pem: string): Uint8Array {
  const b64 = pem.replace(/-----(BEGIN|END) CERTIFICATE-----|\s+/g, '');
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

function certificateValues(c: CertificateInfo, integrationId: string): HTMLElement[] {
  const base = `broker-integration-${integrationId.slice(0, 8)}`;
  return [
    h(
      'p',
      {},
      'Download the certificate, then in Entra open App registrations → your app → Certificates & secrets → Certificates → Upload certificate, and upload it. Only the public half leaves the broker; its key stays in Key Vault.',
    ),
    h(
      'div',
      { class: 'actions' },
      download('Download .cer', `${base}.cer`, () => der(c.pem) as BlobPart, 'application/pkix-cert'),
      download('Download PEM', `${base}.pem`, () => c.pem, 'application/x-pem-file'),
    ),
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, 'Thumbprint'),
      h(
        'dd',
        {},
        h('code', {}, c.thumbprint),
        h('span', { class: 'hint' }, ' Entra shows this in the Thumbprint column after the upload.'),
      ),
      h('dt', {}, 'Expires'),
      h('dd', {}, expiry({ expiresOn: c.expiresOn })),
    ),
  ];
}

/** What to do in Entra for this credential. */
export function credentialDetails(c: CredentialView, integrationId: string): HTMLElement[] {
  if (c.federated) return federatedValues(c.federated, 'Other issuer');
  if (c.managedIdentity)
    return [
      h(
        'p',
        { class: 'hint' },
        'Works only for app registrations in the tenant that hosts the broker (the identity belongs to that tenant).',
      ),
      ...federatedValues(c.managedIdentity, 'Other issuer'),
    ];
  if (c.certificate) return certificateValues(c.certificate, integrationId);
  if (c.clientSecret)
    return [
      h(
        'p',
        {},
        `Client secret version ${c.clientSecret.version || '—'}. `,
        expiry(c.clientSecret),
        '. Every secret expires: a federated credential does not.',
      ),
    ];
  return [];
}

export function credentialCard(
  title: string,
  c: CredentialView,
  integrationId: string,
  extra: Node[] = [],
): HTMLElement {
  return h(
    'section',
    { class: 'card', 'aria-label': title },
    h('h2', {}, `${title}: ${KIND_NAMES[c.kind]}`),
    ...credentialDetails(c, integrationId),
    ...extra,
  );
}
