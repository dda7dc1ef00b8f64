/** Scope lists as OAuth sends them: space-separated (RFC 6749 §3.3). */

/** The scopes of `asked` that `offered` (an API's) does not have, each once. */
export function scopesNotOffered(asked: string, offered: string): string[] {
  const has = new Set(offered.split(' ').filter(Boolean));
  return [...new Set(asked.split(' ').filter((s) => s && !has.has(s)))];
}
