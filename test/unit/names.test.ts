import { describe, expect, it } from 'vitest';
import { isSingleScript, nameIssue, nameKey } from '../../shared/core/names.ts';

describe('look-alike names', () => {
  it.each([
    ['non-breaking space', 'Demo\u00a0App', 'ordinary spaces'],
    ['ideographic space', 'Demo\u3000App', 'ordinary spaces'],
    ['en space', 'Demo\u2002App', 'ordinary spaces'],
    ['double space', 'Demo  App', 'repeated spaces'],
    ['zero-width space', 'Demo\u200bApp', 'invisible'],
    ['zero-width joiner', 'Demo\u200dApp', 'invisible'],
    ['soft hyphen', 'De\u00admo', 'invisible'],
    ['right-to-left override', 'Demo\u202eppA', 'direction'],
    ['left-to-right isolate', 'Demo\u2066App', 'direction'],
    ['tab', 'Demo\tApp', 'control'],
    ['Cyrillic а in a Latin name', 'Demo \u0430pp', 'mix scripts'],
    ['Greek ο in a Latin name', 'Dem\u03bf', 'mix scripts'],
    ['Latin with Han', 'Demo 東京', 'mix scripts'],
    ['private use', 'Demo\ue000', 'unassigned'],
  ])('refuses %s', (_what, name, message) => {
    expect(nameIssue(name)).toContain(message);
  });

  it.each([
    'Demo App',
    'Contoso (EU) – 2',
    'Café Crème',
    'Москва',
    'Ελληνικά',
    '東京タワー',
    '日本語とひらがな',
    '서울 한국어',
    'עברית',
    'Ｄｅｍｏ',
  ])('accepts the single-script name %j', (name) => {
    expect(nameIssue(name)).toBeUndefined();
    expect(isSingleScript(name)).toBe(true);
  });

  it.each([
    ['Ｄｅｍｏ', 'demo'],
    ['DEMO', 'demo'],
    ['Straße', 'strasse'],
    ['ＰＡＳＳＷＯＲＤ', 'password'],
    ['Pass\u00adword'.replace('\u00ad', ''), 'password'],
    ['ﬁle', 'file'],
  ])('compares %j as %j (NFKC + case fold)', (name, key) => {
    expect(nameKey(name)).toBe(key);
  });
});
