import { OpenAPIRegistry, OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { createTokenSchema } from '../admin/tokens.ts';
import { apiListSchema, apiSchema, createApiSchema, patchApiSchema } from '../apis/schemas.ts';
import {
  applicationListSchema,
  applicationSchema,
  applicationWithSecretSchema,
  createApplicationSchema,
  createdApplicationSchema,
  patchApplicationSchema,
} from '../applications/schemas.ts';
import { auditPageSchema, auditQuerySchema } from '../audit/query.ts';
import {
  addCredentialSchema,
  createIntegrationSchema,
  patchIntegrationSchema,
  rotateSecretSchema,
} from '../integrations/schemas.ts';
import { enableProvisioningSchema, patchProvisioningSchema } from '../provisioning/schemas.ts';
import { settingsPatchSchema, settingsSchema } from '../settings/service.ts';
import {
  createUserSchema,
  listUsersQuerySchema,
  patchUserSchema,
  setPasswordSchema,
  userListSchema,
  userSchema,
} from '../users/schemas.ts';

/**
 * The management API's OpenAPI 3.1 document, generated from the same zod schemas the handlers
 * validate with (request bodies and queries), plus response shapes. Built once per instance.
 */

const problemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    code: z.string(),
    instance: z.string(),
    correlationId: z.string(),
    errors: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
  })
  .meta({ id: 'Problem' });

const provisioningStateSchema = z
  .object({
    enabled: z.boolean(),
    tenantUrl: z
      .string()
      .meta({ description: 'Paste into Entra → Provisioning → Admin credentials → Tenant URL' }),
    tenantId: z.string().nullable().meta({ description: 'The Entra tenant provisioned users are bound in' }),
    lastRequestAt: z.string().nullable(),
    lastOutcome: z
      .string()
      .nullable()
      .meta({ description: '`200`, `201`, `204`, or a status and SCIM error type (`409 uniqueness`)' }),
  })
  .meta({ id: 'ProvisioningState' });

/** What every Integration shows of provisioning from Entra (SCIM). */
const provisioningViewShape = {
  provisioning: provisioningStateSchema.nullable(),
  groupRoles: z.record(z.string(), z.string()).meta({
    description: 'Entra group (object id or displayName) → broker role given to its provisioned members',
  }),
  jitProvisioning: z.boolean(),
};

const provisioningSecretSchema = z
  .object({
    tenantUrl: z.string(),
    secretToken: z
      .string()
      .meta({ description: 'Shown only in this answer; paste into Entra → Secret Token' }),
    ...provisioningViewShape,
  })
  .meta({ id: 'ProvisioningSecret' });
const clientSecretInfoSchema = z.object({
  set: z.literal(true),
  version: z.string(),
  expiresOn: z.string().nullable(),
  updatedOn: z.string(),
});

/** The three values Entra's federated credential form asks for. */
const federatedValuesSchema = z.object({
  issuer: z.string().describe('Issuer, exactly as the discovery document publishes it'),
  subject: z.string().describe('Subject identifier'),
  audience: z.literal('api://AzureADTokenExchange'),
  issuerWarning: z
    .string()
    .optional()
    .describe('Present when Entra cannot reach the issuer (a local or private BROKER_PUBLIC_BASE_URL)'),
});

const credentialViewSchema = z
  .object({
    kind: z.enum(['clientSecret', 'federated', 'managedIdentity', 'certificate']),
    federated: federatedValuesSchema.optional(),
    managedIdentity: federatedValuesSchema.optional(),
    certificate: z
      .object({
        thumbprint: z.string().describe('SHA-1, upper-case hex, as Entra shows it'),
        thumbprintSha256: z.string(),
        notBefore: z.string(),
        expiresOn: z.string(),
        pem: z.string().describe('The public certificate to upload in Entra (PEM)'),
      })
      .optional(),
    clientSecret: clientSecretInfoSchema.optional(),
  })
  .meta({ id: 'Credential' });

