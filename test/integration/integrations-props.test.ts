/**
 * Property tests (docs/security.md AD3): generated bodies to POST and PATCH /api/manage/integrations
 * through the real app. Only 2xx, 400 or 409 (duplicate or reserved title), never 5xx, and every
 * stored row still satisfies the schema.
 */
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_ENTRA } from '../../scripts/standins/entra.ts';
import { createIntegrationSchema } from '../../shared/integrations/schemas.ts';
import { INTEGRATION_PARTITION, TITLE_PARTITION, titleKey } from '../../shared/integrations/store.ts';
import { startTestApp, type TestApp } from '../helpers/stack.ts';

const RUNS = 1000;

const guid = fc
  .tuple(fc.uuid(), fc.integer({ min: 0, max: 4 }))
  .map(([u, n]) => (n === 0 ? u.toUpperCase() : u));
const junkString = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.string({ unit: 'grapheme', maxLength: 30 }),
  fc.constantFrom('', ' ', '\n', '\u0000', '../..', "'; drop", '{}', '%00', '\u2028', 'x'.repeat(2000)),
);
const anyValue = fc.oneof(
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  junkString,
  fc.array(fc.string(), { maxLength: 3 }),
  fc.object({ maxDepth: 1 }),
);
/** Mostly valid values, now and then something invalid. */
const mostly = <T>(valid: fc.Arbitrary<T>, invalid: fc.Arbitrary<unknown> = anyValue) =>
  fc.oneof({ weight: 15, arbitrary: valid }, { weight: 1, arbitrary: invalid });
const optional = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined, freq: 2 });
/** Absent in about one body out of `n`... present in one out of `n`. */
const rarely = <T>(arb: fc.Arbitrary<T>, n = 20) =>
  fc.oneof({ weight: n - 1, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb });
/** allowedTenants mostly only where tenant is `organizations` (the cross-field rule). */
const fitTenants = <T extends { tenant?: unknown; allowedTenants?: unknown }>(b: T, keep: boolean): T => {
  const org = typeof b.tenant === 'string' && b.tenant.trim().toLowerCase() === 'organizations';
  return org || keep ? b : { ...b, allowedTenants: undefined };
};

const title = mostly(
  fc.oneof(
    { weight: 8, arbitrary: fc.string({ unit: 'grapheme-composite', minLength: 1, maxLength: 40 }) },
    {
      weight: 2,
      arbitrary: fc.constantFrom('CRM', 'crm', 'Sign-in', 'SIGN-IN', 'password', 'PassWord', ' crm '),
    },
    { weight: 1, arbitrary: fc.string({ minLength: 95, maxLength: 110 }) },
  ),
  junkString,
);
const tenant = mostly(
  fc.oneof(
    { weight: 6, arbitrary: guid },
    { weight: 2, arbitrary: fc.constantFrom('contoso.onmicrosoft.com', DEMO_ENTRA.domain, 'Contoso.COM') },
    { weight: 1, arbitrary: fc.constantFrom('organizations', 'Organizations', 'common', 'a.b') },
    { weight: 1, arbitrary: fc.domain() },
  ),
  junkString,
);
const allowedTenants = mostly(
  fc.array(guid, { minLength: 1, maxLength: 3 }),
  fc.array(fc.oneof(guid, junkString), { maxLength: 60 }),
);
const expires = mostly(
  fc.oneof(
    fc
      .date({ min: new Date('1990-01-01'), max: new Date('2200-01-01'), noInvalidDate: true })
      .map((d) => d.toISOString()),
    fc
      .date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true })
      .map((d) => d.toISOString().slice(0, 10)),
  ),
  fc.constantFrom('2027-02-30', '2027-13-01', '0000-01-01', '2027-01-01T00:00:00', 'soon', 17),
);
const fields = {
  title,
  applicationId: mostly(guid, junkString),
  tenant,
  allowedTenants,
  cloud: mostly(fc.constantFrom('public', 'usgov', 'china'), junkString),
  matchClaim: mostly(fc.constantFrom('preferred_username', 'email', 'upn'), junkString),
};

const createBody = fc.oneof(
  {
    weight: 12,
    arbitrary: fc
      .record(
        {
          kind: mostly(fc.constant('azure-ad')),
          title: fields.title,
          applicationId: fields.applicationId,
          tenant: fields.tenant,
          allowedTenants: fields.allowedTenants,
          keepTenants: fc.integer({ min: 0, max: 19 }),
          clientSecret: mostly(
            fc.string({ minLength: 1, maxLength: 60 }),
            fc.constantFrom('', 'x'.repeat(1025), 5),
          ),
          clientSecretExpiresOn: optional(expires),
          cloud: optional(fields.cloud),
          matchClaim: optional(fields.matchClaim),
          extra: rarely(anyValue),
        },
        { requiredKeys: ['kind', 'title', 'applicationId', 'tenant', 'clientSecret', 'keepTenants'] },
      )
      .map(({ keepTenants, ...b }) => fitTenants(b, keepTenants === 0)),
  },
  { weight: 1, arbitrary: fc.anything() },
);

