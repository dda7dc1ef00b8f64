/**
 * Property tests (docs/security.md AD3, OP1): generated bodies to POST and PATCH /api/manage/applications
 * through the real app. Only 201/200 or 400, never 5xx; every stored application still satisfies the
 * rules (redirect URIs https or loopback http, no fragment or wildcard, caps, role names).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redirectUriIssue } from '../../shared/applications/schemas.ts';
import { startTestApp, type TestApp } from '../helpers/stack.ts';

const RUNS = 300;

const junk = fc.oneof(
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.string({ maxLength: 30 }),
  fc.constantFrom('', ' ', '\n', '\u0000', '../..', '{}', '%00', '\u2028', 'x'.repeat(2100)),
  fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }),
  fc.object({ maxDepth: 1 }),
);
const mostly = <T>(valid: fc.Arbitrary<T>, invalid: fc.Arbitrary<unknown> = junk) =>
  fc.oneof({ weight: 10, arbitrary: valid }, { weight: 1, arbitrary: invalid });
const optional = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined, freq: 2 });

const goodUri = fc.oneof(
  { weight: 4, arbitrary: fc.webUrl({ validSchemes: ['https'], withQueryParameters: true }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      'http://localhost:7072/callback',
      'http://127.0.0.1/cb',
      'http://[::1]:1/cb',
      'HTTPS://A.EXAMPLE/CB',
    ),
  },
);
const badUri = fc.oneof(
  fc.webUrl({ validSchemes: ['http'], withFragments: true }),
  fc.constantFrom(
    'https://*.example.com/cb',
    'https://a.example/cb#x',
    'https://u:p@a.example/cb',
    'javascript:alert(1)',
    'http://localhost.evil.example/',
    '/relative',
    `https://a.example/${'x'.repeat(2000)}`,
  ),
  fc.string({ maxLength: 40 }),
);
const uris = fc.oneof(
  { weight: 8, arbitrary: fc.array(goodUri, { minLength: 1, maxLength: 3 }) },
  { weight: 3, arbitrary: fc.array(fc.oneof(goodUri, badUri), { minLength: 0, maxLength: 12 }) },
  { weight: 1, arbitrary: junk },
);
const roles = mostly(
  fc.oneof(
    { weight: 4, arbitrary: fc.array(fc.stringMatching(/^[a-z0-9][a-z0-9_-]{0,39}$/), { maxLength: 5 }) },
    {
      weight: 1,
      arbitrary: fc.array(
        fc.oneof(fc.stringMatching(/^[a-z0-9][a-z0-9_-]{0,39}$/), fc.constantFrom('Admin', '-x', '', 'a b')),
        { maxLength: 22 },
      ),
    },
  ),
);
const name = mostly(
  fc.oneof(
    { weight: 6, arbitrary: fc.string({ minLength: 1, maxLength: 40 }) },
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme-composite', minLength: 0, maxLength: 110 }) },
  ),
);

describe('applications API property tests', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(() => app.close());

  async function assertAllValid(): Promise<void> {
    for (const a of await app.services.applications.list()) {
      expect(a.redirectUris.length).toBeGreaterThanOrEqual(1);
      expect(a.redirectUris.length).toBeLessThanOrEqual(10);
      expect(a.postLogoutRedirectUris.length).toBeLessThanOrEqual(10);
      for (const u of [...a.redirectUris, ...a.postLogoutRedirectUris])
        expect(redirectUriIssue(u), u).toBeUndefined();
      expect(a.allowedRoles.length).toBeLessThanOrEqual(20);
      for (const r of a.allowedRoles) expect(r).toMatch(/^[a-z0-9][a-z0-9_-]{0,39}$/);
      expect(['RS256', 'ES256']).toContain(a.idTokenSignedResponseAlg);
      expect(a.clientSecret === null).toBe(a.type === 'public');
    }
  }

  it(`POST and PATCH: ${RUNS} generated bodies each → 2xx or 400, never 5xx; nothing invalid stored`, async () => {
    const body = fc.record(
      {
        name,
        type: mostly(fc.constantFrom('confidential', 'public')),
        redirectUris: uris,
        postLogoutRedirectUris: optional(uris),
        allowedRoles: optional(roles),
        idTokenSignedResponseAlg: optional(mostly(fc.constantFrom('RS256', 'ES256'))),
        tokenEndpointAuthMethod: optional(
          mostly(fc.constantFrom('client_secret_basic', 'client_secret_post')),
        ),
      },
      { requiredKeys: [] },
    );
    const seen = new Map<number, number>();
    let target = '';
    await fc.assert(
      fc.asyncProperty(body, fc.boolean(), fc.nat(9), async (b, patch, k) => {
        // A PATCH body mostly leaves out `type` (fixed at creation: a PATCH naming it is a 400).
        const patchBody = k === 0 ? b : { ...b, type: undefined };
        const res =
          patch && target
            ? await app.admin(`/api/manage/applications/${target}`, { method: 'PATCH', json: patchBody })
            : await app.admin('/api/manage/applications', { method: 'POST', json: b });
        seen.set(res.status, (seen.get(res.status) ?? 0) + 1);
        expect([200, 201, 400]).toContain(res.status);
        const json = (await res.json()) as { clientId?: string };
        if (res.status === 201 && json.clientId) target = json.clientId;
      }),
      { numRuns: RUNS },
    );
    await assertAllValid();
    console.info(`[applications-props] statuses: ${JSON.stringify(Object.fromEntries(seen))}`);
    expect(seen.get(201) ?? 0).toBeGreaterThan(RUNS / 30);
    expect(seen.get(200) ?? 0).toBeGreaterThan(RUNS / 30);
    expect(seen.get(400) ?? 0).toBeGreaterThan(0);
  }, 300_000);

  it(`initiateLoginUri: ${RUNS / 3} generated values on POST and PATCH → 2xx or 400 naming it; only valid URIs stored`, async () => {
    const value = fc.oneof(goodUri, badUri, fc.constant(null), junk);
    const created = await app.admin('/api/manage/applications', {
      method: 'POST',
      json: { name: 'Portal props', type: 'public', redirectUris: ['http://127.0.0.1/cb'] },
    });
    const target = ((await created.json()) as { clientId: string }).clientId;
    await fc.assert(
      fc.asyncProperty(value, fc.boolean(), async (initiateLoginUri, patch) => {
        const res = patch
          ? await app.admin(`/api/manage/applications/${target}`, {
              method: 'PATCH',
              json: { initiateLoginUri },
            })
          : await app.admin('/api/manage/applications', {
              method: 'POST',
              json: {
                name: 'Portal props',
                type: 'public',
                redirectUris: ['http://127.0.0.1/cb'],
                initiateLoginUri,
              },
            });
        expect([200, 201, 400]).toContain(res.status);
        const json = (await res.json()) as { errors?: { field: string }[] };
        if (res.status === 400) {
          expect(json.errors?.length).toBeGreaterThan(0);
          for (const e of json.errors ?? []) expect(e.field).toBe('initiateLoginUri');
        }
      }),
      { numRuns: RUNS / 3 },
    );
    for (const a of await app.services.applications.list()) {
      if (a.initiateLoginUri !== null)
        expect(redirectUriIssue(a.initiateLoginUri), a.initiateLoginUri).toBeUndefined();
    }
  }, 300_000);
});