const integrationSchema = z
  .object({
    id: z.string(),
    kind: z.literal('azure-ad'),
    title: z.string(),
    applicationId: z.string(),
    tenant: z.string(),
    allowedTenants: z.array(z.string()),
    cloud: z.enum(['public', 'usgov', 'china']),
    matchClaim: z.enum(['preferred_username', 'email', 'upn']),
    status: z.enum(['inactive', 'active']),
    redirectUri: z.string(),
    clientSecret: clientSecretInfoSchema
      .optional()
      .describe('Only when the current credential is a client secret'),
    secretExpiresInDays: z.number().int().nullable(),
    credential: credentialViewSchema,
    pendingCredential: credentialViewSchema.nullable(),
    lastTest: z.object({ at: z.string(), ok: z.boolean(), reason: z.string().nullable() }).nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
    etag: z.string(),
    ...provisioningViewShape,
  })
  .meta({ id: 'Integration' });

const tokenInfoSchema = z.object({
  id: z.string(),
  name: z.string(),
  createdAt: z.string(),
  expiresAt: z.string(),
  lastUsedAt: z.string().nullable(),
  createdBy: z.string(),
});

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

interface Op {
  method: Method;
  path: string;
  summary: string;
  tag: string;
  params?: string[];
  query?: z.ZodObject;
  body?: z.ZodType;
  ok: { status: number; schema?: z.ZodType; description: string };
  ifMatch?: boolean;
}

