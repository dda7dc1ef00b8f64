/**
 * How an integration authenticates to Entra (`credential.kind`), as the API takes it, as the row keeps
 * it and as the Integration shows it. Only `clientSecret` holds a value the admin typed; `federated`
 * and `managedIdentity` keep nothing secret at all, and `certificate` keeps the name of a Key Vault
 * key whose private half never leaves the vault.
 */
import { z } from 'zod';
import { TOKEN_EXCHANGE_AUDIENCE } from '../../entra/client-assertion.ts';
import { issuerReach } from '../../entra/issuer-reach.ts';

export const CREDENTIAL_KINDS = ['clientSecret', 'federated', 'managedIdentity', 'certificate'] as const;
export type CredentialKind = (typeof CREDENTIAL_KINDS)[number];

const secretValue = z.string().min(1, 'must not be empty').max(1024, 'must be at most 1024 characters');

/** The credential input; `expiresOn` is validated by the caller's date schema. */
export function credentialInputSchema<E extends z.ZodType<string>>(expiresOn: E) {
  return z.discriminatedUnion('kind', [
    z
      .object({ kind: z.literal('clientSecret'), clientSecret: secretValue, expiresOn: expiresOn.optional() })
      .strict(),
    z.object({ kind: z.literal('federated') }).strict(),
    z.object({ kind: z.literal('managedIdentity') }).strict(),
    z.object({ kind: z.literal('certificate') }).strict(),
  ]);
}

export type CredentialInput =
  | { kind: 'clientSecret'; clientSecret: string; expiresOn?: string | undefined }
  | { kind: 'federated' }
  | { kind: 'managedIdentity' }
  | { kind: 'certificate' };

/** What Entra's federated credential form asks for ("Other issuer" or "Managed identity"). */
export interface FederatedValues {
  issuer: string;
  subject: string;
  audience: string;
  /** Set when Entra cannot reach the issuer (a local or private broker address): said before any test. */
  issuerWarning?: string;
}

/** The credential as the integration row keeps it (JSON). */
export type StoredCredential =
  | { kind: 'clientSecret'; secretName: string; version: string; expiresOn: string | null; updatedOn: string }
  | { kind: 'federated'; addedAt: string }
  | { kind: 'managedIdentity'; issuer: string; subject: string; addedAt: string }
  | {
      kind: 'certificate';
      keyName: string;
      keyId: string;
      pem: string;
      thumbprint: string;
      x5t: string;
      x5tS256: string;
      notBefore: string;
      expiresOn: string;
      addedAt: string;
    };

/** The credential in the Integration resource: what to paste in Entra, never a secret value. */
export interface CredentialView {
  kind: CredentialKind;
  federated?: FederatedValues;
  managedIdentity?: FederatedValues;
  certificate?: {
    thumbprint: string;
    thumbprintSha256: string;
    notBefore: string;
    expiresOn: string;
    pem: string;
  };
  clientSecret?: { set: true; version: string; expiresOn: string | null; updatedOn: string };
}

/** The subject of an integration's federated credential: its id, which is never reused. */
export function federatedSubject(integrationId: string): string {
  return `integration:${integrationId}`;
}

export function credentialView(c: StoredCredential, integrationId: string, issuer: string): CredentialView {
  switch (c.kind) {
    case 'clientSecret':
      return {
        kind: c.kind,
        clientSecret: { set: true, version: c.version, expiresOn: c.expiresOn, updatedOn: c.updatedOn },
      };
    case 'federated': {
      const reach = issuerReach(issuer);
      return {
        kind: c.kind,
        federated: {
          issuer,
          subject: federatedSubject(integrationId),
          audience: TOKEN_EXCHANGE_AUDIENCE,
          ...(reach.message ? { issuerWarning: reach.message } : {}),
        },
      };
    }
    case 'managedIdentity':
      return {
        kind: c.kind,
        managedIdentity: { issuer: c.issuer, subject: c.subject, audience: TOKEN_EXCHANGE_AUDIENCE },
      };
    case 'certificate':
      return {
        kind: c.kind,
        certificate: {
          thumbprint: c.thumbprint,
          thumbprintSha256: Buffer.from(c.x5tS256, 'base64url').toString('hex').toUpperCase(),
          notBefore: c.notBefore,
          expiresOn: c.expiresOn,
          pem: c.pem,
        },
      };
  }
}

/** The date the credential stops working (secret or certificate); null when nothing expires. */
export function credentialExpiresOn(c: StoredCredential | undefined): string | null {
  if (!c) return null;
  if (c.kind === 'clientSecret') return c.expiresOn;
  if (c.kind === 'certificate') return c.expiresOn;
  return null;
}

/** Changes whenever the credential does: keys the per-instance MSAL client of a sign-in. */
export function credentialVersion(c: StoredCredential): string {
  switch (c.kind) {
    case 'clientSecret':
      return `s:${c.version}`;
    case 'certificate':
      return `c:${c.keyId}`;
    case 'federated':
      return `f:${c.addedAt}`;
    case 'managedIdentity':
      return `m:${c.subject}:${c.addedAt}`;
  }
}
