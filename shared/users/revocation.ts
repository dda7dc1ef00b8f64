import type { UserRecord } from './records.ts';

/**
 * Whether a token issued at `iatSeconds` (JWT `iat`, whole seconds) was revoked by the user's last
 * "sign out everywhere", disable, password or binding change. A token issued in the same second as
 * the revocation counts as revoked (the user signs in again; never the other way round).
 */
export function issuedBeforeRevocation(
  user: Pick<UserRecord, 'sessionsRevokedAt'>,
  iatSeconds: number,
): boolean {
  if (!user.sessionsRevokedAt) return false;
  const revokedAt = Date.parse(user.sessionsRevokedAt);
  return Number.isFinite(revokedAt) && iatSeconds <= Math.floor(revokedAt / 1000);
}