const ops: Op[] = [
  // Integrations
  {
    method: 'get',
    path: '/integrations',
    tag: 'integrations',
    summary: 'List integrations',
    ok: {
      status: 200,
      schema: z.object({ items: z.array(integrationSchema) }),
      description: 'The integrations',
    },
  },
  {
    method: 'post',
    path: '/integrations',
    tag: 'integrations',
    summary: 'Create an integration (inactive)',
    body: createIntegrationSchema,
    ok: { status: 201, schema: integrationSchema, description: 'Created' },
  },
  {
    method: 'get',
    path: '/integrations/{id}',
    tag: 'integrations',
    summary: 'Read an integration',
    params: ['id'],
    ok: { status: 200, schema: integrationSchema, description: 'The integration' },
  },
  {
    method: 'patch',
    path: '/integrations/{id}',
    tag: 'integrations',
    summary: 'Change an integration',
    params: ['id'],
    body: patchIntegrationSchema,
    ifMatch: true,
    ok: { status: 200, schema: integrationSchema, description: 'Changed' },
  },
  {
    method: 'delete',
    path: '/integrations/{id}',
    tag: 'integrations',
    summary: 'Delete an integration (409 while users are assigned)',
    params: ['id'],
    ifMatch: true,
    ok: { status: 204, description: 'Deleted' },
  },
  {
    method: 'put',
    path: '/integrations/{id}/client-secret',
    tag: 'integrations',
    summary: 'Rotate the client secret',
    params: ['id'],
    body: rotateSecretSchema,
    ifMatch: true,
    ok: { status: 200, schema: integrationSchema, description: 'Rotated' },
  },
  {
    method: 'post',
    path: '/integrations/{id}/activate',
    tag: 'integrations',
    summary: 'Test the credentials and activate',
    params: ['id'],
    ifMatch: true,
    ok: { status: 200, schema: integrationSchema, description: 'Activated' },
  },
  {
    method: 'post',
    path: '/integrations/{id}/credentials',
    tag: 'integrations',
    summary: 'Add a second credential (pending until a passing test makes it current)',
    params: ['id'],
    body: addCredentialSchema,
    ifMatch: true,
    ok: { status: 200, schema: integrationSchema, description: 'Added as pendingCredential' },
  },
  {
    method: 'post',
    path: '/integrations/{id}/credentials/promote',
    tag: 'integrations',
    summary: 'Test the pending credential against Entra and, when it passes, make it current',
    params: ['id'],
    ifMatch: true,
    ok: { status: 200, schema: integrationSchema, description: 'The pending credential is current' },
  },
  {
    method: 'delete',
    path: '/integrations/{id}/credentials/pending',
    tag: 'integrations',
    summary: 'Remove the pending credential',
    params: ['id'],
    ifMatch: true,
    ok: { status: 200, schema: integrationSchema, description: 'Removed' },
  },
  {
    method: 'post',
    path: '/integrations/{id}/deactivate',
    tag: 'integrations',
    summary: 'Deactivate',
    params: ['id'],
    ifMatch: true,
    ok: { status: 200, schema: integrationSchema, description: 'Deactivated' },
  },
  // Provisioning from Entra (SCIM 2.0) per integration
  {
    method: 'post',
    path: '/integrations/{id}/provisioning',
    tag: 'integrations',
    summary: 'Turn provisioning on: the Tenant URL and Secret Token to paste into Entra (token shown once)',
    params: ['id'],
    body: enableProvisioningSchema,
    ok: { status: 201, schema: provisioningSecretSchema, description: 'On; `secretToken` is shown only now' },
  },
  {
    method: 'patch',
    path: '/integrations/{id}/provisioning',
    tag: 'integrations',
    summary: 'Change the tenant, groupRoles or just-in-time creation',
    params: ['id'],
    body: patchProvisioningSchema,
    ok: { status: 200, schema: z.object(provisioningViewShape), description: 'Changed' },
  },
  {
    method: 'delete',
    path: '/integrations/{id}/provisioning',
    tag: 'integrations',
    summary: 'Turn provisioning off: the token stops working at once',
    params: ['id'],
    ok: { status: 204, description: 'Off' },
  },
  {
    method: 'post',
    path: '/integrations/{id}/provisioning/token',
    tag: 'integrations',
    summary: 'Rotate the provisioning token: the old one stops at once, the new one is shown once',
    params: ['id'],
    ok: { status: 200, schema: provisioningSecretSchema, description: 'Rotated' },
  },
  // APIs: resource servers applications get JWT access tokens for
  {
    method: 'get',
    path: '/apis',
    tag: 'apis',
    summary: 'List APIs',
    ok: { status: 200, schema: apiListSchema, description: 'The APIs' },
  },
  {
    method: 'post',
    path: '/apis',
    tag: 'apis',
    summary: 'Register an API (resource URI, scopes, the applications allowed to ask, token lifetime)',
    body: createApiSchema,
    ok: { status: 201, schema: apiSchema, description: 'Created' },
  },
  {
    method: 'get',
    path: '/apis/{id}',
    tag: 'apis',
    summary: 'Read an API',
    params: ['id'],
    ok: { status: 200, schema: apiSchema, description: 'The API' },
  },
  {
    method: 'patch',
    path: '/apis/{id}',
    tag: 'apis',
    summary:
      'Change an API: name, scopes, allowedApplications, accessTokenLifetimeSeconds (`resource` is its identity: another URI is a 400)',
    params: ['id'],
    body: patchApiSchema,
    ifMatch: true,
    ok: { status: 200, schema: apiSchema, description: 'Changed' },
  },
  {
    method: 'delete',
    path: '/apis/{id}',
    tag: 'apis',
    summary: 'Delete an API (tokens for it are no longer issued)',
    params: ['id'],
    ifMatch: true,
    ok: { status: 204, description: 'Deleted' },
  },
  // Applications: apps signing in through the broker as OpenID Provider
  {
    method: 'get',
    path: '/applications',
    tag: 'applications',
    summary: 'List applications',
    ok: { status: 200, schema: applicationListSchema, description: 'The applications' },
  },
  {
    method: 'post',
    path: '/applications',
    tag: 'applications',
    summary: 'Register an application (a confidential client gets its secret here, shown once)',
    body: createApplicationSchema,
    ok: {
      status: 201,
      schema: createdApplicationSchema,
      description: 'Created; `clientSecretValue` (shown only now) for a confidential client',
    },
  },
  {
    method: 'get',
    path: '/applications/{clientId}',
    tag: 'applications',
    summary: 'Read an application',
    params: ['clientId'],
    ok: { status: 200, schema: applicationSchema, description: 'The application' },
  },
  {
    method: 'patch',
    path: '/applications/{clientId}',
    tag: 'applications',
    summary: 'Change an application',
    params: ['clientId'],
    body: patchApplicationSchema,
    ifMatch: true,
    ok: { status: 200, schema: applicationSchema, description: 'Changed' },
  },
  {
    method: 'delete',
    path: '/applications/{clientId}',
    tag: 'applications',
    summary: 'Delete an application (its tokens stop working)',
    params: ['clientId'],
    ifMatch: true,
    ok: { status: 204, description: 'Deleted' },
  },
  {
    method: 'post',
    path: '/applications/{clientId}/client-secret',
    tag: 'applications',
    summary: 'Rotate the client secret (the new one is shown once; the old one stops working)',
    params: ['clientId'],
    ifMatch: true,
    ok: { status: 200, schema: applicationWithSecretSchema, description: 'Rotated' },
  },
  // Users
  {
    method: 'get',
    path: '/users',
    tag: 'users',
    summary: 'List users (cursor paging)',
    query: listUsersQuerySchema,
    ok: { status: 200, schema: userListSchema, description: 'A page of users' },
  },
  {
    method: 'post',
    path: '/users',
    tag: 'users',
    summary: 'Create a user',
    body: createUserSchema,
    ok: { status: 201, schema: userSchema, description: 'Created' },
  },
  {
    method: 'get',
    path: '/users/{username}',
    tag: 'users',
    summary: 'Read a user',
    params: ['username'],
    ok: { status: 200, schema: userSchema, description: 'The user' },
  },
  {
    method: 'patch',
    path: '/users/{username}',
    tag: 'users',
    summary: 'Change a user',
    params: ['username'],
    body: patchUserSchema,
    ifMatch: true,
    ok: { status: 200, schema: userSchema, description: 'Changed' },
  },
  {
    method: 'delete',
    path: '/users/{username}',
    tag: 'users',
    summary: 'Delete a user',
    params: ['username'],
    ifMatch: true,
    ok: { status: 204, description: 'Deleted' },
  },
  {
    method: 'put',
    path: '/users/{username}/password',
    tag: 'users',
    summary: 'Set the password',
    params: ['username'],
    body: setPasswordSchema,
    ifMatch: true,
    ok: { status: 204, description: 'Set' },
  },
  {
    method: 'delete',
    path: '/users/{username}/password',
    tag: 'users',
    summary: 'Remove the password',
    params: ['username'],
    ifMatch: true,
    ok: { status: 204, description: 'Removed' },
  },
  {
    method: 'delete',
    path: '/users/{username}/binding',
    tag: 'users',
    summary: 'Forget the bound Entra identity',
    params: ['username'],
    ifMatch: true,
    ok: { status: 204, description: 'Forgotten' },
  },
  {
    method: 'delete',
    path: '/users/{username}/sessions',
    tag: 'users',
    summary: 'Sign the user out everywhere (revoke all their sessions)',
    params: ['username'],
    ok: {
      status: 200,
      schema: z.object({ revoked: z.number().int() }),
      description: 'How many sessions ended',
    },
  },
  // Settings, audit, tokens, this document
  {
    method: 'get',
    path: '/settings',
    tag: 'settings',
    summary: 'Read the global settings',
    ok: { status: 200, schema: settingsSchema, description: 'The settings' },
  },
  {
    method: 'patch',
    path: '/settings',
    tag: 'settings',
    summary: 'Change the global settings',
    body: settingsPatchSchema,
    ifMatch: true,
    ok: { status: 200, schema: settingsSchema, description: 'Changed' },
  },
  {
    method: 'get',
    path: '/audit',
    tag: 'audit',
    summary: 'Audit events, newest first',
    query: auditQuerySchema,
    ok: { status: 200, schema: auditPageSchema, description: 'A page of events' },
  },
  {
    method: 'get',
    path: '/tokens',
    tag: 'tokens',
    summary: 'List admin API tokens',
    ok: { status: 200, schema: z.object({ items: z.array(tokenInfoSchema) }), description: 'The tokens' },
  },
  {
    method: 'post',
    path: '/tokens',
    tag: 'tokens',
    summary: 'Create an admin API token (shown once)',
    body: createTokenSchema,
    ok: { status: 201, schema: tokenInfoSchema.extend({ token: z.string() }), description: 'Created' },
  },
  {
    method: 'delete',
    path: '/tokens/{id}',
    tag: 'tokens',
    summary: 'Revoke an admin API token',
    params: ['id'],
    ok: { status: 204, description: 'Revoked' },
  },
  {
    method: 'get',
    path: '/health',
    tag: 'meta',
    summary: 'Health with details: checks and warnings (client secrets expired or expiring within 30 days)',
    ok: {
      status: 200,
      schema: z.object({
        status: z.enum(['ok', 'degraded']),
        checks: z.object({ tables: z.enum(['ok', 'failing']), secrets: z.enum(['ok', 'failing']) }),
        warnings: z.array(z.object({ code: z.string(), message: z.string() }).catchall(z.unknown())),
      }),
      description: 'The report (200 also when degraded: the checks say which dependency fails)',
    },
  },
  {
    method: 'get',
    path: '/openapi.json',
    tag: 'meta',
    summary: 'This document',
    ok: { status: 200, schema: z.record(z.string(), z.unknown()), description: 'OpenAPI 3.1' },
  },
];

