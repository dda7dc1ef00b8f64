/**
 * Test helpers for credentials without a secret: a tiny OpenID issuer (discovery + JWKS) that mints
 * client assertions, self-signed certificates, and Microsoft Graph calls against the Entra stand-in.
 */
import { createHash, generateKeyPairSync, randomUUID } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { exportJWK, type JWK, SignJWT } from 'jose';
import forge from 'node-forge';
import { serverCertificate } from '../../scripts/standins/ca.ts';
import { DEMO_ENTRA, DEMO_GRAPH_ADMIN, type EntraStandIn } from '../../scripts/standins/entra.ts';

export const EXCHANGE_AUDIENCE = 'api://AzureADTokenExchange';

export interface TestIssuer {
  /** The issuer URL exactly as its discovery document publishes it. */
  issuer: string;
  /** Discovery and JWKS requests served. */
  hits: string[];
  /** A client assertion signed by this issuer; claims override the defaults (exp 5 min, fresh jti). */
  mint(
    claims: Record<string, unknown>,
    opts?: { alg?: 'RS256' | 'PS256' | 'ES256'; kid?: string },
  ): Promise<string>;
  /** Key rollover: a new RSA key signs from now on; the JWKS publishes it next to the old one. */
  rotate(): Promise<string>;
  close(): Promise<void>;
}

/** An OpenID issuer under `/api/oidc` (as the broker publishes itself), over https or loopback http. */
export async function startIssuer(protocol: 'https' | 'http' = 'https'): Promise<TestIssuer> {
  let rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  let rsaKid = 'rsa-1';
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const rsaJwks: JWK[] = [{ ...(await exportJWK(rsa.publicKey)), kid: rsaKid, use: 'sig' }];
  const ecJwk: JWK = { ...(await exportJWK(ec.publicKey)), kid: 'ec-1', use: 'sig' };
  const hits: string[] = [];
  let issuer = '';
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    hits.push(path);
    const body =
      path === '/api/oidc/.well-known/openid-configuration'
        ? {
            issuer,
            jwks_uri: `${issuer}/jwks`,
            id_token_signing_alg_values_supported: ['RS256', 'PS256', 'ES256'],
          }
        : path === '/api/oidc/jwks'
          ? { keys: [...rsaJwks, ecJwk] }
          : undefined;
    res.writeHead(body ? 200 : 404, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body ?? { error: 'not_found' }));
  };
  const server =
    protocol === 'https' ? https.createServer(serverCertificate(), handler) : http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  issuer = `${protocol}://localhost:${port}/api/oidc`;
  return {
    issuer,
    hits,
    mint: async (claims, opts = {}) => {
      const alg = opts.alg ?? 'RS256';
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({
        iss: issuer,
        aud: EXCHANGE_AUDIENCE,
        iat: now,
        nbf: now,
        exp: now + 300,
        jti: randomUUID(),
        ...claims,
      })
        .setProtectedHeader({ alg, typ: 'JWT', kid: opts.kid ?? (alg === 'ES256' ? 'ec-1' : rsaKid) })
        .sign(alg === 'ES256' ? ec.privateKey : rsa.privateKey);
    },
    rotate: async () => {
      rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
      rsaKid = `rsa-${rsaJwks.length + 1}`;
      rsaJwks.push({ ...(await exportJWK(rsa.publicKey)), kid: rsaKid, use: 'sig' });
      return rsaKid;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export interface TestCertificate {
  /** Base64 DER, as Graph's keyCredentials take it. */
  der: string;
  privateKeyPem: string;
  sha1: string;
  sha256: string;
}

/** A self-signed RSA certificate, like the one the broker builds for a Key Vault key. */
export function selfSignedCertificate(cn = 'broker-integration'): TestCertificate {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  cert.serialNumber = '01';
  cert.validity.notBefore = new Date(Date.now() - 3600_000);
  cert.validity.notAfter = new Date(Date.now() + 365 * 24 * 3600_000);
  cert.setSubject([{ name: 'commonName', value: cn }]);
  cert.setIssuer([{ name: 'commonName', value: cn }]);
  cert.sign(forge.pki.privateKeyFromPem(privateKeyPem), forge.md.sha256.create());
  const raw = Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(cert)).getBytes(), 'binary');
  return {
    der: raw.toString('base64'),
    privateKeyPem,
    sha1: createHash('sha1').update(raw).digest('hex').toUpperCase(),
    sha256: createHash('sha256').update(raw).digest('hex').toUpperCase(),
  };
}

