/**
 * The management API's answers, as far as the console reads them. The server's schemas are the
 * truth (each domain folder's schemas.ts); these are kept apart because the browser code must not pull in
 * server modules.
 */

export interface Page<T> {
  items: T[];
  nextCursor?: string | null;
}

export interface TestResult {
  at: string;
  ok: boolean;
  reason: string | null;
}

export interface ClientSecretInfo {
  version: string;
  expiresOn: string | null;
  updatedOn: string;
}

export interface Integration {
  id: string;
  title: string;
  applicationId: string;
  tenant: string;
  allowedTenants: string[];
  cloud: string;
  matchClaim: string;
  status: 'active' | 'inactive';
  redirectUri: string;
  clientSecret?: ClientSecretInfo | null;
  lastTest: TestResult | null;
  credential?: CredentialView;
  pendingCredential?: CredentialView | null;
}

export type CredentialKind = 'clientSecret' | 'federated' | 'managedIdentity' | 'certificate';

/** What Entra's federated credential form asks for. */
export interface FederatedValues {
  issuer: string;
  subject: string;
  audience: string;
  /** Set when Entra cannot reach the issuer (a local or private broker address). */
  issuerWarning?: string;
}

export interface CertificateInfo {
  thumbprint: string;
  thumbprintSha256: string;
  notBefore: string;
  expiresOn: string;
  pem: string;
}

export interface CredentialView {
  kind: CredentialKind;
  federated?: FederatedValues;
  managedIdentity?: FederatedValues;
  certificate?: CertificateInfo;
  clientSecret?: ClientSecretInfo;
}

export type VerifyType =
  | { kind: 'password' }
  | { kind: 'integration'; integrationId: string; title: string | null };

export interface User {
  username: string;
  displayName: string;
  email: string | null;
  verifyType: VerifyType;
  hasPassword: boolean;
  roles: string[];
  disabled: boolean;
  entraBinding: { tenantId: string; objectId: string; boundAt: string } | null;
  lastLoginAt: string | null;
}

export interface Settings {
  allowOAuthPasswords: boolean;
  sessionLifetimeMinutes: number;
  allowedReturnOrigins: string[];
  auditRetentionDays: number;
}

/** An API applications get JWT access tokens for (GET /api/manage/apis). */
export interface ApiResource {
  id: string;
  resource: string;
  name: string;
  scopes: string[];
  allowedApplications: string[];
  accessTokenLifetimeSeconds: number;
  createdAt: string;
  updatedAt: string;
  etag: string;
}

export interface Application {
  clientId: string;
  name: string;
  type: 'confidential' | 'public';
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  allowedRoles: string[];
  /** Where the app starts its own sign-in (listed on the broker's signed-in page), or null. */
  initiateLoginUri: string | null;
  issuer: string;
  discoveryUrl: string;
  etag: string;
  /** Only in the answer that issued it (registration, rotation): shown once. */
  clientSecretValue?: string;
}

export interface AuditEvent {
  time: string;
  type: string;
  actor: string;
  target: string;
  outcome: 'success' | 'failure';
  changedFields?: string[];
  reason: string;
}

export interface ApiToken {
  id: string;
  name: string;
  expiresAt: string;
  lastUsedAt: string | null;
}

/** The token as created: its value is in this answer only. */
export interface IssuedToken extends ApiToken {
  token: string;
}
