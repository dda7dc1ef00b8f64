/** The authorization request a sign-in sends the browser to Entra with (authorization code + PKCE). */
import type { Config } from '../core/config.ts';
import { authorizeEndpoint } from '../entra/authority.ts';
import type { SignInIntegration } from './ports.ts';

export const SIGN_IN_SCOPES = ['openid', 'profile', 'email'];

/** Where Entra sends the browser back with the code. */
export function callbackUri(config: Pick<Config, 'BROKER_PUBLIC_BASE_URL'>): string {
  return `${config.BROKER_PUBLIC_BASE_URL}/api/auth/callback`;
}

export function authorizeUrl(
  integration: SignInIntegration,
  tx: { state: string; nonce: string; challenge: string },
  opts: {
    config: Pick<Config, 'BROKER_PUBLIC_BASE_URL' | 'BROKER_ENTRA_PUBLIC_AUTHORITY_HOST'>;
    expectedUsername: string | null;
    reauthenticate: boolean;
  },
): string {
  const url = new URL(authorizeEndpoint(integration.cloud, integration.tenant, opts.config));
  const q = url.searchParams;
  q.set('client_id', integration.applicationId);
  q.set('response_type', 'code');
  q.set('redirect_uri', callbackUri(opts.config));
  q.set('response_mode', 'query');
  q.set('scope', SIGN_IN_SCOPES.join(' '));
  q.set('state', tx.state);
  q.set('nonce', tx.nonce);
  q.set('code_challenge', tx.challenge);
  q.set('code_challenge_method', 'S256');
  if (opts.expectedUsername) q.set('login_hint', opts.expectedUsername);
  // An application's prompt=login / max_age: Entra must ask for credentials, not answer from its SSO.
  if (opts.reauthenticate) q.set('prompt', 'login');
  else if (!opts.expectedUsername) q.set('prompt', 'select_account');
  return url.toString();
}
