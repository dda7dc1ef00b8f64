/**
 * The credential MSAL presents for an integration at a token request (code redemption, activation
 * test), per kind:
 * - `clientSecret`: the secret value;
 * - `federated`: a fresh assertion for every request, signed here with the OP's current RS256 key
 *   (no Key Vault call), `sub` = this integration's subject and nothing else (docs/security.md CR1);
 * - `managedIdentity`: the Function App identity's token for `api://AzureADTokenExchange`, from
 *   @azure/identity (which caches it until shortly before it expires);
 * - `certificate`: an assertion signed by Key Vault, kept per integration and key until
 *   CERTIFICATE_REUSE_MARGIN_S before it expires, so the vault signs once per assertion lifetime, not
 *   once per sign-in. Entra accepts such an assertion again until it expires.
 * No route hands an assertion out: the only caller is MSAL, through the callback built here.
 */
import {
  type AssertionSigningKey,
  certificateAssertion,
  federatedAssertion,
  secondsLeft,
  TOKEN_EXCHANGE_AUDIENCE,
} from '../../entra/client-assertion.ts';
import type { ClientAssertionSource, EntraClientCredential } from '../../entra/msal.ts';
import { federatedSubject, type StoredCredential } from './kinds.ts';

/** The OP's signing key and issuer (the broker as federated credential issuer). */
export interface OpAssertionKeys {
  readonly issuer: string;
  assertionSigningKey(): Promise<AssertionSigningKey>;
}

/** A token of the app's managed identity for the token exchange audience. */
export interface ManagedIdentityTokens {
  exchangeToken(): Promise<string>;
}

/** Key Vault's sign operation on a versioned key id. */
export interface DigestSigner {
  signDigest(keyId: string, digest: Buffer): Promise<Buffer>;
}

export interface AssertionDeps {
  op: OpAssertionKeys;
  managedIdentity: ManagedIdentityTokens;
  vault: DigestSigner;
  now: () => number;
}

/** A certificate assertion lives this long (Entra takes at most 10 minutes). */
export const CERTIFICATE_ASSERTION_LIFETIME_S = 600;
/** A kept certificate assertion is replaced this long before it expires (clock skew, slow requests). */
export const CERTIFICATE_REUSE_MARGIN_S = 120;
const MAX_KEPT = 500;

/** Counts of what the credentials did (the round-trip test and the benchmark read them). */
export interface AssertionStats {
  federatedSigned: number;
  certificateSigned: number;
  managedIdentityTokens: number;
}

export class IntegrationAssertions {
  readonly stats: AssertionStats = { federatedSigned: 0, certificateSigned: 0, managedIdentityTokens: 0 };
  private readonly kept = new Map<string, Promise<string>>();

  constructor(private readonly d: AssertionDeps) {}

  /** The issuer the OP publishes in its discovery document, which a federated credential must name. */
  get issuer(): string {
    return this.d.op.issuer;
  }

  /** What MSAL authenticates the integration's app with; `clientSecret` only for that kind. */
  credentialFor(
    integrationId: string,
    c: StoredCredential,
    clientSecret: string | undefined,
  ): EntraClientCredential {
    if (c.kind === 'clientSecret') return { clientSecret: clientSecret ?? '' };
    return { clientAssertion: this.source(integrationId, c) };
  }

  private source(integrationId: string, c: Exclude<StoredCredential, { kind: 'clientSecret' }>) {
    const subject = federatedSubject(integrationId);
    switch (c.kind) {
      case 'federated':
        return (async () => {
          const key = await this.d.op.assertionSigningKey();
          this.stats.federatedSigned++;
          return federatedAssertion(
            { issuer: this.d.op.issuer, subject, audience: TOKEN_EXCHANGE_AUDIENCE },
            key,
            this.d.now(),
          );
        }) satisfies ClientAssertionSource;
      case 'managedIdentity':
        return (async () => {
          this.stats.managedIdentityTokens++;
          return this.d.managedIdentity.exchangeToken();
        }) satisfies ClientAssertionSource;
      case 'certificate':
        return ((req) => this.certificate(integrationId, c, req)) satisfies ClientAssertionSource;
    }
  }

  private certificate(
    integrationId: string,
    c: Extract<StoredCredential, { kind: 'certificate' }>,
    req: { clientId: string; tokenEndpoint: string },
  ): Promise<string> {
    const key = `${integrationId}|${c.keyId}|${req.clientId}|${req.tokenEndpoint}`;
    const held = this.kept.get(key);
    if (held) {
      const fresh = held.then((a) => (secondsLeft(a, this.d.now()) ?? 0) > CERTIFICATE_REUSE_MARGIN_S);
      return fresh.then((ok) => (ok ? held : this.signCertificate(key, c, req)));
    }
    return this.signCertificate(key, c, req);
  }

  private signCertificate(
    key: string,
    c: Extract<StoredCredential, { kind: 'certificate' }>,
    req: { clientId: string; tokenEndpoint: string },
  ): Promise<string> {
    const signing = certificateAssertion(
      {
        clientId: req.clientId,
        tokenEndpoint: req.tokenEndpoint,
        x5t: c.x5t,
        x5tS256: c.x5tS256,
        signDigest: (digest) => {
          this.stats.certificateSigned++;
          return this.d.vault.signDigest(c.keyId, digest);
        },
      },
      this.d.now(),
      CERTIFICATE_ASSERTION_LIFETIME_S,
    );
    if (this.kept.size >= MAX_KEPT) this.kept.clear();
    // Requests arriving while the vault signs wait for the same assertion; a failure is not kept.
    this.kept.set(key, signing);
    signing.catch(() => {
      if (this.kept.get(key) === signing) this.kept.delete(key);
    });
    return signing;
  }

  /** Drops the kept assertions of an integration (its certificate was replaced or removed). */
  forget(integrationId: string): void {
    for (const k of this.kept.keys()) if (k.startsWith(`${integrationId}|`)) this.kept.delete(k);
  }
}
