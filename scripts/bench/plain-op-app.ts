/**
 * The library's own floor for `npm run bench`: a plain `oidc-provider` (the version the broker uses)
 * with its default in-memory adapter and the broker's client-facing configuration (code flow, PKCE
 * required, the same scopes and claims, RS256 ID tokens with `auth_time`, a confidential client with
 * `client_secret_basic`), mounted at the broker's path (/api/oidc) so the bench's `appSignIn` drives
 * both the same way. The account is always signed in: its interaction route finishes at once with a
 * login and a grant for the requested scopes; the bench goes through it once (warm-up), after which
 * the OP session and the library's default `loadExistingGrant` answer every authorization inside
 * `/auth` (authorize → code → token, no interaction), as a broker session does at the broker.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
import type { Configuration } from 'oidc-provider';

export interface PlainOpOptions {
  clientId: string;
  clientSecret: string;
  redirectUri: string;
}

const MOUNT = '/api/oidc';
const ACCOUNT = 'bench-user';

export async function startPlainOpApp(o: PlainOpOptions): Promise<{ url: string; close(): Promise<void> }> {
  const { Provider } = await import('oidc-provider');
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), alg: 'RS256', use: 'sig', kid: 'bench' };
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const configuration: Configuration = {
    clients: [
      {
        client_id: o.clientId,
        client_secret: o.clientSecret,
        redirect_uris: [o.redirectUri],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
        id_token_signed_response_alg: 'RS256',
        require_auth_time: true,
      },
    ],
    jwks: { keys: [jwk as never] },
    cookies: {
      keys: [randomBytes(32).toString('base64url')],
      long: { httpOnly: true, sameSite: 'lax', signed: true },
      short: { httpOnly: true, sameSite: 'lax', signed: true },
    },
    findAccount: async (_ctx, sub) => ({
      accountId: sub,
      claims: async () => ({
        sub,
        preferred_username: sub,
        name: 'Bench User',
        email: `${sub}@example.test`,
        roles: [],
        idp: 'local',
      }),
    }),
    responseTypes: ['code'],
    scopes: ['openid', 'profile', 'email', 'offline_access'],
    claims: {
      acr: null,
      sid: null,
      auth_time: null,
      iss: null,
      openid: ['sub', 'idp', 'roles', 'amr'],
      profile: ['preferred_username', 'name'],
      email: ['email'],
    },
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: false },
      userinfo: { enabled: true },
      revocation: { enabled: true },
    },
    interactions: { url: (_ctx, interaction) => `${MOUNT}/interaction/${interaction.uid}` },
    ttl: {
      AuthorizationCode: 60,
      AccessToken: 600,
      IdToken: 600,
      RefreshToken: 14 * 86_400,
      Grant: 14 * 86_400,
      Interaction: 600,
      Session: 8 * 3600,
    },
  };
  const provider = new Provider(`${origin}${MOUNT}`, configuration);
  const callback = provider.callback();

  server.on('request', (req, res) => {
    void (async () => {
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      if (path.startsWith(`${MOUNT}/interaction/`)) {
        // The always-signed-in account: log in and grant what was asked, at once.
        const details = await provider.interactionDetails(req, res);
        const grant = new provider.Grant({ accountId: ACCOUNT, clientId: o.clientId });
        grant.addOIDCScope(String(details.params.scope ?? 'openid'));
        const grantId = await grant.save();
        await provider.interactionFinished(
          req,
          res,
          { login: { accountId: ACCOUNT }, consent: { grantId } },
          { mergeWithLastSubmission: false },
        );
        return;
      }
      if (!path.startsWith(MOUNT)) {
        res.writeHead(404).end();
        return;
      }
      // Mounted as a framework would: the provider sees the path below its mount.
      (req as { originalUrl?: string }).originalUrl = req.url;
      req.url = (req.url ?? '').slice(MOUNT.length) || '/';
      callback(req, res);
    })().catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(err instanceof Error ? err.message : 'error');
    });
  });
  return {
    url: origin,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
