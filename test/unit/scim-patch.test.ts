/** PATCH in Entra's dialect: canonical changes for users and groups, caps, and 400s that name what is wrong. */
import { describe, expect, it } from 'vitest';
import {
  foldUserChanges,
  MAX_MEMBERS_PER_REQUEST,
  MAX_PATCH_OPERATIONS,
  normalizeGroupPatch,
  normalizeUserPatch,
  PATCH_OP,
  ScimError,
} from '../../shared/scim/index.ts';
import { displayNameSchema, emailSchema, usernameSchema } from '../../shared/users/schemas.ts';

const rules = { username: usernameSchema, displayName: displayNameSchema, email: emailSchema };
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const body = (...Operations: unknown[]) => ({ schemas: [PATCH_OP], Operations });

function failure(fn: () => unknown): { status: number; scimType?: string; detail: string } {
  try {
    fn();
  } catch (err) {
    if (err instanceof ScimError) return { status: err.status, scimType: err.scimType, detail: err.detail };
    throw err;
  }
  throw new Error('did not throw');
}

describe('user PATCH', () => {
  it('reads op in any case', () => {
    for (const op of ['replace', 'Replace', 'REPLACE', 'rEpLaCe']) {
      expect(normalizeUserPatch(body({ op, path: 'active', value: false }), rules)).toEqual([
        { attribute: 'active', value: false },
      ]);
    }
  });

  it('reads active as a boolean or a "True"/"False" string, and nothing else', () => {
    const active = (value: unknown) =>
      normalizeUserPatch(body({ op: 'Replace', path: 'active', value }), rules);
    expect(active('False')).toEqual([{ attribute: 'active', value: false }]);
    expect(active('true')).toEqual([{ attribute: 'active', value: true }]);
    expect(active(true)).toEqual([{ attribute: 'active', value: true }]);
    expect(failure(() => active('no'))).toMatchObject({
      status: 400,
      scimType: 'invalidValue',
      detail: 'active: must be true or false',
    });
    expect(failure(() => active(0))).toMatchObject({ scimType: 'invalidValue' });
    expect(failure(() => normalizeUserPatch(body({ op: 'remove', path: 'active' }), rules))).toMatchObject({
      scimType: 'invalidValue',
    });
  });

  it('reads a value object without a path, keys being attributes, paths or an extension URN', () => {
    const changes = normalizeUserPatch(
      body({
        op: 'replace',
        value: {
          active: 'False',
          userName: 'New.Name@Contoso.com',
          name: { givenName: 'Ann' },
          'emails[type eq "work"].value': 'ann@contoso.com',
          [ENTERPRISE]: { manager: { value: 'm-1' }, department: 'Sales' },
        },
      }),
      rules,
    );
    expect(changes).toEqual([
      { attribute: 'active', value: false },
      { attribute: 'userName', value: 'new.name@contoso.com' },
      { attribute: 'givenName', value: 'Ann' },
      { attribute: 'email', value: 'ann@contoso.com' },
      { attribute: 'manager', value: 'm-1' },
      { attribute: 'ignored', path: `${ENTERPRISE}:department` },
    ]);
  });

  it('maps the multi-valued attributes to the one email and work address the broker keeps', () => {
    const changes = normalizeUserPatch(
      body(
        {
          op: 'replace',
          path: 'emails',
          value: [
            { type: 'home', value: 'h@x.com' },
            { type: 'work', value: 'w@x.com' },
          ],
        },
        { op: 'add', path: 'emails[primary eq true].value', value: 'p@x.com' },
        { op: 'add', path: 'emails[type eq "home"].value', value: 'h2@x.com' },
        { op: 'replace', path: 'addresses', value: [{ type: 'work', formatted: '1 Main St' }] },
        {
          op: 'replace',
          path: 'addresses[type eq "work"]',
          value: { formatted: '2 Main St', locality: 'X' },
        },
        { op: 'remove', path: 'emails[type eq "work"]' },
        { op: 'remove', path: 'addresses' },
      ),
      rules,
    );
    expect(changes).toEqual([
      { attribute: 'email', value: 'w@x.com' },
      { attribute: 'email', value: 'p@x.com' },
      { attribute: 'ignored', path: 'emails[type eq "home"].value' },
      { attribute: 'workAddress', value: '1 Main St' },
      { attribute: 'workAddress', value: '2 Main St' },
      { attribute: 'email', value: null },
      { attribute: 'workAddress', value: null },
    ]);
    expect(foldUserChanges(changes)).toEqual({ email: null, workAddress: null });
  });

  it('takes the manager as an id, {value} or a one-item list, with or without its schema URN', () => {
    const manager = (path: string, value: unknown) =>
      normalizeUserPatch(body({ op: 'Add', path, value }), rules);
    expect(manager(`${ENTERPRISE}:manager`, 'm1')).toEqual([{ attribute: 'manager', value: 'm1' }]);
    expect(manager(`${ENTERPRISE}:manager`, { value: 'm2' })).toEqual([
      { attribute: 'manager', value: 'm2' },
    ]);
    expect(manager(`${ENTERPRISE}:manager.value`, 'm3')).toEqual([{ attribute: 'manager', value: 'm3' }]);
    expect(manager('manager', [{ $ref: null, value: 'm4' }])).toEqual([
      { attribute: 'manager', value: 'm4' },
    ]);
    expect(manager(`${ENTERPRISE}:manager`, '')).toEqual([{ attribute: 'manager', value: null }]);
    expect(normalizeUserPatch(body({ op: 'Remove', path: `${ENTERPRISE}:manager` }), rules)).toEqual([
      { attribute: 'manager', value: null },
    ]);
    expect(failure(() => manager('manager', [{ value: 'a' }, { value: 'b' }]))).toMatchObject({
      scimType: 'invalidValue',
    });
  });

  it('refuses a manager no id can be: a character no Table key holds, a lone surrogate', () => {
    const manager = (path: string, value: unknown) =>
      normalizeUserPatch(body({ op: 'Add', path, value }), rules);
    for (const bad of ['a/b', 'a\\b', 'a#b', 'a?b', '\ud800', 'a\udc00']) {
      expect(failure(() => manager(`${ENTERPRISE}:manager`, bad))).toMatchObject({
        status: 400,
        scimType: 'invalidValue',
      });
      expect(failure(() => manager('manager', [{ value: bad }]))).toMatchObject({ scimType: 'invalidValue' });
    }
  });

  it('applies the management API rules: a refused value is 400 invalidValue naming the attribute', () => {
    expect(
      failure(() => normalizeUserPatch(body({ op: 'Replace', path: 'userName', value: 'has space' }), rules)),
    ).toEqual({
      status: 400,
      scimType: 'invalidValue',
      detail: 'userName: may contain letters a-z, digits and . _ @ - only',
    });
    expect(
      failure(() => normalizeUserPatch(body({ op: 'Replace', path: 'userName', value: '' }), rules)),
    ).toMatchObject({
      detail: 'userName: is required',
    });
    expect(
      failure(() =>
        normalizeUserPatch(
          body({ op: 'Replace', path: 'emails[type eq "work"].value', value: 'nope' }),
          rules,
        ),
      ),
    ).toMatchObject({
      scimType: 'invalidValue',
      detail: 'emails[type eq "work"].value: must be a valid email address',
    });
    expect(
      failure(() =>
        normalizeUserPatch(body({ op: 'Replace', path: 'displayName', value: 'a\u0000b' }), rules),
      ),
    ).toMatchObject({
      detail: 'displayName: must not contain control characters',
    });
    expect(
      failure(() => normalizeUserPatch(body({ op: 'Replace', path: 'externalId', value: 7 }), rules)),
    ).toMatchObject({
      detail: 'externalId: must be a string',
    });
  });

  it('reads name as a whole or by sub-attribute; sub-attributes left out stay as they are', () => {
    expect(
      normalizeUserPatch(
        body({ op: 'replace', path: 'name', value: { formatted: 'Ann Lee', GivenName: 'Ann' } }),
        rules,
      ),
    ).toEqual([
      { attribute: 'givenName', value: 'Ann' },
      { attribute: 'formattedName', value: 'Ann Lee' },
    ]);
    expect(normalizeUserPatch(body({ op: 'Remove', path: 'name' }), rules)).toEqual([
      { attribute: 'givenName', value: null },
      { attribute: 'familyName', value: null },
      { attribute: 'formattedName', value: null },
    ]);
  });

  it('clears optional attributes given null or "" and refuses to change id', () => {
    expect(normalizeUserPatch(body({ op: 'Replace', path: 'displayName', value: null }), rules)).toEqual([
      { attribute: 'displayName', value: null },
    ]);
    expect(
      failure(() => normalizeUserPatch(body({ op: 'Replace', path: 'id', value: 'x' }), rules)),
    ).toMatchObject({
      status: 400,
      scimType: 'mutability',
    });
  });

  it('ignores attributes the broker does not keep, including unknown extensions', () => {
    expect(
      normalizeUserPatch(
        body(
          { op: 'Add', path: 'title', value: 'Boss' },
          {
            op: 'Add',
            path: 'urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User:tag',
            value: '7',
          },
          { op: 'Replace', path: 'emails[value co "x"].value', value: 'y@x.com' },
          { op: 'Replace', path: 'name.middleName', value: 'B' },
        ),
        rules,
      ),
    ).toEqual([
      { attribute: 'ignored', path: 'title' },
      {
        attribute: 'ignored',
        path: 'urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User:tag',
      },
      { attribute: 'ignored', path: 'emails[value co "x"].value' },
      { attribute: 'ignored', path: 'name.middleName' },
    ]);
  });

  it('refuses a malformed PatchOp message with the scimType RFC 7644 gives it', () => {
    const cases: Array<[unknown, string]> = [
      [null, 'invalidSyntax'],
      [[], 'invalidSyntax'],
      [{ schemas: ['urn:wrong'], Operations: [{ op: 'add', path: 'title', value: 'x' }] }, 'invalidSyntax'],
      [{ schemas: [PATCH_OP] }, 'invalidSyntax'],
      [body(), 'invalidSyntax'],
      [body('add'), 'invalidSyntax'],
      [body({ op: 'move', path: 'title' }), 'invalidSyntax'],
      [body({ op: 'remove' }), 'noTarget'],
      [body({ op: 'add', path: 'title' }), 'invalidValue'],
      [body({ op: 'add', value: 'not an object' }), 'invalidValue'],
      [body({ op: 'add', path: 'a..b', value: 1 }), 'invalidPath'],
      [body({ op: 'add', path: 'userName pr or title', value: 1 }), 'invalidPath'],
      [body({ op: 'add', path: 42, value: 1 }), 'invalidPath'],
    ];
    for (const [b, scimType] of cases) {
      expect(failure(() => normalizeUserPatch(b, rules)).scimType, JSON.stringify(b)).toBe(scimType);
    }
  });

  it('accepts a message without schemas and with "operations" in another case', () => {
    expect(normalizeUserPatch({ operations: [{ op: 'replace', value: { active: true } }] }, rules)).toEqual([
      { attribute: 'active', value: true },
    ]);
  });

  it(`takes at most ${MAX_PATCH_OPERATIONS} operations`, () => {
    const ops = Array.from({ length: MAX_PATCH_OPERATIONS }, () => ({
      op: 'Replace',
      path: 'active',
      value: true,
    }));
    expect(normalizeUserPatch(body(...ops), rules)).toHaveLength(MAX_PATCH_OPERATIONS);
    expect(failure(() => normalizeUserPatch(body(...ops, ops[0]), rules))).toMatchObject({
      status: 400,
      scimType: 'invalidValue',
    });
  });

  it('keeps the last write of an attribute when folded', () => {
    const changes = normalizeUserPatch(
      body(
        { op: 'Replace', path: 'active', value: 'False' },
        { op: 'Replace', path: 'displayName', value: 'One' },
        { op: 'Replace', path: 'active', value: 'True' },
        { op: 'Replace', path: 'title', value: 'x' },
      ),
      rules,
    );
    expect(foldUserChanges(changes)).toEqual({ active: true, displayName: 'One' });
  });
});

