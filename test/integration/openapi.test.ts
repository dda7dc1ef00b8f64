import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appRoutes, startTestApp, type TestApp } from '../helpers/stack.ts';

describe('OpenAPI document', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(() => app.close());

  it('is OpenAPI 3.1, admin-only, and documents every registered /api/manage route and method', async () => {
    expect((await fetch(`${app.url}/api/manage/openapi.json`)).status).toBe(401);
    const r = await app.admin('/api/manage/openapi.json');
    expect(r.status).toBe(200);
    const doc = (await r.json()) as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(doc.openapi).toBe('3.1.0');
    const missing: string[] = [];
    const manage = (await appRoutes()).filter((route) => route.route.startsWith('manage/'));
    expect(manage.length).toBeGreaterThan(15);
    for (const route of manage) {
      const path = `/api/${route.route}`;
      for (const method of route.methods) {
        if (!doc.paths[path]?.[method.toLowerCase()]) missing.push(`${method} ${path}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('is generated from the handlers’ zod schemas (strict bodies, caps, enums)', async () => {
    const doc = await (await app.admin('/api/manage/openapi.json')).json();
    const create = doc.paths['/api/manage/users'].post.requestBody.content['application/json'].schema;
    expect(create.additionalProperties).toBe(false);
    expect(create.required).toEqual(['username', 'verifyType']);
    expect(create.properties.username).toMatchObject({ maxLength: 64 });
    expect(create.properties.roles).toMatchObject({ maxItems: 20 });
    expect(create.properties.roles.items.pattern).toBe('^[a-z0-9][a-z0-9_-]{0,39}$');
    const app_ = doc.paths['/api/manage/applications'].post.requestBody.content['application/json'].schema;
    expect(app_.additionalProperties).toBe(false);
    expect(app_.required).toEqual(['name', 'type', 'redirectUris']);
    expect(app_.properties.redirectUris).toMatchObject({ minItems: 1, maxItems: 10 });
    expect(app_.properties.type.enum).toEqual(['confidential', 'public']);
    expect(doc.paths['/api/manage/applications/{clientId}/client-secret'].post).toBeDefined();
    const settings = doc.paths['/api/manage/settings'].patch.requestBody.content['application/json'].schema;
    expect(settings.properties.sessionLifetimeMinutes).toMatchObject({ minimum: 5, maximum: 1440 });
    expect(settings.properties.allowedReturnOrigins).toMatchObject({ maxItems: 50 });
    const integ = doc.paths['/api/manage/integrations'].post.requestBody.content['application/json'].schema;
    expect(integ.additionalProperties).toBe(false);
    const user =
      doc.paths['/api/manage/users/{username}'].get.responses['200'].content['application/json'].schema;
    expect(Object.keys(user.properties)).toContain('hasPassword');
    expect(JSON.stringify(doc)).not.toContain('passwordHash');
    const query = doc.paths['/api/manage/audit'].get.parameters.map((p: { name: string }) => p.name);
    expect(query).toEqual(expect.arrayContaining(['from', 'to', 'type', 'cursor', 'limit']));
  });
});
