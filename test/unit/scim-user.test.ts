/** The broker user as a SCIM User, and a SCIM User or Group body as the typed input the store receives. */
import { describe, expect, it } from 'vitest';
import {
  ENTERPRISE_USER_SCHEMA,
  GROUP_SCHEMA,
  MAX_MEMBERS_PER_REQUEST,
  membersRequested,
  parseScimGroup,
  parseScimUser,
  ScimError,
  toScimGroup,
  toScimUser,
  USER_SCHEMA,
  versionOf,
} from '../../shared/scim/index.ts';
import { displayNameSchema, emailSchema, usernameSchema } from '../../shared/users/schemas.ts';

const rules = { username: usernameSchema, displayName: displayNameSchema, email: emailSchema };
const BASE = 'https://broker.example/api/scim/v2';
const user = {
  id: 'usr_01HZY',
  username: 'ann@contoso.com',
  displayName: 'Ann Lee',
  email: 'ann@contoso.com',
  disabled: false,
  createdAt: '2026-11-30T10:00:00.000Z',
  updatedAt: '2026-12-01T11:00:00.000Z',
  etag: `W/"datetime'2026-12-01T11%3A00%3A00.000Z'"`,
};

function failure(fn: () => unknown) {
  try {
    fn();
  } catch (err) {
    if (err instanceof ScimError) return { status: err.status, scimType: err.scimType, detail: err.detail };
    throw err;
  }
  throw new Error('did not throw');
}

