/**
 * Classifies what MSAL threw into a small, safe shape. Entra's own text (error_description) is
 * never returned: only the AADSTS number, a kind, and the correlation id for support.
 */

export type EntraErrorKind =
  | 'wrong_secret'
  | 'secret_expired'
  | 'unknown_application'
  | 'unknown_tenant'
  | 'unreachable'
  | 'invalid_grant'
  | 'federated_issuer_mismatch'
  | 'federated_subject_mismatch'
  | 'federated_audience_mismatch'
  | 'issuer_unreachable'
  | 'assertion_key_unknown'
  | 'assertion_signature_invalid'
  | 'assertion_outside_validity'
  | 'assertion_replayed'
  | 'other';

export interface EntraErrorClass {
  kind: EntraErrorKind;
  aadsts?: number;
  correlationId?: string;
}

const KIND_BY_AADSTS: Record<number, EntraErrorKind> = {
  7000215: 'wrong_secret',
  7000222: 'secret_expired',
  700016: 'unknown_application',
  90002: 'unknown_tenant',
  // Client assertions (federated credential, managed identity, certificate).
  700211: 'federated_issuer_mismatch',
  700213: 'federated_subject_mismatch',
  70021: 'federated_audience_mismatch',
  50166: 'issuer_unreachable',
  7000272: 'assertion_key_unknown',
  700027: 'assertion_signature_invalid',
  700024: 'assertion_outside_validity',
  50013: 'assertion_replayed',
};

/**
 * The part of the integration's setup an admin changes to fix a refusal: a field of the
 * integration, one of the three values of the federated credential in Entra, the certificate in
 * Entra, the broker's public address, or the broker host's clock.
 */
export type CredentialField =
  | 'clientSecret'
  | 'applicationId'
  | 'tenant'
  | 'issuer'
  | 'subject'
  | 'audience'
  | 'publicBaseUrl'
  | 'certificate'
  | 'clock';

const FIELD_BY_KIND: Partial<Record<EntraErrorKind, CredentialField>> = {
  wrong_secret: 'clientSecret',
  secret_expired: 'clientSecret',
  unknown_application: 'applicationId',
  unknown_tenant: 'tenant',
  federated_issuer_mismatch: 'issuer',
  federated_subject_mismatch: 'subject',
  federated_audience_mismatch: 'audience',
  issuer_unreachable: 'publicBaseUrl',
  assertion_key_unknown: 'publicBaseUrl',
  assertion_signature_invalid: 'certificate',
  assertion_outside_validity: 'clock',
};

/** Which field to fix for a refusal of this kind; undefined when no single field is to blame. */
export function fieldToFix(kind: EntraErrorKind): CredentialField | undefined {
  return FIELD_BY_KIND[kind];
}

/** MSAL's error codes (and Node's socket/TLS codes) that mean "could not talk to Entra at all". */
const UNREACHABLE_CODES = new Set([
  'network_error',
  'no_network_connectivity',
  'endpoints_resolution_error',
  'openid_config_error',
  'econnrefused',
  'econnreset',
  'enotfound',
  'eai_again',
  'etimedout',
  'ehostunreach',
  'enetunreach',
  'und_err_connect_timeout',
  'und_err_socket',
  'cert_has_expired',
  'depth_zero_self_signed_cert',
  'self_signed_cert_in_chain',
  'unable_to_verify_leaf_signature',
  'unable_to_get_issuer_cert_locally',
  'err_tls_cert_altname_invalid',
]);

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function field(err: unknown, name: string): unknown {
  return typeof err === 'object' && err !== null ? (err as Record<string, unknown>)[name] : undefined;
}

function text(err: unknown, name: string): string {
  const v = field(err, name);
  return typeof v === 'string' ? v : '';
}

/** The AADSTS number: MSAL's `errorNo` (Entra's `error_codes[0]`), else the first `AADSTS<n>` in the text. */
function aadstsOf(err: unknown): number | undefined {
  const errorNo = field(err, 'errorNo');
  if (typeof errorNo === 'number' && Number.isInteger(errorNo) && errorNo > 0) return errorNo;
  if (typeof errorNo === 'string' && /^\d{1,9}$/.test(errorNo)) return Number(errorNo);
  for (const source of [text(err, 'errorMessage'), text(err, 'message')]) {
    const m = /AADSTS(\d{1,9})\b/.exec(source);
    if (m?.[1]) return Number(m[1]);
  }
  return undefined;
}

function networkCodes(err: unknown, depth = 0): string[] {
  if (depth > 4 || typeof err !== 'object' || err === null) return [];
  const codes = [text(err, 'errorCode'), text(err, 'code')].filter(Boolean).map((c) => c.toLowerCase());
  return [
    ...codes,
    ...networkCodes(field(err, 'cause'), depth + 1),
    ...networkCodes(field(err, 'error'), depth + 1),
  ];
}

export function classifyEntraError(err: unknown): EntraErrorClass {
  const aadsts = aadstsOf(err);
  const rawCorrelation = text(err, 'correlationId');
  const correlationId = GUID.test(rawCorrelation) ? rawCorrelation : undefined;
  const result = (kind: EntraErrorKind): EntraErrorClass => ({
    kind,
    ...(aadsts !== undefined ? { aadsts } : {}),
    ...(correlationId ? { correlationId } : {}),
  });

  if (aadsts !== undefined && KIND_BY_AADSTS[aadsts]) return result(KIND_BY_AADSTS[aadsts]);
  const codes = networkCodes(err);
  if (aadsts === undefined && codes.some((c) => UNREACHABLE_CODES.has(c))) return result('unreachable');
  if (codes.includes('invalid_grant')) return result('invalid_grant');
  return result('other');
}
