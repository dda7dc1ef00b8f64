/**
 * What the provider asks of the rest of the broker while it serves a request: clients (the
 * applications service), accounts, the pages it shows (the web layer's renderer), and its events,
 * which become audit events of the request.
 */
import { randomUUID } from 'node:crypto';
import type { AuditNoise } from '../audit/noise.ts';
import { isDependencyFailure } from '../core/dependency.ts';
import type { Logger } from '../core/log.ts';
import type { Accounts } from './accounts.ts';
import type { OidcPage, OidcPages } from './pages.ts';
import type { AuditRecorder, ProviderClientSource } from './ports.ts';
import type { OidcContext, ProviderHooks } from './provider.ts';
import { stateOf } from './request.ts';

export interface HooksDeps {
  applications: ProviderClientSource;
  accounts: Accounts;
  pages: OidcPages;
  record: AuditRecorder;
  /** Failures no known user or authenticated client can be held to: counted, not one row each. */
  noise: Pick<AuditNoise, 'count'>;
  log: Logger;
}

/**
 * Whether a refused token request is attributable: the client it names is a confidential one (it
 * authenticates, or a wrong secret was presented for it). A public client's id is public: anyone
 * can name it, so its refusals are anonymous noise.
 */
function attributableClient(ctx: OidcContext): boolean {
  const client = ctx.oidc?.client as { clientAuthMethod?: string } | undefined;
  return !!client && client.clientAuthMethod !== undefined && client.clientAuthMethod !== 'none';
}

function setPage(ctx: OidcContext, p: OidcPage): void {
  ctx.type = 'html';
  ctx.body = p.body;
  for (const [k, v] of Object.entries(p.headers)) ctx.set(k, v);
}

/** Where a sign-out form may end up: the origin of the application's post-logout redirect URI. */
function logoutTargets(ctx: OidcContext): string[] {
  const target = ctx.oidc.params?.post_logout_redirect_uri;
  try {
    return typeof target === 'string' ? [new URL(target).origin] : [];
  } catch {
    return [];
  }
}

export function providerHooks(d: HooksDeps): ProviderHooks {
  return {
    findClient: async (clientId) => {
      const app = await d.applications.clientForProvider(clientId);
      if (!app) return undefined;
      const client = { ...app } as Record<string, unknown>;
      // Confidential applications may get their own tokens for APIs that list them (resources.ts).
      if (client.token_endpoint_auth_method !== 'none' && Array.isArray(client.grant_types))
        client.grant_types = [...client.grant_types, 'client_credentials'];
      return client;
    },
    findAccount: (_ctx, sub, token) => d.accounts.find(sub, token),
    renderError: (ctx) => {
      const correlationId = stateOf(ctx)?.rc.correlationId ?? randomUUID();
      const status = Math.max(ctx.status, 400);
      setPage(ctx, d.pages.invalidRequest({ status, correlationId }));
      ctx.status = status;
    },
    logoutPage: (ctx, form) =>
      setPage(
        ctx,
        d.pages.signOutConfirm({
          form,
          formTargets: logoutTargets(ctx),
          appName: (ctx.oidc?.client as { clientName?: string } | undefined)?.clientName ?? null,
        }),
      ),
    logoutDone: (ctx) => setPage(ctx, d.pages.signedOut()),
    unrouted: (ctx) => {
      const st = stateOf(ctx);
      if (st) st.unrouted = true;
    },
    onEvent: (name, ctx, err) => {
      const st = stateOf(ctx);
      const clientId = ctx.oidc?.client?.clientId;
      const base = {
        target: clientId ? `application:${clientId}` : 'oidc',
        ...(st ? { correlationId: st.rc.correlationId, clientAddress: st.rc.clientAddress } : {}),
      };
      let p: Promise<unknown> | undefined;
      if (name === 'grant.success') {
        const e = ctx.oidc.entities as Record<string, { accountId?: string } | undefined>;
        const accountId = e.AccessToken?.accountId ?? e.RefreshToken?.accountId ?? e.Account?.accountId ?? '';
        // A client's own token (client_credentials) is the application's act, with no user.
        const ownToken = !!e.ClientCredentials && !!clientId;
        p = d.record({
          type: 'oidc.token.issued',
          actor: accountId ? `user-id:${accountId}` : ownToken ? `application:${clientId}` : 'unknown',
          outcome: 'success',
          ...base,
          details: {
            clientId: clientId ?? null,
            userId: accountId || null,
            grantType: String(ctx.oidc.params?.grant_type ?? ''),
          },
        });
      } else if (name === 'authorization.error' || name === 'grant.error') {
        const code = (err as { error?: unknown })?.error;
        const type = name === 'grant.error' ? 'oidc.token.refused' : 'oidc.authorization.refused';
        const reason = typeof code === 'string' && /^[a-z_]{1,64}$/.test(code) ? code : 'server_error';
        if (name === 'grant.error' && attributableClient(ctx)) {
          p = d.record({
            type,
            actor: 'anonymous',
            outcome: 'failure',
            reason,
            ...base,
            details: { clientId: clientId ?? null },
          });
        } else {
          // An authorization request is anyone's, and so is a public client's token request.
          d.noise.count({
            type,
            reason,
            clientAddress: st?.rc.clientAddress ?? 'unknown',
            target: 'oidc',
            ...(st ? { correlationId: st.rc.correlationId } : {}),
          });
        }
      } else if (name === 'end_session.success') {
        // Only a logout of an OP session with a signed-in account ends the broker session: the
        // library answers a browser without one with an auto-submitting form, which any site could
        // make a visitor load (a cross-site sign-out of the broker otherwise).
        const accountId = (ctx.oidc as { session?: { accountId?: string } }).session?.accountId;
        // "Stay signed in" posts the confirmation without `logout`: the user leaves this application
        // only (the library ends its grant) and the broker session stays.
        const everywhere = !!ctx.oidc.params?.logout;
        if (st && accountId && everywhere) st.endSession = true;
        if (accountId)
          p = d.record({
            type: 'oidc.logout',
            actor: `user-id:${accountId}`,
            outcome: 'success',
            ...base,
            details: { clientId: clientId ?? null, userId: accountId, endedBrokerSession: everywhere },
          });
        else
          d.noise.count({
            type: 'oidc.logout',
            reason: 'no_session',
            clientAddress: st?.rc.clientAddress ?? 'unknown',
            target: 'oidc',
          });
      } else if (name === 'server_error') {
        if (st && isDependencyFailure(err)) st.dependencyFailure = err;
        d.log.error('oidc.server_error', { error: err, correlationId: st?.rc.correlationId });
      }
      if (p && st) st.pending.push(p);
    },
  };
}