const problem = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: problemSchema } },
});

export function buildOpenApiDocument(opts: { serverUrl?: string } = {}) {
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', 'adminToken', { type: 'http', scheme: 'bearer' });
  for (const op of ops) {
    const params = op.params
      ? z.object(Object.fromEntries(op.params.map((p) => [p, z.string()])))
      : undefined;
    const headers = op.ifMatch ? z.object({ 'if-match': z.string().optional() }) : undefined;
    const responses: Record<string, unknown> = {
      [op.ok.status]: op.ok.schema
        ? { description: op.ok.description, content: { 'application/json': { schema: op.ok.schema } } }
        : { description: op.ok.description },
      400: problem('The request is not valid (each failing field is named)'),
      401: problem('Authentication is required'),
      403: problem('Not allowed'),
    };
    if (op.params) responses[404] = problem('No such resource');
    if (op.method !== 'get' && op.method !== 'delete') responses[415] = problem('The body must be JSON');
    if (op.method !== 'get') responses[409] = problem('Conflicts with the current state');
    if (op.ifMatch) responses[412] = problem('If-Match does not match the current etag');
    registry.registerPath({
      method: op.method,
      path: `/api/manage${op.path}`,
      summary: op.summary,
      tags: [op.tag],
      security: [{ adminToken: [] }],
      request: {
        ...(params ? { params } : {}),
        ...(op.query ? { query: op.query } : {}),
        ...(headers ? { headers } : {}),
        ...(op.body
          ? { body: { required: true, content: { 'application/json': { schema: op.body } } } }
          : {}),
      },
      // biome-ignore lint/suspicious/noExplicitAny: the generator's response map type is wider than needed here.
      responses: responses as any,
    });
  }
  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'Identity broker management API',
      version: '1',
      description:
        'Admins only: `Authorization: Bearer <admin API token>`, or an admin session cookie with `X-Broker-Csrf: 1`. Errors are RFC 9457 problem+json.',
    },
    ...(opts.serverUrl ? { servers: [{ url: opts.serverUrl }] } : {}),
  });
}

let cached: ReturnType<typeof buildOpenApiDocument> | undefined;

/** The document, built once per instance. */
export function openApiDocument(): ReturnType<typeof buildOpenApiDocument> {
  cached ??= buildOpenApiDocument();
  return cached;
}
