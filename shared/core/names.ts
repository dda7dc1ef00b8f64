/**
 * Rules for names people read and compare (integration titles; usernames are ASCII-only by their
 * pattern, so these rules hold for them already): no look-alikes of another name.
 *
 * - refused: control (Cc), format (Cf: zero-width, bidi controls, soft hyphen), private-use and
 *   unassigned characters, any space but U+0020, and repeated spaces;
 * - refused: a name that mixes scripts (Unicode TS #39 "single script": the Script_Extensions of
 *   its characters, Common and Inherited aside, must share one script; Han may go with Hiragana and
 *   Katakana (Japanese), Hangul (Korean) or Bopomofo, as TS #39's augmented sets allow);
 * - compared by `nameKey`: NFKC, then a full case fold (upper then lower case: `ß` ≡ `ss`,
 *   full-width letters ≡ ASCII).
 * Built on Unicode property escapes only (no library).
 */

// Cs: half of a surrogate pair, which is no character at all.
const CONTROL_OR_FORMAT = /[\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Cs}]/u;
const UNUSUAL_SPACE = /[^\P{Z} ]/u;
const REPEATED_SPACE = / {2}/;
const COMMON_OR_INHERITED = /^[\p{Script_Extensions=Common}\p{Script_Extensions=Inherited}]$/u;

const SCRIPTS = [
  'Latin',
  'Greek',
  'Cyrillic',
  'Armenian',
  'Hebrew',
  'Arabic',
  'Syriac',
  'Thaana',
  'Nko',
  'Devanagari',
  'Bengali',
  'Gurmukhi',
  'Gujarati',
  'Oriya',
  'Tamil',
  'Telugu',
  'Kannada',
  'Malayalam',
  'Sinhala',
  'Thai',
  'Lao',
  'Tibetan',
  'Myanmar',
  'Georgian',
  'Hangul',
  'Ethiopic',
  'Cherokee',
  'Canadian_Aboriginal',
  'Khmer',
  'Mongolian',
  'Hiragana',
  'Katakana',
  'Bopomofo',
  'Han',
].map((name) => ({ name, re: new RegExp(`^\\p{Script_Extensions=${name}}$`, 'u') }));

/** TS #39 augmented script sets: Han goes with the Japanese and Korean scripts and Bopomofo. */
const AUGMENT: Record<string, string[]> = {
  Han: ['Jpan', 'Kore', 'Hanb'],
  Hiragana: ['Jpan'],
  Katakana: ['Jpan'],
  Hangul: ['Kore'],
  Bopomofo: ['Hanb'],
};

function scriptsOf(ch: string): Set<string> {
  const out = new Set<string>();
  for (const s of SCRIPTS) {
    if (!s.re.test(ch)) continue;
    out.add(s.name);
    for (const a of AUGMENT[s.name] ?? []) out.add(a);
  }
  // A script this list does not name: its own (unknown) script.
  if (out.size === 0) out.add('Other');
  return out;
}

/** Whether the name's characters (Common and Inherited aside) share one script (TS #39). */
export function isSingleScript(name: string): boolean {
  let shared: Set<string> | undefined;
  for (const ch of name) {
    if (COMMON_OR_INHERITED.test(ch)) continue;
    const scripts = scriptsOf(ch);
    shared = shared ? new Set([...shared].filter((s) => scripts.has(s))) : scripts;
    if (shared.size === 0) return false;
  }
  return true;
}

/** What is wrong with a (trimmed) name, or undefined. */
export function nameIssue(name: string): string | undefined {
  if (CONTROL_OR_FORMAT.test(name))
    return 'must not contain control, invisible, direction-changing or unassigned characters';
  if (UNUSUAL_SPACE.test(name)) return 'must use ordinary spaces (U+0020) only';
  if (REPEATED_SPACE.test(name)) return 'must not contain repeated spaces';
  if (!isSingleScript(name)) return 'must not mix scripts (e.g. Latin with Cyrillic letters)';
  return undefined;
}

/** The comparison form of a name: NFKC and a full case fold. */
export function nameKey(name: string): string {
  return name.normalize('NFKC').toUpperCase().toLowerCase().normalize('NFKC');
}
