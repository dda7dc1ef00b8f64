/**
 * Single sign-on for an application that already holds a grant in this OP session: the library's own
 * default (`loadExistingGrant` returns the session's grant for the client), kept to what the broker can
 * check without a round trip more. The grant is carried on when all of these hold, else a fresh one is
 * made as before:
 *
 * - the OP session is the same user's, and notes the grant for this application bound to the broker
 *   session signing in now (a re-authentication or another user goes through session-switch.ts);
 * - its row was read ahead beside the OP session (prefetch.ts `prefetchSessionGrant`): never an extra
 *   read after it;
 * - the row exists (a revoked grant is deleted), is this user's and this application's, names the
 *   same broker session, and already holds every scope and claim asked for now (a request for more
 *   gets a fresh grant with all of it); a request that names an API (`resource`) gets a fresh grant.
 *
 * A carried-on grant is not written again (its entry in the broker session's grant index is, sso.ts):
 * the code names it, as the library's would. What the grant allows never grows this way; the code and
 * its tokens still carry only what this request asked for.
 */
import { boundSession } from './grant-session.ts';
import type { OidcContext } from './provider.ts';
import type { Binding, OpSessionLike } from './session-switch.ts';
import type { OidcTableStore } from './store.ts';

type Grant = InstanceType<OidcContext['oidc']['provider']['Grant']>;

/** oidc-provider's non-rejectable claims: never missing from a grant (its `op_claims_missing` check). */
const ALWAYS_GRANTED_CLAIMS = ['sub', 'sid', 'auth_time', 'acr', 'amr', 'iss'];

const sameBinding = (a: Partial<Binding> | undefined, b: Binding): boolean => a?.u === b.u && a?.s === b.s;

export async function reusableGrant(
  ctx: OidcContext,
  store: OidcTableStore,
  op: OpSessionLike,
  binding: Binding,
  userId: string,
  clientId: string,
  scope: string,
  requestedClaims: string[],
): Promise<Grant | undefined> {
  const auth = op.authorizations?.[clientId];
  const grantId = auth?.grantId;
  if (!grantId || op.accountId !== userId || !sameBinding(auth.broker, binding)) return undefined;
  // A request that names an API gets a fresh grant with that API's scopes (resources.ts), as before.
  if (Object.keys(ctx.oidc.resourceServers ?? {}).length > 0) return undefined;
  if (!store.readAlready('Grant', grantId)) return undefined;
  const grant = await ctx.oidc.provider.Grant.find(grantId);
  if (!grant || grant.accountId !== userId || grant.clientId !== clientId) return undefined;
  if (!sameBinding(await boundSession(store, grantId), binding)) return undefined;
  const scopes = new Set((grant.getOIDCScope() ?? '').split(' '));
  if (!scope.split(' ').every((s) => s === '' || scopes.has(s))) return undefined;
  // The claims every grant holds, as the library's consent check counts them (`auth_time` is asked
  // for on every request: the clients require it).
  const claims = new Set([...grant.getOIDCClaims(), ...ALWAYS_GRANTED_CLAIMS]);
  if (!requestedClaims.every((c) => claims.has(c))) return undefined;
  return grant;
}
