/**
 * A second, independent check with a SCIM library nobody here wrote (scimmy, from npm): requests its
 * classes build are accepted by the broker's SCIM layer, and the documents the broker answers are
 * read by scimmy's own schema and message classes without complaint.
 */
import SCIMMY from 'scimmy';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  badRequest,
  ENTERPRISE_USER_SCHEMA,
  listResponse,
  normalizeGroupPatch,
  normalizeUserPatch,
  PATCH_OP,
  parseFilter,
  parseScimGroup,
  parseScimUser,
  resourceTypes,
  toScimGroup,
  toScimUser,
  USER_SCHEMA,
} from '../../shared/scim/index.ts';
import { displayNameSchema, emailSchema, usernameSchema } from '../../shared/users/schemas.ts';

const rules = { username: usernameSchema, displayName: displayNameSchema, email: emailSchema };
const BASE = 'https://broker.example/api/scim/v2';
/** What goes over the wire: the JSON of scimmy's object. */
const wire = (o: unknown) => JSON.parse(JSON.stringify(o));

beforeAll(() => {
  SCIMMY.Resources.User.extend(SCIMMY.Schemas.EnterpriseUser, false);
});

describe('requests built by scimmy', () => {
  it('filters', () => {
    const expr = (e: Record<string, unknown>) => new SCIMMY.Types.Filter(e as never).expression;
    expect(parseFilter('User', expr({ userName: ['eq', 'ann@contoso.com'] })).equals).toEqual({
      userName: 'ann@contoso.com',
    });
    expect(
      parseFilter('User', expr({ externalId: ['eq', '0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef'] })).equals,
    ).toEqual({
      externalId: '0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef',
    });
    expect(parseFilter('User', expr({ id: ['eq', 'u1'], userName: ['eq', 'ann'] })).equals).toEqual({
      id: 'u1',
      userName: 'ann',
    });
    expect(parseFilter('Group', expr({ displayName: ['eq', 'Sales EMEA'] })).equals).toEqual({
      displayName: 'Sales EMEA',
    });
    expect(parseFilter('Group', expr({ members: { value: ['eq', 'u1'] } })).equals).toEqual({
      members: 'u1',
    });
  });

  it('User bodies, core and enterprise', () => {
    const body = new SCIMMY.Schemas.User(
      {
        userName: 'Ann.Lee@Contoso.com',
        externalId: 'oid-1',
        active: false,
        displayName: 'Ann Lee',
        name: { givenName: 'Ann', familyName: 'Lee' },
        emails: [{ value: 'ann@contoso.com', type: 'work', primary: true }],
        addresses: [{ formatted: '1 Main St', type: 'work' }],
        [ENTERPRISE_USER_SCHEMA]: { manager: { value: 'usr_m' } },
      },
      'in',
    );
    expect(parseScimUser(wire(body), rules)).toEqual({
      username: 'ann.lee@contoso.com',
      active: false,
      externalId: 'oid-1',
      displayName: 'Ann Lee',
      email: 'ann@contoso.com',
      givenName: 'Ann',
      familyName: 'Lee',
      formattedName: null,
      workAddress: '1 Main St',
      manager: 'usr_m',
    });
  });

  it('Group bodies', () => {
    const body = new SCIMMY.Schemas.Group(
      { displayName: 'Sales', members: [{ value: 'u1' }, { value: 'u2' }] },
      'in',
    );
    expect(parseScimGroup(wire(body), rules)).toEqual({
      displayName: 'Sales',
      externalId: null,
      memberIds: ['u1', 'u2'],
    });
  });

  it('PatchOp messages', () => {
    const userPatch = new SCIMMY.Messages.PatchOp({
      schemas: [PATCH_OP],
      Operations: [
        { op: 'replace', path: 'active', value: false },
        { op: 'replace', path: 'emails[type eq "work"].value', value: 'new@contoso.com' },
        { op: 'add', value: { displayName: 'Ann L.' } },
        { op: 'remove', path: 'name.givenName' },
      ],
    });
    expect(normalizeUserPatch(wire(userPatch), rules)).toEqual([
      { attribute: 'active', value: false },
      { attribute: 'email', value: 'new@contoso.com' },
      { attribute: 'displayName', value: 'Ann L.' },
      { attribute: 'givenName', value: null },
    ]);
    const groupPatch = new SCIMMY.Messages.PatchOp({
      schemas: [PATCH_OP],
      Operations: [
        { op: 'add', path: 'members', value: [{ value: 'u1' }, { value: 'u2' }] },
        { op: 'remove', path: 'members[value eq "u1"]' },
      ],
    });
    expect(normalizeGroupPatch(wire(groupPatch), rules)).toEqual([
      { attribute: 'members', action: 'add', ids: ['u1', 'u2'] },
      { attribute: 'members', action: 'remove', ids: ['u1'] },
    ]);
  });
});

describe('answers read by scimmy', () => {
  const user = toScimUser(
    {
      id: 'usr_1',
      username: 'ann@contoso.com',
      displayName: 'Ann Lee',
      email: 'ann@contoso.com',
      disabled: true,
      createdAt: '2026-11-30T10:00:00.000Z',
      updatedAt: '2026-12-01T11:00:00.000Z',
      etag: 'e1',
    },
    { externalId: 'oid-1', givenName: 'Ann', familyName: 'Lee', manager: 'usr_m' },
    BASE,
  );

  it('a User', () => {
    const read = wire(new SCIMMY.Schemas.User(wire(user), 'in'));
    expect(read).toMatchObject({
      schemas: [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
      userName: 'ann@contoso.com',
      active: false,
      emails: [{ value: 'ann@contoso.com', type: 'work', primary: true }],
      [ENTERPRISE_USER_SCHEMA]: { manager: { value: 'usr_m' } },
    });
  });

  it('a Group with members', () => {
    const group = toScimGroup(
      { id: 'g1', displayName: 'Sales', externalId: null, createdAt: 'a', updatedAt: 'b', etag: 'e' },
      BASE,
      [{ value: 'usr_1', display: 'Ann Lee' }],
    );
    expect(wire(new SCIMMY.Schemas.Group(wire(group), 'in'))).toMatchObject({
      displayName: 'Sales',
      members: [{ value: 'usr_1' }],
    });
  });

  it('a ListResponse', () => {
    const list = new SCIMMY.Messages.ListResponse(wire(listResponse([user], 41, { startIndex: 21 })));
    expect({ total: list.totalResults, start: list.startIndex, per: list.itemsPerPage }).toEqual({
      total: 41,
      start: 21,
      per: 1,
    });
  });

  it('ResourceTypes', () => {
    for (const rt of resourceTypes(BASE)) {
      expect(() => new SCIMMY.Schemas.ResourceType(wire(rt))).not.toThrow();
    }
  });

  it('an error body, the same as scimmy builds', () => {
    const ours = badRequest('invalidFilter', 'the operator "sw" is not supported').toBody();
    const theirs = wire(
      new SCIMMY.Messages.Error({ status: 400, scimType: 'invalidFilter', detail: ours.detail }),
    );
    expect(ours).toEqual(theirs);
  });
});
