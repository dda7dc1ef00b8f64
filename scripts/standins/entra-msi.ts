/**
 * The managed identity endpoint App Service and Functions expose to an app (`IDENTITY_ENDPOINT`,
 * guarded by the `X-IDENTITY-HEADER` value from `IDENTITY_HEADER`), API version 2019-08-01:
 *   GET {IDENTITY_ENDPOINT}?resource=api://AzureADTokenExchange&api-version=2019-08-01&client_id=…
 * (`object_id` or `mi_res_id` select a user-assigned identity too; none selects the system-assigned
 * one). The token is signed by the identity's tenant: issuer = that tenant's v2.0 issuer, subject and
 * `oid` = the identity's object id, audience = the resource. A federated identity credential trusting
 * that issuer and subject lets the identity act as an app registration's credential.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

export const MSI_PATH = '/msi/token';
export const MSI_API_VERSION = '2019-08-01';
/** Entra's managed identity tokens live about a day. */
const MSI_TOKEN_SECONDS = 24 * 3600;

export interface ManagedIdentitySpec {
  /** Client id (the identity's application id). */
  clientId: string;
  /** Object (principal) id: the `sub` of its tokens. */
  objectId: string;
  /** ARM resource id of a user-assigned identity; absent for the system-assigned one. */
  resourceId?: string;
  /** The app's system-assigned identity (chosen when the request names none). */
  systemAssigned?: boolean;
}

export interface MsiOptions {
  identityHeader: string;
  /** Identities with the tenant that holds them. */
  identities: { tenantId: string; identity: ManagedIdentitySpec }[];
  now: () => number;
  /** Signs a token for `tenantId`; resolves to the compact JWT. */
  sign: (
    tenantId: string,
    claims: Record<string, unknown>,
    opts: { audience: string; subject: string; iat: number; exp: number },
  ) => Promise<string>;
}

function sendJson(res: ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

export function createMsiEndpoint(opts: MsiOptions) {
  const failure = (res: ServerResponse, status: number, message: string) =>
    sendJson(res, status, { statusCode: status, message, correlationId: randomUUID() });

  async function handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    if (req.method !== 'GET')
      return failure(res, 405, 'The requested resource does not support this method.');
    if (req.headers['x-identity-header'] !== opts.identityHeader) {
      return failure(res, 401, 'Unauthorized: the X-IDENTITY-HEADER header is missing or wrong.');
    }
    const q = url.searchParams;
    if (q.get('api-version') !== MSI_API_VERSION) {
      return failure(
        res,
        400,
        `The api-version '${q.get('api-version') ?? ''}' is not supported; use ${MSI_API_VERSION}.`,
      );
    }
    const resource = q.get('resource') ?? '';
    if (!resource) return failure(res, 400, "The 'resource' query parameter is required.");
    const clientId = q.get('client_id');
    const objectId = q.get('object_id') ?? q.get('principal_id');
    const resourceId = q.get('mi_res_id');
    const match = opts.identities.find(({ identity: i }) =>
      clientId
        ? i.clientId.toLowerCase() === clientId.toLowerCase()
        : objectId
          ? i.objectId.toLowerCase() === objectId.toLowerCase()
          : resourceId
            ? i.resourceId?.toLowerCase() === resourceId.toLowerCase()
            : i.systemAssigned === true,
    );
    if (!match) return failure(res, 400, 'Unable to load the proper Managed Identity.');
    const { tenantId, identity } = match;
    const iat = Math.floor(opts.now() / 1000);
    const exp = iat + MSI_TOKEN_SECONDS;
    // A bare resource is an Entra resource id; tokens carry it as the audience as it was asked.
    const audience = resource.replace(/\/\.default$/, '');
    const accessToken = await opts.sign(
      tenantId,
      {
        tid: tenantId,
        oid: identity.objectId,
        azp: identity.clientId,
        appid: identity.clientId,
        idtyp: 'app',
        ver: '2.0',
        ...(identity.resourceId ? { xms_mirid: identity.resourceId } : {}),
      },
      { audience, subject: identity.objectId, iat, exp },
    );
    sendJson(res, 200, {
      access_token: accessToken,
      expires_on: String(exp),
      resource,
      token_type: 'Bearer',
      client_id: identity.clientId,
    });
  }

  return { handle };
}