const patchBody = fc.oneof(
  {
    weight: 12,
    arbitrary: fc.record(
      {
        title: optional(fields.title),
        applicationId: optional(fields.applicationId),
        tenant: optional(fields.tenant),
        allowedTenants: rarely(fields.allowedTenants, 4),
        cloud: optional(fields.cloud),
        matchClaim: optional(fields.matchClaim),
        clientSecret: rarely(fc.string()),
        status: rarely(fc.constant('active')),
      },
      { requiredKeys: [] },
    ),
  },
  { weight: 1, arbitrary: fc.anything() },
);

describe('integrations API: generated bodies', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(() => app?.close());

  async function send(method: string, path: string, body: unknown): Promise<number> {
    const text = JSON.stringify(body);
    const r = await app.admin(`/api/manage/integrations${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      ...(text === undefined ? {} : { body: text }),
    });
    const payload = await r.text();
    if (r.status >= 500) throw new Error(`${r.status} for ${text?.slice(0, 300)}: ${payload}`);
    return r.status;
  }

  /** Every stored integration row satisfies the create schema, titles are unique, the index agrees. */
  async function checkStoredRows() {
    const rows: Record<string, unknown>[] = [];
    for await (const e of app.services.tables.integrations.listEntities()) rows.push(e);
    const integrations = rows.filter((r) => r.partitionKey === INTEGRATION_PARTITION);
    const index = new Map(rows.filter((r) => r.partitionKey === TITLE_PARTITION).map((r) => [r.rowKey, r]));
    const keys = new Set<string>();
    for (const r of integrations) {
      const parsed = createIntegrationSchema.safeParse({
        kind: r.kind,
        title: r.title,
        applicationId: r.applicationId,
        tenant: r.tenant,
        allowedTenants: JSON.parse(r.allowedTenants as string),
        clientSecret: 'not-stored',
        cloud: r.cloud,
        matchClaim: r.matchClaim,
        ...(r.secretExpiresOn ? { clientSecretExpiresOn: r.secretExpiresOn } : {}),
      });
      expect(parsed.success, JSON.stringify(r)).toBe(true);
      if (!parsed.success) continue;
      // Stored values are the normalised ones.
      expect(parsed.data.title).toBe(r.title);
      expect(parsed.data.applicationId).toBe(r.applicationId);
      expect(parsed.data.tenant).toBe(r.tenant);
      expect(String(r.title).toLowerCase()).not.toBe('password');
      expect(r.status).toBe('inactive');
      expect(r.secretVersion).toMatch(/^[0-9a-f]{32}$/);
      expect(r).not.toHaveProperty('clientSecret');
      const key = titleKey(String(r.title));
      expect(r.titleKey).toBe(key);
      expect(keys.has(key), `duplicate title ${r.title}`).toBe(false);
      keys.add(key);
      expect((index.get(key) as { integrationId?: string } | undefined)?.integrationId).toBe(r.rowKey);
    }
    return integrations.length;
  }

  it(`POST: ${RUNS} generated bodies answer only 201, 400 or 409`, async () => {
    const seen = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(createBody, async (body) => {
        const status = await send('POST', '', body);
        seen.set(status, (seen.get(status) ?? 0) + 1);
        expect([201, 400, 409]).toContain(status);
      }),
      { numRuns: RUNS },
    );
    console.info(`[integrations-props] POST statuses: ${JSON.stringify(Object.fromEntries(seen))}`);
    expect(seen.get(201) ?? 0).toBeGreaterThan(50);
    expect(seen.get(400) ?? 0).toBeGreaterThan(50);
    expect(await checkStoredRows()).toBe(seen.get(201));
  }, 120_000);

  it(`PATCH: ${RUNS} generated bodies answer only 200, 400 or 409`, async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await app.admin('/api/manage/integrations', {
        method: 'POST',
        json: {
          kind: 'azure-ad',
          title: `Patch target ${i} ${randomUUID()}`,
          applicationId: randomUUID(),
          tenant: DEMO_ENTRA.tenantId,
          clientSecret: 'x',
        },
      });
      expect(r.status).toBe(201);
      ids.push((await r.json()).id);
    }
    const seen = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...ids), patchBody, async (id, body) => {
        const status = await send('PATCH', `/${id}`, body);
        seen.set(status, (seen.get(status) ?? 0) + 1);
        expect([200, 400, 409]).toContain(status);
      }),
      { numRuns: RUNS },
    );
    console.info(`[integrations-props] PATCH statuses: ${JSON.stringify(Object.fromEntries(seen))}`);
    expect(seen.get(200) ?? 0).toBeGreaterThan(50);
    await checkStoredRows();
  }, 120_000);
});