/** A client-credentials token from the stand-in; `https://graph.microsoft.com/.default` by default. */
export async function clientCredentialsToken(
  standIn: EntraStandIn,
  client: { clientId: string; clientSecret: string },
  scope = 'https://graph.microsoft.com/.default',
): Promise<string> {
  const res = await fetch(standIn.tokenEndpoint(DEMO_ENTRA.tenantId), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      scope,
      ...{ client_id: client.clientId, client_secret: client.clientSecret },
    }),
  });
  const body = (await res.json()) as { access_token?: string };
  if (!body.access_token) throw new Error(`no token: ${JSON.stringify(body)}`);
  return body.access_token;
}

export interface GraphReply {
  status: number;
  body: Record<string, unknown> | undefined;
}

/** One Microsoft Graph call to the stand-in (token of the demo Graph admin unless given). */
export async function graph(
  standIn: EntraStandIn,
  method: string,
  path: string,
  body?: unknown,
  token?: string | null,
): Promise<GraphReply> {
  const bearer = token === undefined ? await clientCredentialsToken(standIn, DEMO_GRAPH_ADMIN) : token;
  const res = await fetch(`${standIn.graphBaseUrl}${path}`, {
    method,
    headers: {
      ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
}

/** Raw client-credentials request with a client assertion; the parsed Entra answer. */
export async function tokenWithAssertion(
  standIn: EntraStandIn,
  clientId: string,
  assertion: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(standIn.tokenEndpoint(DEMO_ENTRA.tenantId), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: clientId,
      scope: 'https://graph.microsoft.com/.default',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion,
    }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Signs `login` in at the stand-in's authorize endpoint (PKCE S256) and returns the code. */
export async function authorizationCode(
  standIn: EntraStandIn,
  clientId: string,
  login: string,
): Promise<{ code: string; verifier: string; redirectUri: string }> {
  const verifier = randomUUID() + randomUUID();
  const redirectUri = 'http://localhost:7071/api/auth/callback';
  const authorize = new URL(`${standIn.authority(DEMO_ENTRA.tenantId)}/oauth2/v2.0/authorize`);
  authorize.search = new URLSearchParams({
    client_id: clientId,
    response_type: 'code',
    scope: 'openid profile',
    redirect_uri: redirectUri,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    state: 's',
    nonce: 'n',
  }).toString();
  const cookies = new Map<string, string>();
  const jar = (res: Response) => {
    for (const line of res.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const i = pair.indexOf('=');
      cookies.set(pair.slice(0, i).trim(), pair.slice(i + 1).trim());
    }
  };
  const cookie = () => [...cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  let url = authorize.href;
  for (let hop = 0; hop < 10; hop++) {
    const res = await fetch(url, { redirect: 'manual', headers: { cookie: cookie() } });
    jar(res);
    if (res.status === 200) {
      const action = /<form method="post" action="([^"]+)"/.exec(await res.text())?.[1] ?? '';
      const post = await fetch(new URL(action.replace(/&amp;/g, '&'), url), {
        method: 'POST',
        redirect: 'manual',
        headers: { cookie: cookie(), 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ login, password: 'any password' }),
      });
      jar(post);
      url = new URL(post.headers.get('location') ?? '', url).href;
      continue;
    }
    const location = new URL(res.headers.get('location') ?? '', url).href;
    if (location.startsWith(redirectUri)) {
      return { code: new URL(location).searchParams.get('code') ?? '', verifier, redirectUri };
    }
    url = location;
  }
  throw new Error('too many redirects');
}
