/**
 * SCIM booleans as Entra sends them: JSON `true`/`false`, and, from a provisioning job without the
 * `aadOptscim062020` flag, the strings `"True"`/`"False"` (Microsoft's "Known issues and
 * resolutions with SCIM 2.0 protocol compliance"). Any other value is not a boolean.
 */
export function scimBoolean(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') {
    const v = value.trim().toLowerCase();
    if (v === 'true') return true;
    if (v === 'false') return false;
  }
  return undefined;
}
