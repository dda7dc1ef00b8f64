/**
 * What the sign-in service needs from the rest of the broker, as small interfaces: the users,
 * integrations, settings and password services implement them, tests may pass their own.
 */
import type { EntraCloud } from '../entra/authority.ts';
import type { EntraClientCredential } from '../entra/msal.ts';

export interface SignInUser {
  username: string;
  displayName: string | null;
  email: string | null;
  verifyType: { kind: 'password' } | { kind: 'integration'; integrationId: string };
  passwordHash: string | null;
  roles: string[];
  disabled: boolean;
  entraBinding: { tenantId: string; objectId: string; boundAt: string } | null;
  createdAt: string;
  /** Last successful sign-in (kept to the hour), null before the first. */
  lastLoginAt?: string | null;
  etag: string;
}

export interface UserDirectory {
  getByUsername(username: string): Promise<SignInUser | undefined>;
  findByBinding(tenantId: string, objectId: string): Promise<SignInUser | undefined>;
  /** The username whose email this is (an index point read), if any. */
  findByEmail(email: string): Promise<string | undefined>;
  bind(username: string, binding: { tenantId: string; objectId: string }, etag: string): Promise<unknown>;
  recordLogin(username: string): Promise<void>;
  /** Rehash on sign-in; conditional on the etag read before verifying (false when the user changed). */
  setPasswordHash(username: string, phc: string, etag?: string): Promise<unknown>;
}

/**
 * Just-in-time creation of an unknown Entra user on a first sign-in (per integration, off by
 * default): the new user, enabled, assigned to the integration and bound to the identity; or
 * undefined when the integration does not create users this way.
 */
export interface JustInTime {
  create(
    identity: {
      tenantId: string;
      objectId: string;
      name: string | null;
      email: string | null;
      emailDomainVerified: boolean;
    },
    integrationId: string,
    claim: string,
  ): Promise<SignInUser | undefined>;
}

export interface SignInSettings {
  allowOAuthPasswords: boolean;
  sessionLifetimeMinutes: number;
  allowedReturnOrigins: string[];
}

export interface SettingsReader {
  get(): Promise<SignInSettings>;
}

export interface SignInIntegration {
  id: string;
  title: string;
  applicationId: string;
  tenant: string;
  allowedTenants: string[];
  cloud: EntraCloud;
  matchClaim: 'preferred_username' | 'email' | 'upn';
  status: 'active' | 'inactive';
  etag: string;
  /** Present when the integration authenticates with a client secret. */
  clientSecret?: { version: string };
}

/** How MSAL authenticates the integration's app, and a key that changes with it (the MSAL client's cache key). */
export interface SignInCredential {
  value: EntraClientCredential;
  version: string;
}

export interface IntegrationSource {
  /** One point read of the integration; its secret from a per-instance cache (no Key Vault call when warm). */
  getForSignIn(
    id: string,
    opts?: { refreshSecret?: boolean },
  ): Promise<{ integration: SignInIntegration; clientSecret: string; credential?: SignInCredential }>;
}

export interface PasswordVerifier {
  verify(phc: string, password: string): Promise<boolean>;
  /** Spends the same time as a real verification (unknown users, refused methods). */
  dummyVerify(password: string): Promise<void>;
  needsRehash(phc: string): boolean;
  hash(password: string): Promise<string>;
}
