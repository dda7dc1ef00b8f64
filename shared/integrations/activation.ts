/**
 * The connection test run by `POST …/activate`: MSAL `acquireTokenByClientCredential` against the
 * integration's tenant and cloud, with a fresh MSAL client (nothing accumulates in a token cache),
 * and the failure translated into a stable code and a fix an admin understands. Entra's own text
 * (error_description) is never returned; only the AADSTS number and Entra's correlation id.
 */

import { BrokerError } from '../core/errors.ts';
import {
  type CredentialField,
  classifyEntraError,
  type EntraErrorKind,
  fieldToFix,
} from '../entra/errors.ts';
import { type EntraClientCredential, type EntraClientFactory, testClientCredentials } from '../entra/msal.ts';
import type { FederatedValues } from './credentials/kinds.ts';
import type { IntegrationCloud, IntegrationTestResult } from './schemas.ts';

export type ActivationFailureCode =
  | 'wrong_secret'
  | 'secret_expired'
  | 'unknown_application'
  | 'unknown_tenant'
  | 'authority_unreachable'
  | 'federated_issuer_mismatch'
  | 'federated_subject_mismatch'
  | 'federated_audience_mismatch'
  | 'issuer_unreachable'
  | 'assertion_key_unknown'
  | 'assertion_signature_invalid'
  | 'assertion_outside_validity'
  | 'assertion_replayed'
  | 'credential_unavailable'
  | 'connection_test_failed';

interface FailureText {
  message: string;
  fix: string;
}

export const ACTIVATION_FAILURES: Record<ActivationFailureCode, FailureText> = {
  wrong_secret: {
    message:
      'Entra ID rejected the client secret (AADSTS7000215). Most often the secret’s ID was pasted instead of its Value.',
    fix:
      "Copy the secret's Value, not its Secret ID: in the Entra admin center open App registrations → " +
      'your app → Certificates & secrets; the Value is shown only right after the secret is created, so ' +
      'create a new client secret if you no longer have it, then rotate it here and activate again.',
  },
  secret_expired: {
    message: 'The client secret has expired (AADSTS7000222).',
    fix:
      'Create a new client secret under App registrations → your app → Certificates & secrets, rotate it ' +
      'here (PUT …/client-secret with its Value and expiry date), then activate again.',
  },
  unknown_application: {
    message: 'No application with this Application (client) ID exists in the tenant (AADSTS700016).',
    fix:
      'Check the Application (client) ID on the app registration’s Overview page and that the tenant is the ' +
      'directory where the app is registered (or, for a multi-tenant app, where it has been consented).',
  },
  unknown_tenant: {
    message: 'Entra ID does not know this tenant (AADSTS90002).',
    fix:
      'Use the Directory (tenant) ID from the app registration’s Overview page, or a verified domain of ' +
      'that tenant, and check that the cloud (public, usgov, china) is the one the tenant lives in.',
  },
  authority_unreachable: {
    message: 'The broker could not reach the Entra ID sign-in service for this cloud.',
    fix:
      'Try again in a few minutes. If it keeps failing, check that the Function App can make outbound ' +
      'HTTPS connections to the authority of the integration’s cloud.',
  },
  federated_issuer_mismatch: {
    message:
      'No federated credential of the app registration names this issuer (AADSTS700211), or none with the managed identity as issuer.',
    fix: 'In Entra open App registrations → your app → Certificates & secrets → Federated credentials and add (or correct) one whose Issuer is exactly the expected issuer shown here, with no trailing slash; then activate again.',
  },
  federated_subject_mismatch: {
    message: "The app registration's federated credential names another subject (AADSTS700213).",
    fix: 'Edit the federated credential under App registrations → your app → Certificates & secrets → Federated credentials: the Subject identifier must be exactly the expected subject shown here (it is case-sensitive); then activate again.',
  },
  federated_audience_mismatch: {
    message: "The app registration's federated credential names another audience (AADSTS70021).",
    fix: 'Edit the federated credential under App registrations → your app → Certificates & secrets → Federated credentials: its Audience must be api://AzureADTokenExchange; then activate again.',
  },
  issuer_unreachable: {
    message: "Entra ID could not fetch the broker's OpenID discovery document or keys (AADSTS50166).",
    fix: 'Entra reads the issuer over the public internet: BROKER_PUBLIC_BASE_URL must be the broker’s public https address, and /api/oidc/.well-known/openid-configuration and /api/oidc/jwks must answer from outside your network. A local or private address cannot work with Entra; use a client secret or certificate there.',
  },
  assertion_key_unknown: {
    message: "The key that signed the assertion is not in the issuer's published keys (AADSTS7000272).",
    fix: 'Check that BROKER_PUBLIC_BASE_URL is the address Entra reaches this broker at and that its /api/oidc/jwks is not served from a cache of an older key set; then activate again.',
  },
  assertion_signature_invalid: {
    message:
      'Entra ID could not verify the assertion’s signature (AADSTS700027): for a certificate, it is not uploaded to this app registration.',
    fix: 'Download the certificate (PEM or .cer) from this integration and upload it under App registrations → your app → Certificates & secrets → Certificates → Upload certificate; then activate again.',
  },
  assertion_outside_validity: {
    message: 'Entra ID says the assertion was outside its validity period (AADSTS700024).',
    fix: 'The clock of the broker’s host is off, or the certificate is not yet valid or has expired: check the host’s time, and the certificate’s dates shown here (add a new certificate if it expired); then activate again.',
  },
  assertion_replayed: {
    message: 'Entra ID refused an assertion it had seen before (AADSTS50013).',
    fix: 'Activate again: every test sends a fresh assertion.',
  },
  credential_unavailable: {
    message: 'The broker could not produce its credential for the test (managed identity or Key Vault).',
    fix: 'For a managed identity: check that the Function App has a user-assigned identity set in AZURE_CLIENT_ID and that it is assigned to the app. For a certificate: check that the identity may sign with the vault’s keys (Key Vault Crypto User or Officer on the vault). Then activate again.',
  },
  connection_test_failed: {
    message: 'Entra ID refused the connection test.',
    fix:
      'Check the Application (client) ID, the tenant and the client secret Value, and that the app ' +
      'registration is enabled; then activate again. Quote entraCorrelationId to Microsoft support if needed.',
  },
};

