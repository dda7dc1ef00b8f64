import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import type { TestApp } from './stack.ts';

// biome-ignore lint/suspicious/noExplicitAny: SCIM answers are read as loose JSON in tests.
export type Json = Record<string, any>;

export interface ScimClient {
  tenantUrl: string;
  token: string;
  integrationId: string;
  call(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: Json | undefined; headers: Headers }>;
}

/** Creates an (inactive) integration on a tenant of its own through the management API. */
export async function createIntegration(
  app: TestApp,
  tenant: string = randomUUID(),
): Promise<{ id: string; tenant: string }> {
  const r = await app.admin('/api/manage/integrations', {
    method: 'POST',
    json: {
      kind: 'azure-ad',
      title: `SCIM ${randomUUID().slice(0, 8)}`,
      applicationId: randomUUID(),
      tenant,
      clientSecret: `s-${randomUUID()}`,
    },
  });
  expect(r.status, await r.clone().text()).toBe(201);
  return { id: (await r.json()).id, tenant };
}

/** Turns provisioning on for the integration and answers a client with its tenant URL and token. */
export async function enableProvisioning(
  app: TestApp,
  integrationId: string,
  body: Record<string, unknown> = {},
): Promise<ScimClient> {
  const r = await app.admin(`/api/manage/integrations/${integrationId}/provisioning`, {
    method: 'POST',
    json: body,
  });
  expect(r.status, await r.clone().text()).toBe(201);
  const { tenantUrl, secretToken } = await r.json();
  return scimClient(app, tenantUrl, secretToken, integrationId);
}

export function scimClient(
  app: TestApp,
  tenantUrl: string,
  token: string,
  integrationId: string,
): ScimClient {
  // The tenant URL names the public base URL; the test host serves it on the same port.
  const base = tenantUrl.replace(/^https?:\/\/[^/]+/, app.url);
  return {
    tenantUrl,
    token,
    integrationId,
    async call(method, path, body, headers = {}) {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body !== undefined ? { 'content-type': 'application/scim+json' } : {}),
          ...headers,
        },
        ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      let parsed: Json | undefined;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = { text };
      }
      return { status: res.status, body: parsed, headers: res.headers };
    },
  };
}

/** A user body as Entra's provisioning service sends it on create (Microsoft's SCIM tutorial). */
export function entraUser(userName: string, externalId: string = randomUUID(), over: Json = {}): Json {
  return {
    schemas: [
      'urn:ietf:params:scim:schemas:core:2.0:User',
      'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User',
    ],
    externalId,
    userName,
    active: true,
    emails: [
      { primary: true, type: 'work', value: userName.includes('@') ? userName : `${userName}@contoso.com` },
    ],
    meta: { resourceType: 'User' },
    name: { formatted: 'given family', familyName: 'family', givenName: 'given' },
    roles: [],
    ...over,
  };
}
