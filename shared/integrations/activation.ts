/**
 * The connection test run by `POST …/activate`: MSAL `acquireTokenByClientCredential` against the
 * integration's tenant and cloud, with a fresh MSAL client (nothing accumulates in a token cache),
 * and the failure translated into a stable code and a fix an admin understands. Entra's own text
 * (error_description) is never returned; only the AADSTS number and Entra's correlation id.
 */

import { BrokerError } from '../core/errors.ts';
import { classifyEntraError, type EntraErrorKind } from '../entra/errors.ts';
import { type EntraClientFactory, testClientCredentials } from '../entra/msal.ts';
import type { IntegrationCloud, IntegrationTestResult } from './schemas.ts';

export type ActivationFailureCode =
  | 'wrong_secret'
  | 'secret_expired'
  | 'unknown_application'
  | 'unknown_tenant'
  | 'authority_unreachable'
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
  other: 'connection_test_failed',
};

export interface ConnectionTestTarget {
  applicationId: string;
  tenant: string;
  allowedTenants: string[];
  cloud: IntegrationCloud;
}

export type ConnectionTestOutcome =
  | { ok: true }
  | { ok: false; code: ActivationFailureCode; aadsts?: number; entraCorrelationId?: string };

/**
 * The tenant the credentials are tested against: the integration's tenant, or for `organizations`
 * (multi-tenant) the first allowed tenant (client credentials need one directory).
 */
export function testTenant(target: ConnectionTestTarget): string {
  return target.tenant === 'organizations' ? (target.allowedTenants[0] ?? 'organizations') : target.tenant;
}

export async function runConnectionTest(
  factory: EntraClientFactory,
  target: ConnectionTestTarget,
  clientSecret: string,
): Promise<ConnectionTestOutcome> {
  try {
    // A fresh client per test: its in-memory token cache is dropped with it.
    const client = factory({
      applicationId: target.applicationId,
      tenant: testTenant(target),
      cloud: target.cloud,
      clientSecret,
    });
    await testClientCredentials(client, target.cloud);
    return { ok: true };
  } catch (err) {
    const c = classifyEntraError(err);
    return {
      ok: false,
      code: CODE_BY_KIND[c.kind],
      ...(c.aadsts !== undefined ? { aadsts: c.aadsts } : {}),
      ...(c.correlationId ? { entraCorrelationId: c.correlationId } : {}),
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
        lastTest,
        etag,
        ...(outcome.aadsts !== undefined ? { aadsts: outcome.aadsts } : {}),
        ...(outcome.entraCorrelationId ? { entraCorrelationId: outcome.entraCorrelationId } : {}),
      },
      headers: { ETag: etag },
    });
  }
}
