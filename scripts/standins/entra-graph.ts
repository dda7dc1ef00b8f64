/**
 * The slice of Microsoft Graph v1.0 an admin's tooling uses to give an app registration credentials
 * without a secret, served on the Entra stand-in's own host:
 *   GET    /v1.0/applications(appId='{appId}')               (also /v1.0/applications/{id})
 *   PATCH  /v1.0/applications(appId='{appId}')               keyCredentials (replaces the list)
 *   GET    /v1.0/applications(appId='{appId}')/federatedIdentityCredentials
 *   POST   /v1.0/applications(appId='{appId}')/federatedIdentityCredentials
 *   GET    /v1.0/applications(appId='{appId}')/federatedIdentityCredentials/{id or name}
 *   DELETE /v1.0/applications(appId='{appId}')/federatedIdentityCredentials/{id or name}
 * Callers need a Graph access token the stand-in issued (client credentials, scope
 * `https://graph.microsoft.com/.default`) carrying the `Application.ReadWrite.All` role. Errors come in
 * Graph's shape: `{ error: { code, message, innerError: { date, request-id, client-request-id } } }`.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createLocalJWKSet, type JSONWebKeySet, jwtVerify } from 'jose';
import {
  type AppRegistration,
  type AppRegistry,
  type CertificateCredential,
  type FederatedCredential,
  GraphRequestError,
} from './entra-apps.ts';

export const GRAPH_RESOURCE = 'https://graph.microsoft.com';
/** The application permission the stand-in's Graph asks for on every route. */
export const GRAPH_APPLICATION_ROLE = 'Application.ReadWrite.All';
const GRAPH_BASE = `${GRAPH_RESOURCE}/v1.0`;

export interface GraphOptions {
  registry: AppRegistry;
  /** Issuer → its JWKS, for the tenants the stand-in serves. */
  tenantKeys: (issuer: string) => JSONWebKeySet | undefined;
  /** The tenant a token's `tid` names, with its issuer; undefined when unknown. */
  tenantIssuer: (tenantId: string) => string | undefined;
  now: () => number;
  readBody: (req: IncomingMessage) => Promise<string>;
}

function send(res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}) {
  const common = { 'cache-control': 'no-cache', 'request-id': randomUUID(), ...headers };
  if (body === undefined) {
    res.writeHead(status, common);
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...common,
    'content-type':
      'application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8',
    'content-length': String(Buffer.byteLength(text)),
  });
  res.end(text);
}

function graphError(
  req: IncomingMessage,
  res: ServerResponse,
  now: number,
  status: number,
  code: string,
  message: string,
) {
  const requestId = randomUUID();
  const clientRequestId = String(req.headers['client-request-id'] ?? requestId);
  send(res, status, {
    error: {
      code,
      message,
      innerError: {
        date: new Date(now).toISOString().replace(/\.\d+Z$/, ''),
        'request-id': requestId,
        'client-request-id': clientRequestId,
      },
    },
  });
}

function federatedOut(f: FederatedCredential) {
  return {
    id: f.id,
    name: f.name,
    issuer: f.issuer,
    subject: f.subject,
    description: f.description ?? null,
    audiences: f.audiences,
  };
}

/** Graph returns `key` only when keyCredentials is explicitly `$select`ed on a single object. */
function keyCredentialOut(c: CertificateCredential, withKey: boolean) {
  return {
    customKeyIdentifier: c.customKeyIdentifier,
    displayName: c.displayName,
    endDateTime: c.endDateTime,
    key: withKey ? c.key : null,
    keyId: c.keyId,
    startDateTime: c.startDateTime,
    type: c.type,
    usage: c.usage,
  };
}

function applicationOut(app: AppRegistration, select: string[] | undefined) {
  const full = {
    id: app.id,
    appId: app.appId,
    displayName: app.displayName,
    signInAudience: 'AzureADMyOrg',
    keyCredentials: app.certificates.map((c) =>
      keyCredentialOut(c, select?.includes('keyCredentials') ?? false),
    ),
    passwordCredentials: [],
  };
  if (!select) return { '@odata.context': `${GRAPH_BASE}/$metadata#applications/$entity`, ...full };
  const picked: Record<string, unknown> = {
    '@odata.context': `${GRAPH_BASE}/$metadata#applications(${select.join(',')})/$entity`,
  };
  for (const key of select) if (key in full) picked[key] = full[key as keyof typeof full];
  return picked;
}

const APP_PATH =
  /^\/v1\.0\/applications(?:\(appId='([0-9a-fA-F-]{36})'\)|\/([0-9a-fA-F-]{36}))(\/federatedIdentityCredentials(?:\/([^/]+))?)?\/?$/;

