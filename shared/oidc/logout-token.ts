/**
 * A logout token (OIDC Back-Channel Logout 1.0 §2.4): a JWT signed with the OP's ID token key for
 * the application's algorithm, `typ` `logout+jwt`, with iss, aud, iat, exp, jti, sub, sid and the
 * back-channel logout event; never a nonce (so it can never pass for an ID token).
 */
import { randomUUID } from 'node:crypto';
import { importJWK, type JWK, SignJWT } from 'jose';

export const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';
/** How long a logout token is valid (the application checks iat/exp). */
const LIFETIME_S = 120;

export async function signLogoutToken(
  key: JWK,
  t: { issuer: string; audience: string; sub: string; sid: string; now: number },
): Promise<string> {
  const alg = key.alg ?? 'RS256';
  const iat = Math.floor(t.now / 1000);
  return new SignJWT({ sid: t.sid, events: { [BACKCHANNEL_LOGOUT_EVENT]: {} } })
    .setProtectedHeader({ alg, typ: 'logout+jwt', ...(key.kid ? { kid: key.kid } : {}) })
    .setIssuer(t.issuer)
    .setAudience(t.audience)
    .setSubject(t.sub)
    .setIssuedAt(iat)
    .setExpirationTime(iat + LIFETIME_S)
    .setJti(randomUUID())
    .sign(await importJWK(key, alg));
}
