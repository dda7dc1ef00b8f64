/** SCIM error bodies, paging, ListResponse and the discovery documents (RFC 7643 §5–7, RFC 7644 §3.4, §3.12, §4). */
import { describe, expect, it } from 'vitest';
import { BrokerError, NotFoundError } from '../../shared/core/errors.ts';
import {
  badRequest,
  ENTERPRISE_USER_SCHEMA,
  ERROR_MESSAGE,
  GROUP_SCHEMA,
  invalidValue,
  LIST_RESPONSE,
  listResponse,
  MAX_SCIM_BODY_BYTES,
  notFound,
  parsePage,
  resourceTypesList,
  ScimError,
  schemaById,
  schemasList,
  serviceProviderConfig,
  toScimErrorBody,
  USER_SCHEMA,
  uniqueness,
  wellFormedBody,
} from '../../shared/scim/index.ts';

const BASE = 'https://broker.example/api/scim/v2';

describe('SCIM errors', () => {
  it('answers the RFC 7644 error body, status as a string', () => {
    const err = badRequest('invalidFilter', 'the operator "sw" is not supported');
    expect(err).toBeInstanceOf(ScimError);
    expect(err).toBeInstanceOf(BrokerError);
    expect(err.status).toBe(400);
    expect(err.toBody()).toEqual({
      schemas: [ERROR_MESSAGE],
      status: '400',
      scimType: 'invalidFilter',
      detail: 'the operator "sw" is not supported',
    });
  });

  it('names the attribute in an invalidValue', () => {
    expect(invalidValue('userName', 'must be at most 64 characters').toBody()).toMatchObject({
      status: '400',
      scimType: 'invalidValue',
      detail: 'userName: must be at most 64 characters',
    });
  });

  it('has 404 without a scimType and 409 uniqueness', () => {
    expect(notFound('User', 'abc').toBody()).toEqual({
      schemas: [ERROR_MESSAGE],
      status: '404',
      detail: 'User abc not found',
    });
    expect(notFound('User', '<script>').detail).toBe('User not found');
    expect(uniqueness('userName is taken').toBody()).toMatchObject({ status: '409', scimType: 'uniqueness' });
  });

  it('turns any thrown value into a SCIM error body, hiding what may not be shown', () => {
    expect(toScimErrorBody(new NotFoundError('No such user.'))).toEqual({
      schemas: [ERROR_MESSAGE],
      status: '404',
      detail: 'No such user.',
    });
    expect(toScimErrorBody(new BrokerError(503, 'x', 'table secret at host'))).toEqual({
      schemas: [ERROR_MESSAGE],
      status: '503',
      detail: 'Internal error',
    });
    expect(toScimErrorBody(new Error('socket hang up at 10.0.0.1'))).toEqual({
      schemas: [ERROR_MESSAGE],
      status: '500',
      detail: 'Internal error',
    });
  });
});

describe('paging (RFC 7644 §3.4.2.4)', () => {
  it('defaults to the first page of the default size', () => {
    expect(parsePage({})).toEqual({ startIndex: 1, count: 100, offset: 0 });
  });

  it('is 1-based; a startIndex below 1 means 1', () => {
    expect(parsePage({ startIndex: '6', count: '5' })).toEqual({ startIndex: 6, count: 5, offset: 5 });
    expect(parsePage({ startIndex: '0' }).startIndex).toBe(1);
    expect(parsePage({ startIndex: '-7' }).startIndex).toBe(1);
  });

  it('takes count 0 as "no resources, only totalResults" and a negative count as 0', () => {
    expect(parsePage({ count: '0' }).count).toBe(0);
    expect(parsePage({ count: '-3' }).count).toBe(0);
  });

  it('caps count at the maximum', () => {
    expect(parsePage({ count: '100000' }, { defaultCount: 10, maxCount: 50 })).toEqual({
      startIndex: 1,
      count: 50,
      offset: 0,
    });
  });

  it('refuses what is not a whole number', () => {
    for (const bad of ['abc', '1.5', '1e3', '0x10']) {
      expect(() => parsePage({ count: bad })).toThrow(ScimError);
      try {
        parsePage({ startIndex: bad });
      } catch (err) {
        expect((err as ScimError).scimType).toBe('invalidValue');
      }
    }
  });

  it('builds a ListResponse whose itemsPerPage is the page size', () => {
    expect(listResponse([{ id: 'a' }, { id: 'b' }], 7, { startIndex: 3 })).toEqual({
      schemas: [LIST_RESPONSE],
      totalResults: 7,
      startIndex: 3,
      itemsPerPage: 2,
      Resources: [{ id: 'a' }, { id: 'b' }],
    });
    expect(listResponse([], 0, { startIndex: 1 })).toMatchObject({
      totalResults: 0,
      itemsPerPage: 0,
      Resources: [],
    });
  });
});

