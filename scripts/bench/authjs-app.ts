/**
 * The comparison app for `npm run bench`: Auth.js (`@auth/core`) with its Microsoft Entra ID provider,
 * PKCE + state + nonce checks and JWT sessions, served by a tiny node:http server on 127.0.0.1 that
 * passes every request to `Auth(request, config)`. Routes under /auth (Auth.js defaults):
 * GET /auth/signin (page with the CSRF token), POST /auth/signin/microsoft-entra-id (start),
 * GET /auth/callback/microsoft-entra-id (callback), GET /auth/session.
 *
 * The Entra stand-in's TLS is trusted through NODE_EXTRA_CA_CERTS (the bench sets it). The provider's
 * profile callback is replaced: the stock one fetches a photo from graph.microsoft.com (no internet
 * here); the rest of the provider (discovery, checks, token exchange, ID token validation) is stock.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Auth, type AuthConfig } from '@auth/core';
import MicrosoftEntraID from '@auth/core/providers/microsoft-entra-id';

export interface AuthJsOptions {
  /** e.g. https://localhost:PORT (the Entra stand-in) */
  entraHost: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
  port?: number;
}

export function authJsConfig(o: AuthJsOptions): AuthConfig {
  return {
    secret: randomBytes(32).toString('base64url'),
    trustHost: true,
    basePath: '/auth',
    session: { strategy: 'jwt' },
    logger: { error: () => {}, warn: () => {}, debug: () => {} },
    providers: [
      MicrosoftEntraID({
        clientId: o.clientId,
        clientSecret: o.clientSecret,
        issuer: `${o.entraHost}/${o.tenantId}/v2.0`,
        checks: ['pkce', 'state', 'nonce'],
        // The stand-in (like an app registration with a secret) takes the secret in the body.
        client: { token_endpoint_auth_method: 'client_secret_post' },
        authorization: { params: { scope: 'openid profile email' } },
        profile: (p) => ({ id: p.sub, name: p.name, email: p.email ?? p.preferred_username }),
      }),
    ],
  };
}

async function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export async function startAuthJsApp(o: AuthJsOptions): Promise<{ url: string; close(): Promise<void> }> {
  const config = authJsConfig(o);
  let origin = '';
  const server = http.createServer((req, res) => {
    void (async () => {
      const headers = new Headers();
      for (const [k, v] of Object.entries(req.headers)) {
        if (typeof v === 'string') headers.set(k, v);
        else if (Array.isArray(v)) for (const x of v) headers.append(k, x);
      }
      const method = req.method ?? 'GET';
      const body = method === 'GET' || method === 'HEAD' ? undefined : await readBody(req);
      const response = await Auth(
        new Request(`${origin}${req.url ?? '/'}`, {
          method,
          headers,
          ...(body ? { body: new Uint8Array(body) } : {}),
        }),
        config,
      );
      const out: Record<string, string | string[]> = {};
      response.headers.forEach((value, key) => {
        if (key !== 'set-cookie') out[key] = value;
      });
      const cookies = response.headers.getSetCookie();
      if (cookies.length) out['set-cookie'] = cookies;
      const payload = Buffer.from(await response.arrayBuffer());
      res.writeHead(response.status, out);
      res.end(payload);
    })().catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(err instanceof Error ? err.message : 'error');
    });
  });
  await new Promise<void>((resolve) => server.listen(o.port ?? 0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: origin,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
