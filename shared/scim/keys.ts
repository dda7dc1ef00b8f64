/** SCIM attribute names are case-insensitive (RFC 7643 §2.1): `Operations`, `Primary`, `Value`. */

/** The value under `name` in `obj`, matching the key without regard to case. */
export function member(obj: Record<string, unknown>, name: string): unknown {
  if (Object.hasOwn(obj, name)) return obj[name];
  const lower = name.toLowerCase();
  for (const key of Object.keys(obj)) if (key.toLowerCase() === lower) return obj[key];
  return undefined;
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