describe('group PATCH', () => {
  const ids = (n: number, from = 0) => Array.from({ length: n }, (_, i) => ({ value: `u${from + i}` }));

  it('refuses a member value no id can be, in a value list and in a members[value eq] path', () => {
    for (const bad of ['a/b', 'a\\b', 'a#b', 'a?b', '\ud800']) {
      for (const op of [
        { op: 'Add', path: 'members', value: [{ value: 'u1' }, { value: bad }] },
        { op: 'Remove', path: 'members', value: [{ value: bad }] },
        { op: 'Remove', path: `members[value eq ${JSON.stringify(bad)}]` },
      ]) {
        expect(failure(() => normalizeGroupPatch(body(op), rules))).toMatchObject({
          status: 400,
          scimType: 'invalidValue',
        });
      }
    }
  });

  it('adds, removes and replaces members in batches', () => {
    expect(
      normalizeGroupPatch(
        body(
          { op: 'Add', path: 'members', value: ids(3) },
          { op: 'Remove', path: 'members', value: [{ value: 'u1' }] },
          { op: 'remove', path: 'members[value eq "u2"]' },
          { op: 'replace', path: 'members', value: [{ value: 'u9' }] },
          { op: 'Remove', path: 'members' },
        ),
        rules,
      ),
    ).toEqual([
      { attribute: 'members', action: 'add', ids: ['u0', 'u1', 'u2'] },
      { attribute: 'members', action: 'remove', ids: ['u1'] },
      { attribute: 'members', action: 'remove', ids: ['u2'] },
      { attribute: 'members', action: 'replace', ids: ['u9'] },
      { attribute: 'members', action: 'replace', ids: [] },
    ]);
  });

  it('renames and changes externalId; ignores what a group does not keep', () => {
    expect(
      normalizeGroupPatch(
        body(
          { op: 'Replace', path: 'displayName', value: 'Sales' },
          { op: 'Replace', path: 'externalId', value: 'e-1' },
          { op: 'replace', value: { displayName: 'Sales EMEA', description: 'x' } },
        ),
        rules,
      ),
    ).toEqual([
      { attribute: 'displayName', value: 'Sales' },
      { attribute: 'externalId', value: 'e-1' },
      { attribute: 'displayName', value: 'Sales EMEA' },
      { attribute: 'ignored', path: 'description' },
    ]);
    expect(
      failure(() => normalizeGroupPatch(body({ op: 'Replace', path: 'displayName', value: '' }), rules)),
    ).toMatchObject({
      scimType: 'invalidValue',
      detail: 'displayName: is required',
    });
  });

  it('refuses member paths it cannot apply and member ids that are not ids', () => {
    expect(
      failure(() =>
        normalizeGroupPatch(body({ op: 'add', path: 'members[value eq "u1"]', value: 'x' }), rules),
      ),
    ).toMatchObject({
      scimType: 'invalidPath',
    });
    expect(
      failure(() => normalizeGroupPatch(body({ op: 'remove', path: 'members[display eq "x"]' }), rules)),
    ).toMatchObject({
      scimType: 'invalidPath',
    });
    expect(
      failure(() => normalizeGroupPatch(body({ op: 'add', path: 'members', value: [{ value: 5 }] }), rules)),
    ).toMatchObject({
      scimType: 'invalidValue',
      detail: 'members.value: must be a string',
    });
    expect(
      failure(() => normalizeGroupPatch(body({ op: 'add', path: 'members', value: [{ value: '' }] }), rules)),
    ).toMatchObject({
      scimType: 'invalidValue',
    });
  });

  it(`names at most ${MAX_MEMBERS_PER_REQUEST} members per request, across operations`, () => {
    const half = MAX_MEMBERS_PER_REQUEST / 2;
    const ok = body(
      { op: 'Add', path: 'members', value: ids(half) },
      { op: 'Add', path: 'members', value: ids(half, half) },
    );
    expect(normalizeGroupPatch(ok, rules)).toHaveLength(2);
    const tooMany = body(
      { op: 'Add', path: 'members', value: ids(half) },
      { op: 'Add', path: 'members', value: ids(half + 1, half) },
    );
    expect(failure(() => normalizeGroupPatch(tooMany, rules))).toMatchObject({
      status: 400,
      scimType: 'invalidValue',
    });
  });
});