describe('toScimUser', () => {
  it('shows the broker user with meta, active from disabled and the SCIM-owned fields', () => {
    expect(
      toScimUser(
        user,
        {
          externalId: 'oid-1',
          givenName: 'Ann',
          familyName: 'Lee',
          workAddress: '1 Main St',
          manager: 'usr_m',
        },
        BASE,
      ),
    ).toEqual({
      schemas: [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
      id: 'usr_01HZY',
      externalId: 'oid-1',
      userName: 'ann@contoso.com',
      name: { givenName: 'Ann', familyName: 'Lee' },
      displayName: 'Ann Lee',
      active: true,
      emails: [{ value: 'ann@contoso.com', type: 'work', primary: true }],
      addresses: [{ formatted: '1 Main St', type: 'work', primary: true }],
      [ENTERPRISE_USER_SCHEMA]: { manager: { value: 'usr_m' } },
      meta: {
        resourceType: 'User',
        created: '2026-11-30T10:00:00.000Z',
        lastModified: '2026-12-01T11:00:00.000Z',
        version: user.etag,
        location: `${BASE}/Users/usr_01HZY`,
      },
    });
  });

  it('leaves out what has no value (no nulls) and shows a disabled user as inactive', () => {
    const scim = toScimUser({ ...user, email: null, displayName: '', disabled: true }, {}, BASE);
    expect(scim.active).toBe(false);
    expect(scim.schemas).toEqual([USER_SCHEMA]);
    expect(JSON.stringify(scim)).not.toContain('null');
    expect(Object.keys(scim)).toEqual(['schemas', 'id', 'userName', 'active', 'meta']);
  });

  it('quotes a bare etag as a weak entity tag', () => {
    expect(versionOf('abc')).toBe('W/"abc"');
    expect(versionOf('"abc"')).toBe('"abc"');
    expect(versionOf('W/"abc"')).toBe('W/"abc"');
  });
});

describe('parseScimUser', () => {
  it('reads attribute names in any case and ignores unknown attributes', () => {
    expect(
      parseScimUser(
        {
          UserName: 'Ann@Contoso.com',
          ACTIVE: 'False',
          DisplayName: 'Ann',
          Emails: [{ Value: 'ann@contoso.com', Type: 'work', Primary: true }],
          nickName: 'Annie',
          favouriteColour: { any: 'thing' },
          id: 'client-chosen-id',
          meta: { created: 'yesterday' },
        },
        rules,
      ),
    ).toEqual({
      username: 'ann@contoso.com',
      active: false,
      externalId: null,
      displayName: 'Ann',
      email: 'ann@contoso.com',
      givenName: null,
      familyName: null,
      formattedName: null,
      workAddress: null,
      manager: null,
    });
  });

  it('takes the primary email, else the work one', () => {
    const emails = (list: unknown[]) => parseScimUser({ userName: 'a', emails: list }, rules).email;
    expect(
      emails([
        { value: 'w@x.com', type: 'work' },
        { value: 'p@x.com', type: 'home', primary: true },
      ]),
    ).toBe('p@x.com');
    expect(
      emails([
        { value: 'h@x.com', type: 'home' },
        { value: 'w@x.com', type: 'work' },
      ]),
    ).toBe('w@x.com');
    expect(emails([{ value: 'h@x.com', type: 'home' }])).toBeNull();
  });

  it('refuses with 400 invalidValue naming the attribute and why', () => {
    expect(failure(() => parseScimUser({ active: true }, rules))).toEqual({
      status: 400,
      scimType: 'invalidValue',
      detail: 'userName: is required',
    });
    expect(failure(() => parseScimUser({ userName: 'x'.repeat(65) }, rules))).toMatchObject({
      detail: 'userName: must be at most 64 characters',
    });
    expect(failure(() => parseScimUser({ userName: 'a', active: 'maybe' }, rules))).toMatchObject({
      detail: 'active: must be true or false',
    });
    expect(failure(() => parseScimUser({ userName: 'a', emails: 'a@b.com' }, rules))).toMatchObject({
      scimType: 'invalidValue',
    });
    expect(
      failure(() =>
        parseScimUser({ userName: 'a', emails: [{ value: 'not-an-address', primary: true }] }, rules),
      ),
    ).toMatchObject({
      detail: 'emails: must be a valid email address',
    });
    expect(failure(() => parseScimUser({ userName: 'a', externalId: 'x'.repeat(300) }, rules))).toMatchObject(
      {
        detail: 'externalId: must be at most 256 characters',
      },
    );
    expect(failure(() => parseScimUser('{"userName":"a"}', rules))).toMatchObject({
      scimType: 'invalidSyntax',
    });
  });
});

describe('groups', () => {
  it('shows a group, with members only when asked', () => {
    const group = {
      id: 'grp_1',
      displayName: 'Sales',
      externalId: 'oid-g',
      createdAt: '2026-11-30T10:00:00.000Z',
      updatedAt: '2026-12-01T11:00:00.000Z',
      etag: 'e1',
    };
    expect(toScimGroup(group, BASE)).toEqual({
      schemas: [GROUP_SCHEMA],
      id: 'grp_1',
      externalId: 'oid-g',
      displayName: 'Sales',
      meta: {
        resourceType: 'Group',
        created: group.createdAt,
        lastModified: group.updatedAt,
        version: 'W/"e1"',
        location: `${BASE}/Groups/grp_1`,
      },
    });
    expect(toScimGroup(group, BASE, [{ value: 'u1', display: 'Ann' }, { value: 'u2' }]).members).toEqual([
      { value: 'u1', $ref: `${BASE}/Users/u1`, type: 'User', display: 'Ann' },
      { value: 'u2', $ref: `${BASE}/Users/u2`, type: 'User' },
    ]);
  });

  it('carries members unless excludedAttributes names them or attributes names others only', () => {
    expect(membersRequested({})).toBe(true);
    expect(membersRequested({ excludedAttributes: 'members' })).toBe(false);
    expect(membersRequested({ excludedAttributes: 'Members, externalId' })).toBe(false);
    expect(membersRequested({ attributes: 'displayName' })).toBe(false);
    expect(membersRequested({ attributes: 'displayName,members.value' })).toBe(true);
    expect(membersRequested({ attributes: 'urn:ietf:params:scim:schemas:core:2.0:Group:members' })).toBe(
      true,
    );
  });

  it('reads a Group body; members are ids, each once', () => {
    expect(
      parseScimGroup({ DisplayName: 'Sales', members: [{ value: 'u1' }, { value: 'u1' }, 'u2'] }, rules),
    ).toEqual({
      displayName: 'Sales',
      externalId: null,
      memberIds: ['u1', 'u2'],
    });
    expect(failure(() => parseScimGroup({ externalId: 'x' }, rules))).toMatchObject({
      detail: 'displayName: is required',
    });
    const tooMany = Array.from({ length: MAX_MEMBERS_PER_REQUEST + 1 }, (_, i) => ({ value: `u${i}` }));
    expect(failure(() => parseScimGroup({ displayName: 'G', members: tooMany }, rules))).toMatchObject({
      status: 400,
      scimType: 'invalidValue',
    });
  });
});