export function createGraph(opts: GraphOptions) {
  /** The caller's tenant, or undefined after answering 401/403. */
  async function authorize(req: IncomingMessage, res: ServerResponse): Promise<string | undefined> {
    const now = opts.now();
    const auth = /^Bearer\s+(\S+)$/i.exec(String(req.headers.authorization ?? ''))?.[1];
    if (!auth) {
      graphError(req, res, now, 401, 'InvalidAuthenticationToken', 'Access token is empty.');
      return undefined;
    }
    let claims: Record<string, unknown>;
    try {
      const unverified = JSON.parse(Buffer.from(auth.split('.')[1] ?? '', 'base64url').toString('utf8'));
      const issuer = opts.tenantIssuer(String(unverified.tid ?? ''));
      const keys = issuer ? opts.tenantKeys(issuer) : undefined;
      if (!issuer || !keys) throw new Error('unknown tenant');
      ({ payload: claims } = await jwtVerify(auth, createLocalJWKSet(keys), {
        issuer,
        audience: [GRAPH_RESOURCE, `${GRAPH_RESOURCE}/`, '00000003-0000-0000-c000-000000000000'],
        algorithms: ['RS256'],
        currentDate: new Date(now),
      }));
    } catch {
      graphError(
        req,
        res,
        now,
        401,
        'InvalidAuthenticationToken',
        'Access token validation failure. Invalid audience.',
      );
      return undefined;
    }
    const roles = Array.isArray(claims.roles) ? claims.roles : [];
    if (!roles.includes(GRAPH_APPLICATION_ROLE)) {
      graphError(
        req,
        res,
        now,
        403,
        'Authorization_RequestDenied',
        'Insufficient privileges to complete the operation.',
      );
      return undefined;
    }
    return String(claims.tid);
  }

  async function handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const now = opts.now();
    const tenantId = await authorize(req, res);
    if (!tenantId) return;
    const m = APP_PATH.exec(url.pathname);
    if (!m) {
      graphError(
        req,
        res,
        now,
        400,
        'BadRequest',
        `Resource not found for the segment '${url.pathname.split('/')[2] ?? ''}'.`,
      );
      return;
    }
    const [, appId, objectId, ficSegment, ficId] = m;
    const found = appId ? opts.registry.find(appId) : opts.registry.findByObjectId(objectId ?? '');
    const app = found && found.tenantId.toLowerCase() === tenantId.toLowerCase() ? found : undefined;
    if (!app) {
      const key = appId ? `appId='${appId}'` : objectId;
      graphError(
        req,
        res,
        now,
        404,
        'Request_ResourceNotFound',
        `Resource '${key}' does not exist or one of its queried reference-property objects are not present.`,
      );
      return;
    }
    const method = (req.method ?? 'GET').toUpperCase();
    const json = async (): Promise<unknown> => {
      const raw = await opts.readBody(req);
      try {
        return JSON.parse(raw);
      } catch {
        throw new GraphRequestError(400, 'BadRequest', 'Unable to read JSON request payload.');
      }
    };
    const ficBase = `${GRAPH_BASE}/$metadata#applications('${app.id}')/federatedIdentityCredentials`;
    try {
      if (!ficSegment) {
        if (method === 'GET') {
          const select = url.searchParams
            .get('$select')
            ?.split(',')
            .map((s) => s.trim())
            .filter(Boolean);
          send(res, 200, applicationOut(app, select));
          return;
        }
        if (method === 'PATCH') {
          const body = (await json()) as Record<string, unknown>;
          if (typeof body !== 'object' || body === null)
            throw new GraphRequestError(400, 'BadRequest', 'Unable to read JSON request payload.');
          if ('keyCredentials' in body) opts.registry.setKeyCredentials(app, body.keyCredentials);
          if (typeof body.displayName === 'string') app.displayName = body.displayName;
          send(res, 204);
          return;
        }
      } else if (ficId === undefined) {
        if (method === 'GET') {
          send(res, 200, { '@odata.context': ficBase, value: app.federated.map(federatedOut) });
          return;
        }
        if (method === 'POST') {
          const created = opts.registry.addFederated(app, await json());
          send(
            res,
            201,
            { '@odata.context': `${ficBase}/$entity`, ...federatedOut(created) },
            {
              location: `${GRAPH_BASE}/applications/${app.id}/federatedIdentityCredentials/${created.id}`,
            },
          );
          return;
        }
      } else {
        const key = decodeURIComponent(ficId);
        const fic = app.federated.find((f) => f.id === key || f.name === key);
        if (!fic) {
          graphError(
            req,
            res,
            now,
            404,
            'Request_ResourceNotFound',
            `Resource '${key}' does not exist or one of its queried reference-property objects are not present.`,
          );
          return;
        }
        if (method === 'GET') {
          send(res, 200, { '@odata.context': `${ficBase}/$entity`, ...federatedOut(fic) });
          return;
        }
        if (method === 'DELETE') {
          opts.registry.removeFederated(app, fic.id);
          send(res, 204);
          return;
        }
      }
      graphError(
        req,
        res,
        now,
        405,
        'Request_BadRequest',
        `Specified HTTP method is not allowed for the request uri.`,
      );
    } catch (err) {
      if (err instanceof GraphRequestError) {
        graphError(req, res, now, err.status, err.code, err.message);
        return;
      }
      throw err;
    }
  }

  return { handle };
}