describe('discovery documents', () => {
  it('ServiceProviderConfig says what the broker supports', () => {
    const spc = serviceProviderConfig(BASE);
    expect(spc.schemas).toEqual(['urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig']);
    expect(spc.patch.supported).toBe(true);
    expect(spc.filter).toEqual({ supported: true, maxResults: 200 });
    expect(spc.bulk).toEqual({ supported: false, maxOperations: 0, maxPayloadSize: MAX_SCIM_BODY_BYTES });
    expect(spc.sort.supported).toBe(false);
    expect(spc.changePassword.supported).toBe(false);
    expect(spc.authenticationSchemes[0]?.type).toBe('oauthbearertoken');
    expect(spc.meta.location).toBe(`${BASE}/ServiceProviderConfig`);
  });

  it('ResourceTypes lists User (with the enterprise extension) and Group', () => {
    const list = resourceTypesList(BASE);
    expect(list.totalResults).toBe(2);
    const [user, group] = list.Resources;
    expect(user).toMatchObject({ id: 'User', endpoint: '/Users', schema: USER_SCHEMA });
    expect(user?.schemaExtensions).toEqual([{ schema: ENTERPRISE_USER_SCHEMA, required: false }]);
    expect(group).toMatchObject({ id: 'Group', endpoint: '/Groups', schema: GROUP_SCHEMA });
    expect(user?.meta.location).toBe(`${BASE}/ResourceTypes/User`);
  });

  it('Schemas lists core User, EnterpriseUser and Group with the attributes the broker keeps', () => {
    const list = schemasList(BASE);
    expect(list.Resources.map((s) => s.id)).toEqual([USER_SCHEMA, ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA]);
    const user = list.Resources[0]!;
    expect(user.attributes.map((a) => a.name)).toEqual([
      'userName',
      'name',
      'displayName',
      'active',
      'emails',
      'addresses',
    ]);
    const userName = user.attributes[0]!;
    expect(userName).toMatchObject({
      required: true,
      uniqueness: 'server',
      caseExact: false,
      mutability: 'readWrite',
    });
    const enterprise = list.Resources[1]!;
    expect(enterprise.attributes.map((a) => a.name)).toEqual(['manager']);
    expect(user.meta.location).toBe(`${BASE}/Schemas/${USER_SCHEMA}`);
    for (const s of list.Resources) {
      // Entra's schema discovery wants camel-cased values and no nulls.
      expect(JSON.stringify(s)).not.toContain('null');
    }
  });

  it('finds one schema by its URN, ignoring case', () => {
    expect(schemaById(USER_SCHEMA.toUpperCase(), BASE)?.id).toBe(USER_SCHEMA);
    expect(schemaById('urn:nope', BASE)).toBeUndefined();
  });
});

describe('SCIM bodies as Unicode text', () => {
  const refusal = (body: unknown) => {
    try {
      wellFormedBody(body);
    } catch (err) {
      return (err as ScimError).toBody();
    }
    return undefined;
  };

  it('accepts any text with its surrogates in pairs', () => {
    const body = { displayName: 'Zoë 😀', members: [{ value: '𝒳' }], n: 1, ok: true, none: null };
    expect(wellFormedBody(body)).toBe(body);
  });

  it('refuses a lone surrogate anywhere, value or name, naming where (400 invalidValue)', () => {
    for (const lone of ['\ud800', '\udc00', 'a\udbff', '\udc00\ud800', '😀'.slice(1)]) {
      expect(refusal({ members: [{ value: 'x' }, { value: lone }] })).toEqual({
        schemas: [ERROR_MESSAGE],
        status: '400',
        scimType: 'invalidValue',
        detail: 'members.value: must be Unicode text',
      });
      expect(refusal({ title: lone })?.detail).toBe('title: must be Unicode text');
      expect(refusal(lone)?.detail).toBe('body: must be Unicode text');
      expect(refusal({ name: { [lone]: 'x' } })?.detail).toBe('name: attribute names must be Unicode text');
    }
  });

  it('walks nesting deeper than the call stack', () => {
    const depth = 200_000;
    const deep = JSON.parse(`${'['.repeat(depth)}"\\ud800"${']'.repeat(depth)}`);
    expect(refusal(deep)?.scimType).toBe('invalidValue');
  });
});
