/** The `filter` parameter: Entra's equality filters are understood, everything else is 400 invalidFilter. */
import { describe, expect, it } from 'vitest';
import { MAX_FILTER_LENGTH, parseFilter, ScimError } from '../../shared/scim/index.ts';

function scimTypeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof ScimError) return `${err.status} ${err.scimType}`;
    throw err;
  }
  return undefined;
}

describe('parseFilter', () => {
  it('reads the equality filters Entra sends', () => {
    expect(parseFilter('User', 'userName eq "bjensen@example.com"').equals).toEqual({
      userName: 'bjensen@example.com',
    });
    expect(parseFilter('User', 'externalId eq "58342554-38d6-4ec8-948c-50044d0a33fd"').equals).toEqual({
      externalId: '58342554-38d6-4ec8-948c-50044d0a33fd',
    });
    expect(parseFilter('Group', 'displayName eq "Sales EMEA"').equals).toEqual({ displayName: 'Sales EMEA' });
    expect(parseFilter('Group', 'id eq "g1" and members[value eq "u1"]').equals).toEqual({
      id: 'g1',
      members: 'u1',
    });
    expect(parseFilter('Group', 'members.value eq "u1"').equals).toEqual({ members: 'u1' });
    expect(parseFilter('Group', 'members eq "u1"').equals).toEqual({ members: 'u1' });
  });

  it('ignores the case of attribute names and operators, and reads core-schema URNs', () => {
    expect(parseFilter('User', 'USERNAME EQ "x"').equals).toEqual({ userName: 'x' });
    expect(parseFilter('User', 'urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x"').equals).toEqual({
      userName: 'x',
    });
  });

  it('keeps escaped quotes in values', () => {
    expect(parseFilter('Group', 'displayName eq "Sales \\"EMEA\\""').equals).toEqual({
      displayName: 'Sales "EMEA"',
    });
  });

  it('accepts a filter that finds nothing: the store answers an empty list', () => {
    expect(parseFilter('User', 'userName eq "non-existent user"')).toEqual({
      equals: { userName: 'non-existent user' },
      matchesNothing: false,
    });
    expect(parseFilter('User', 'userName eq "a" and userName eq "b"').matchesNothing).toBe(true);
    expect(parseFilter('User', 'userName eq "a" and userName eq "a"').matchesNothing).toBe(false);
  });

  it('refuses what the broker cannot answer from an index with 400 invalidFilter', () => {
    for (const [resource, filter] of [
      ['User', 'userName sw "b"'],
      ['User', 'userName eq "a" or userName eq "b"'],
      ['User', 'not (userName eq "a")'],
      ['User', 'title eq "boss"'],
      ['User', 'members eq "u1"'],
      ['Group', 'userName eq "a"'],
      ['User', 'userName pr'],
      ['User', 'userName eq 12'],
      ['User', 'userName eq null'],
      ['User', 'emails[type eq "work"]'],
      ['Group', 'members[display eq "x"]'],
      ['User', 'userName eq "unterminated'],
      ['User', ''],
      ['User', '(('],
    ] as const) {
      expect(
        scimTypeOf(() => parseFilter(resource, filter)),
        `${resource}: ${filter}`,
      ).toBe('400 invalidFilter');
    }
  });

  it('refuses an overlong filter before parsing it', () => {
    const long = `userName eq "${'a'.repeat(MAX_FILTER_LENGTH)}"`;
    expect(scimTypeOf(() => parseFilter('User', long))).toBe('400 invalidFilter');
  });
});
