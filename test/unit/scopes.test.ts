/** Scope comparison and the invalid_scope description (RFC 6749 §3.3, §5.2). */
import { describe, expect, it } from 'vitest';
import { notOfferedDescription, scopesNotOffered } from '../../shared/oidc/scopes.ts';

describe('scopes', () => {
  it('lists each asked scope the API does not offer once, whatever the spacing', () => {
    expect(scopesNotOffered('', 'a b')).toEqual([]);
    expect(scopesNotOffered('a  b a', 'a b')).toEqual([]);
    expect(scopesNotOffered('openid a x x', 'a b')).toEqual(['openid', 'x']);
  });

  it('repeats only well-formed scope names in the description', () => {
    expect(notOfferedDescription(['x', 'y'])).toBe('the API has no scope x, y');
    expect(notOfferedDescription(['bad"quote', 'ünicode', 'ok'])).toBe('the API has no scope ok');
    expect(notOfferedDescription(['bad\\slash'])).toBe('the API has no such scope');
  });
});
