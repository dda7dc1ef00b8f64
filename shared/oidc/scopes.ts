/** Scope lists as OAuth sends them: space-separated (RFC 6749 §3.3). */

/** The scopes of `asked` that `offered` (an API's) does not have, each once. */
export function scopesNotOffered(asked: string, offered: string): string[] {
  const has = new Set(offered.split(' ').filter(Boolean));
  return [...new Set(asked.split(' ').filter((s) => s && !has.has(s)))];
}

/** RFC 6749 §3.3 scope-token characters: also all an `error_description` may carry (§5.2), bar space. */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/** The error description naming scopes an API does not have: only well-formed names are repeated. */
export function notOfferedDescription(unknown: string[]): string {
  const named = unknown.filter((s) => SCOPE_TOKEN.test(s)).slice(0, 10);
  return named.length > 0 ? `the API has no scope ${named.join(', ')}` : 'the API has no such scope';
}
