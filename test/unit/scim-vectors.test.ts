/**
 * Every request shape Microsoft documents for Entra's provisioning service (test/fixtures/scim/entra,
 * sources in test/fixtures/scim/README.md) goes through the SCIM layer and gives the canonical
 * result written beside it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  normalizeGroupPatch,
  normalizeUserPatch,
  parseFilter,
  parsePage,
  parseScimGroup,
  parseScimUser,
  ScimError,
} from '../../shared/scim/index.ts';
import { displayNameSchema, emailSchema, usernameSchema } from '../../shared/users/schemas.ts';

const rules = { username: usernameSchema, displayName: displayNameSchema, email: emailSchema };
const dir = path.resolve(import.meta.dirname, '..', 'fixtures', 'scim', 'entra');

interface Vector {
  name: string;
  source: { document: string; url: string; section: string };
  request: { method: string; path: string; headers: Record<string, string>; body?: unknown };
  expect: { kind: string; [key: string]: unknown };
}

const vectors = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((file) => ({ file, vector: JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as Vector }));

function resourceOf(p: string): 'User' | 'Group' {
  if (/^\/Users\b/.test(p)) return 'User';
  if (/^\/Groups\b/.test(p)) return 'Group';
  throw new Error(`no resource in ${p}`);
}

function queryOf(p: string): URLSearchParams {
  return new URL(`https://broker.example${p}`).searchParams;
}

/** Runs the request through the function the SCIM route would call. */
function run(v: Vector): unknown {
  const { method, path: p, body } = v.request;
  const resource = resourceOf(p);
  if (method === 'PATCH')
    return resource === 'User' ? normalizeUserPatch(body, rules) : normalizeGroupPatch(body, rules);
  if (method === 'POST' || method === 'PUT') {
    return resource === 'User' ? parseScimUser(body, rules) : parseScimGroup(body, rules);
  }
  if (method === 'GET') {
    const q = queryOf(p);
    const filter = q.get('filter');
    if (filter !== null) return parseFilter(resource, filter);
    return parsePage({ startIndex: q.get('startIndex'), count: q.get('count') });
  }
  return undefined;
}

describe('Entra request shapes (test vectors)', () => {
  it('has the documented vectors, each with its source', () => {
    expect(vectors.length).toBeGreaterThanOrEqual(60);
    for (const { vector } of vectors) {
      expect(vector.source.url).toMatch(/^https:\/\//);
      expect(vector.request.path.startsWith('/')).toBe(true);
    }
  });

  it.each(vectors)('$file', ({ vector }) => {
    const e = vector.expect;
    switch (e.kind) {
      case 'userCreate':
      case 'groupCreate':
        expect(run(vector)).toEqual(e.input);
        break;
      case 'userPatch':
      case 'groupPatch':
        expect(run(vector)).toEqual(e.changes);
        break;
      case 'filter':
        expect(resourceOf(vector.request.path)).toBe(e.resource);
        expect(run(vector)).toEqual(e.query);
        break;
      case 'page':
        expect(resourceOf(vector.request.path)).toBe(e.resource);
        expect(run(vector)).toEqual(e.page);
        break;
      case 'route':
        expect(vector.request.path).toMatch(/^\/(Users|Groups)\/[^/?]+(\?excludedAttributes=members)?$/);
        expect(resourceOf(vector.request.path)).toBe(e.resource);
        expect(vector.request.body).toBeUndefined();
        break;
      case 'error': {
        let thrown: unknown;
        try {
          run(vector);
        } catch (err) {
          thrown = err;
        }
        expect(thrown).toBeInstanceOf(ScimError);
        const s = thrown as ScimError;
        expect({ status: s.status, scimType: s.scimType }).toEqual({
          status: e.status,
          scimType: e.scimType,
        });
        expect(s.toBody()).toMatchObject({ status: String(e.status), scimType: e.scimType });
        break;
      }
      default:
        throw new Error(`unknown expectation ${e.kind}`);
    }
  });
});