const CODE_BY_KIND: Record<EntraErrorKind, ActivationFailureCode> = {
  wrong_secret: 'wrong_secret',
  secret_expired: 'secret_expired',
  unknown_application: 'unknown_application',
  unknown_tenant: 'unknown_tenant',
  unreachable: 'authority_unreachable',
  invalid_grant: 'connection_test_failed',
  federated_issuer_mismatch: 'federated_issuer_mismatch',
  federated_subject_mismatch: 'federated_subject_mismatch',
  federated_audience_mismatch: 'federated_audience_mismatch',
  issuer_unreachable: 'issuer_unreachable',
  assertion_key_unknown: 'assertion_key_unknown',
  assertion_signature_invalid: 'assertion_signature_invalid',
  assertion_outside_validity: 'assertion_outside_validity',
  assertion_replayed: 'assertion_replayed',
  other: 'connection_test_failed',
};

/** The field an admin fixes for each failure (shown beside the message; see entra/errors.ts). */
export function failureField(code: ActivationFailureCode): CredentialField | undefined {
  if (code === 'authority_unreachable' || code === 'connection_test_failed') return undefined;
  if (code === 'credential_unavailable') return undefined;
  // Every other code is named after the Entra error kind it comes from.
  return fieldToFix(code);
}

export interface ConnectionTestTarget {
  applicationId: string;
  tenant: string;
  allowedTenants: string[];
  cloud: IntegrationCloud;
}

export type ConnectionTestOutcome =
  | { ok: true }
  | {
      ok: false;
      code: ActivationFailureCode;
      aadsts?: number;
      entraCorrelationId?: string;
      /** The values Entra's federated credential must hold (federated and managed identity kinds). */
      expected?: FederatedValues;
    };

/**
 * The tenant the credentials are tested against: the integration's tenant, or for `organizations`
 * (multi-tenant) the first allowed tenant (client credentials need one directory).
 */
export function testTenant(target: ConnectionTestTarget): string {
  return target.tenant === 'organizations' ? (target.allowedTenants[0] ?? 'organizations') : target.tenant;
}

/** Marks a failure of the broker's own credential source (identity endpoint, Key Vault), not Entra's. */
class CredentialSourceError extends Error {}

function guarded(credential: EntraClientCredential): EntraClientCredential {
  if (!('clientAssertion' in credential)) return credential;
  const source = credential.clientAssertion;
  return {
    clientAssertion: async (req) => {
      try {
        return await source(req);
      } catch (err) {
        throw new CredentialSourceError('credential source failed', { cause: err });
      }
    },
  };
}

function causedBySource(err: unknown, depth = 0): boolean {
  if (err instanceof CredentialSourceError) return true;
  if (depth > 4 || typeof err !== 'object' || err === null) return false;
  return causedBySource((err as { cause?: unknown }).cause, depth + 1);
}

export async function runConnectionTest(
  factory: EntraClientFactory,
  target: ConnectionTestTarget,
  credential: EntraClientCredential,
  expected?: FederatedValues,
): Promise<ConnectionTestOutcome> {
  try {
    // A fresh client per test: its in-memory token cache is dropped with it.
    const client = factory({
      applicationId: target.applicationId,
      tenant: testTenant(target),
      cloud: target.cloud,
      ...guarded(credential),
    });
    await testClientCredentials(client, target.cloud);
    return { ok: true };
  } catch (err) {
    if (causedBySource(err)) return { ok: false, code: 'credential_unavailable' };
    const c = classifyEntraError(err);
    const code = CODE_BY_KIND[c.kind];
    return {
      ok: false,
      code,
      ...(c.aadsts !== undefined ? { aadsts: c.aadsts } : {}),
      ...(c.correlationId ? { entraCorrelationId: c.correlationId } : {}),
      ...(expected && code.startsWith('federated_') ? { expected } : {}),
    };
  }
}

/** 422: the connection test failed; the integration was left inactive and `lastTest` stored. */
export class ActivationFailedError extends BrokerError {
  constructor(
    outcome: Extract<ConnectionTestOutcome, { ok: false }>,
    lastTest: IntegrationTestResult,
    etag: string,
  ) {
    const text = ACTIVATION_FAILURES[outcome.code];
    super(422, outcome.code, text.message, {
      extras: {
        fix: text.fix,
        ...(failureField(outcome.code) ? { field: failureField(outcome.code) } : {}),
        ...(outcome.expected ? { expected: outcome.expected } : {}),
        lastTest,
        etag,
        ...(outcome.aadsts !== undefined ? { aadsts: outcome.aadsts } : {}),
        ...(outcome.entraCorrelationId ? { entraCorrelationId: outcome.entraCorrelationId } : {}),
      },
      headers: { ETag: etag },
    });
  }
}
