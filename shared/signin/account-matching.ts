/**
 * Account matching (docs/security.md AM1–AM4): a bound user matches on (tid, oid) only; an unbound user matches once,
 * on the integration's claim, and only the expected user (or, IdP-first, a user assigned to this
 * integration) — then the binding is stored. Email alone never links an account that is bound.
 */
import { BrokerError } from '../core/errors.ts';
import { SignInError } from './errors.ts';
import type { EntraIdentity } from './id-token.ts';
import type { JustInTime, SignInIntegration, SignInUser, UserDirectory } from './ports.ts';

export class AccountMatcher {
  constructor(
    private readonly users: UserDirectory,
    private readonly jit?: JustInTime,
  ) {}

  async match(
    identity: EntraIdentity,
    integration: SignInIntegration,
    expectedUsername: string | null,
    returnTo: string | null,
    expectedUser?: SignInUser,
  ): Promise<SignInUser> {
    const ctx = { username: expectedUsername, integrationId: integration.id, returnTo };
    // A returning user: the expected account is bound to exactly this (tid, oid) (docs/security.md AM1). The binding
    // index says the same (both are written together), so it need not be read.
    const boundHere =
      expectedUser?.entraBinding &&
      expectedUser.entraBinding.tenantId === identity.tenantId &&
      expectedUser.entraBinding.objectId === identity.objectId;
    const bound = boundHere
      ? expectedUser
      : await this.users.findByBinding(identity.tenantId, identity.objectId);
    let user: SignInUser | undefined = bound;
    if (bound) {
      if (expectedUsername && bound.username !== expectedUsername) {
        throw new SignInError('account_mismatch', 403, 'bound_to_other_user', ctx);
      }
    } else {
      // nOAuth: across tenants the email claim is unverified. New integrations cannot be set up this
      // way (validation); the check here holds whatever a stored row says.
      if (integration.tenant.toLowerCase() === 'organizations' && integration.matchClaim === 'email') {
        throw new SignInError('no_account', 403, 'email_claim_multi_tenant', ctx);
      }
      // The email claim is whatever a tenant admin typed into `mail`: it is only trusted for a first
      // binding when Entra says the tenant owns the email's domain (xms_edov, an optional claim the
      // app registration must request). Both routes (username first and IdP first) need it.
      if (integration.matchClaim === 'email' && !identity.emailDomainVerified) {
        throw new SignInError('no_account', 403, 'email_domain_not_verified', ctx);
      }
      const claim = claimValue(identity, integration.matchClaim);
      if (!claim) throw new SignInError('no_account', 403, 'claim_missing', ctx);
      if (expectedUsername) {
        const candidate = expectedUser ?? (await this.users.getByUsername(expectedUsername));
        if (!candidate || !claimMatches(claim, candidate)) {
          throw new SignInError('account_mismatch', 403, 'claim_mismatch', {
            ...ctx,
            mismatch: {
              matchClaim: integration.matchClaim,
              returnedAccount: claim,
              userEmailEmpty: !candidate?.email,
            },
          });
        }
        user = candidate;
      } else {
        const byName = await this.users.getByUsername(claim);
        const viaEmail = byName ? undefined : await this.users.findByEmail(claim);
        const candidate = byName ?? (viaEmail ? await this.users.getByUsername(viaEmail) : undefined);
        // Nobody has the claim as username or email: the integration may create the user now.
        const created = candidate ? undefined : await this.jit?.create(identity, integration.id, claim);
        if (created) return created;
        if (!candidate || !claimMatches(claim, candidate)) {
          throw new SignInError('no_account', 403, 'no_matching_user', {
            ...ctx,
            mismatch: { matchClaim: integration.matchClaim, returnedAccount: claim, userEmailEmpty: null },
          });
        }
        user = candidate;
      }
      // An account already bound to another Entra identity never re-links by a claim (docs/security.md AM1, nOAuth).
      if (user.entraBinding) throw new SignInError('account_mismatch', 403, 'bound_to_other_identity', ctx);
    }
    if (!user) throw new SignInError('no_account', 403, 'no_matching_user', ctx);
    const userCtx = { username: user.username, integrationId: integration.id, returnTo };
    if (user.disabled) throw new SignInError('account_disabled', 403, 'user_disabled', userCtx);
    if (user.verifyType.kind !== 'integration' || user.verifyType.integrationId !== integration.id) {
      throw new SignInError('not_allowed', 403, 'wrong_verify_type', userCtx);
    }
    if (!bound) {
      try {
        await this.users.bind(
          user.username,
          { tenantId: identity.tenantId, objectId: identity.objectId },
          user.etag,
        );
      } catch (err) {
        if (err instanceof BrokerError && err.status < 500) {
          throw new SignInError('account_mismatch', 409, 'binding_conflict', userCtx);
        }
        throw err;
      }
    }
    return user;
  }
}

function claimValue(identity: EntraIdentity, claim: SignInIntegration['matchClaim']): string | null {
  const v = claim === 'email' ? identity.email : claim === 'upn' ? identity.upn : identity.preferredUsername;
  return v ? v.trim().toLowerCase() : null;
}

function claimMatches(claim: string, user: SignInUser): boolean {
  return claim === user.username.toLowerCase() || (!!user.email && claim === user.email.toLowerCase());
}
