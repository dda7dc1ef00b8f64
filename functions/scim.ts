import { app, type HttpResponseInit } from '@azure/functions';
import { PayloadTooLargeError, UnsupportedMediaTypeError } from '../shared/core/errors.ts';
import type { ScimCaller } from '../shared/provisioning/service.ts';
import {
  badRequest,
  MAX_SCIM_BODY_BYTES,
  notFound,
  parsePage,
  resourceTypes,
  resourceTypesList,
  ScimError,
  schemaById,
  schemasList,
  serviceProviderConfig,
  wellFormedBody,
} from '../shared/scim/index.ts';
import { changeContextOf, type RequestContext } from '../shared/web/endpoint.ts';
import { endpoint } from '../shared/web/runtime.ts';
import { outcomeOf, scimErrorOf } from '../shared/web/scim-errors.ts';

const SCIM_JSON = 'application/scim+json; charset=utf-8';

function scim(status: number, body?: unknown, headers: Record<string, string> = {}): HttpResponseInit {
  if (body === undefined) return { status, headers };
  return { status, jsonBody: body, headers: { 'Content-Type': SCIM_JSON, ...headers } };
}

/** The body of a SCIM write: `application/scim+json` (Entra) or `application/json`, at most 1 MiB. */
async function readScimJson(rc: RequestContext): Promise<unknown> {
  const type = (rc.request.headers.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/scim+json' && type !== 'application/json') {
    throw new UnsupportedMediaTypeError('application/scim+json');
  }
  const declared = Number(rc.request.headers.get('content-length') ?? '0');
  if (Number.isFinite(declared) && declared > MAX_SCIM_BODY_BYTES)
    throw new PayloadTooLargeError(MAX_SCIM_BODY_BYTES);
  const bytes = Buffer.from(await rc.request.arrayBuffer());
  if (bytes.length > MAX_SCIM_BODY_BYTES) throw new PayloadTooLargeError(MAX_SCIM_BODY_BYTES);
  let body: unknown;
  try {
    body = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw badRequest('invalidSyntax', 'the body is not valid JSON');
  }
  return wellFormedBody(body);
}

const query = (rc: RequestContext, name: string) => rc.request.query.get(name) ?? undefined;

/** One SCIM request of an authenticated integration, dispatched by path and method. */
async function dispatch(rc: RequestContext, caller: ScimCaller): Promise<HttpResponseInit> {
  const p = rc.services.provisioning;
  const base = p.baseUrl;
  const method = rc.request.method.toUpperCase();
  // The host has already percent-decoded the route value: a second decode would read `%25ZZ` as
  // `%ZZ` and throw. An id that is not one of ours is simply not found.
  const parts = (rc.request.params.path ?? '').split('/').filter(Boolean);
  const [resource = '', id, extra] = parts;
  if (extra !== undefined) throw notFound('User', '');
  const c = changeContextOf(rc);
  const page = () => parsePage({ startIndex: query(rc, 'startIndex'), count: query(rc, 'count') });
  const members = {
    attributes: query(rc, 'attributes'),
    excludedAttributes: query(rc, 'excludedAttributes'),
  };
  const only = (allowed: string[]) => {
    if (!allowed.includes(method)) throw new ScimError(405, undefined, `${method} is not allowed here`);
  };
  switch (resource.toLowerCase()) {
    case 'serviceproviderconfig':
    case 'serviceconfiguration':
      only(['GET']);
      return scim(200, serviceProviderConfig(base));
    case 'resourcetypes': {
      only(['GET']);
      if (!id) return scim(200, resourceTypesList(base));
      const found = resourceTypes(base).find((r) => r.id.toLowerCase() === id.toLowerCase());
      if (!found) throw new ScimError(404, undefined, 'ResourceType not found');
      return scim(200, found);
    }
    case 'schemas': {
      only(['GET']);
      if (!id) return scim(200, schemasList(base));
      const found = schemaById(id, base);
      if (!found) throw new ScimError(404, undefined, 'Schema not found');
      return scim(200, found);
    }
    case 'users': {
      if (!id) {
        only(['GET', 'POST']);
        if (method === 'GET') return scim(200, await p.users.list(caller, query(rc, 'filter'), page()));
        const created = await p.users.create(caller, await readScimJson(rc), c);
        return scim(201, created, { Location: created.meta.location, ETag: created.meta.version });
      }
      only(['GET', 'PUT', 'PATCH', 'DELETE']);
      if (method === 'GET') return scim(200, await p.users.get(caller, id));
      if (method === 'DELETE') {
        await p.users.delete(caller, id, c);
        return scim(204);
      }
      const body = await readScimJson(rc);
      const user =
        method === 'PUT'
          ? await p.users.replace(caller, id, body, c)
          : await p.users.patch(caller, id, body, c);
      return scim(200, user, { ETag: user.meta.version });
    }
    case 'groups': {
      if (!id) {
        only(['GET', 'POST']);
        if (method === 'GET')
          return scim(200, await p.groups.list(caller, query(rc, 'filter'), page(), members));
        const created = await p.groups.create(caller, await readScimJson(rc), c);
        return scim(201, created, { Location: created.meta.location });
      }
      only(['GET', 'PUT', 'PATCH', 'DELETE']);
      if (method === 'GET') return scim(200, await p.groups.get(caller, id, members));
      if (method === 'DELETE') {
        await p.groups.delete(caller, id, c);
        return scim(204);
      }
      const body = await readScimJson(rc);
      if (method === 'PUT') return scim(200, await p.groups.replace(caller, id, body, c));
      // Microsoft's tutorial: 204 without a body after a group PATCH.
      await p.groups.patch(caller, id, body, c);
      return scim(204);
    }
    default:
      throw new ScimError(404, undefined, 'Not found');
  }
}

/** Refusals of an authenticated integration's request are audited (never with the token or a body). */
async function handle(rc: RequestContext): Promise<HttpResponseInit> {
  const p = rc.services.provisioning;
  const caller = await p.auth.authenticate(rc.request.headers.get('authorization'), rc.clientAddress);
  let response: HttpResponseInit;
  try {
    response = await dispatch(rc, caller);
  } catch (err) {
    const { status, body } = scimErrorOf(err);
    if (status < 500) {
      await rc.services.audit.record({
        type: 'scim.request.refused',
        actor: caller.actor,
        target: `integration:${caller.integrationId}`,
        outcome: 'failure',
        reason: body.scimType ?? String(status),
        correlationId: rc.correlationId,
        clientAddress: rc.clientAddress,
        details: {
          method: rc.request.method,
          // By code points: a cut through a surrogate pair would leave a lone half in the row.
          resource: [...((rc.request.params.path ?? '').split('/')[0] ?? '')].slice(0, 40).join(''),
          status,
        },
      });
    }
    await p.auth.recordRequest(caller.integrationId, outcomeOf(status, body)).catch(() => {});
    throw err;
  }
  await p.auth.recordRequest(caller.integrationId, outcomeOf(response.status ?? 200)).catch(() => {});
  return response;
}

function renderError(status: number, _correlationId: string, err: unknown): HttpResponseInit {
  const mapped = scimErrorOf(err);
  const headers: Record<string, string> = { 'Content-Type': SCIM_JSON };
  if (mapped.status === 401) headers['WWW-Authenticate'] = 'Bearer realm="scim"';
  return { status: mapped.status || status, jsonBody: mapped.body, headers };
}

// /api/scim/v2/… — Entra's "Tenant URL"; the bearer token names the integration.
app.http(
  'scim',
  endpoint({
    route: 'scim/v2/{*path}',
    methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
    handler: handle,
    renderError,
  }),
);
