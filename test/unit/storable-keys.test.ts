/** Which strings Table Storage can hold as keys: a request's value that fails names no row. */
import { describe, expect, it } from 'vitest';
import { isStorableKey } from '../../shared/storage/tables.ts';

describe('isStorableKey', () => {
  it('takes the keys the broker makes and ordinary names', () => {
    for (const key of ['config', 'rt-page', 'a.b@contoso.example', 'Session:16', 'é', '👍', 'x'.repeat(512)])
      expect(isStorableKey(key), key).toBe(true);
  });

  it('refuses what Table Storage refuses, and text that is not text', () => {
    for (const key of [
      'a/b',
      'a\\b',
      'a#b',
      'a?b',
      'a\u0000b',
      'a\nb',
      'a\u007fb',
      'a\u009fb',
      '\ud800',
      'a\udc00b',
      'x'.repeat(513),
    ])
      expect(isStorableKey(key), JSON.stringify(key)).toBe(false);
  });
});
