/**
 * The PatchOp message (RFC 7644 §3.5.2) as Entra sends it, read into a list of operations each with
 * one parsed path: `op` in any case (`Replace`, `Add`, `Remove`), and an `add`/`replace` without a
 * path whose value object names attributes by path (`"name.givenName"`,
 * `"emails[type eq \"work\"].value"`, `"urn:…:enterprise:2.0:User:employeeNumber"`) or by
 * extension URN (`"urn:…:enterprise:2.0:User": {"manager": …}`), which becomes one operation per key.
 */
import { MAX_PATCH_OPERATIONS } from './discovery.ts';
import { badRequest } from './errors.ts';
import { isObject, member } from './keys.ts';
import { type PatchPath, parsePatchPath } from './path.ts';
import { PATCH_OP } from './urns.ts';

export type PatchOpName = 'add' | 'replace' | 'remove';

export interface PatchOperation {
  op: PatchOpName;
  path: PatchPath;
  /** Absent for a remove without a value. */
  value?: unknown;
}

const OPS: readonly PatchOpName[] = ['add', 'replace', 'remove'];

function expandValueObject(op: PatchOpName, value: unknown, index: number): PatchOperation[] {
  if (!isObject(value)) {
    throw badRequest(
      'invalidValue',
      `operation ${index + 1}: without a path, value must be an object of attributes`,
    );
  }
  const out: PatchOperation[] = [];
  for (const [key, v] of Object.entries(value)) {
    if (key.toLowerCase().startsWith('urn:') && isObject(v) && !key.includes('[')) {
      // An extension schema URN as the key, its attributes inside.
      for (const [sub, subValue] of Object.entries(v)) {
        out.push({ op, path: parsePatchPath(`${key}:${sub}`), value: subValue });
      }
      continue;
    }
    out.push({ op, path: parsePatchPath(key), value: v });
  }
  return out;
}

export function readPatchRequest(body: unknown): PatchOperation[] {
  if (!isObject(body)) throw badRequest('invalidSyntax', 'the body must be a PatchOp message');
  const schemas = member(body, 'schemas');
  if (schemas !== undefined && !(Array.isArray(schemas) && schemas.includes(PATCH_OP))) {
    throw badRequest('invalidSyntax', `schemas must list ${PATCH_OP}`);
  }
  const operations = member(body, 'Operations');
  if (!Array.isArray(operations) || operations.length === 0) {
    throw badRequest('invalidSyntax', 'Operations must be a non-empty array');
  }
  if (operations.length > MAX_PATCH_OPERATIONS) {
    throw badRequest('invalidValue', `a PATCH may carry at most ${MAX_PATCH_OPERATIONS} operations`);
  }
  const out: PatchOperation[] = [];
  operations.forEach((raw, index) => {
    if (!isObject(raw)) throw badRequest('invalidSyntax', `operation ${index + 1} must be an object`);
    const opRaw = member(raw, 'op');
    const op = typeof opRaw === 'string' ? (opRaw.toLowerCase() as PatchOpName) : undefined;
    if (!op || !OPS.includes(op)) {
      throw badRequest('invalidSyntax', `operation ${index + 1}: op must be add, replace or remove`);
    }
    const path = member(raw, 'path');
    const value = member(raw, 'value');
    if (path !== undefined && path !== null && typeof path !== 'string') {
      throw badRequest('invalidPath', `operation ${index + 1}: path must be a string`);
    }
    if (!path) {
      if (op === 'remove') throw badRequest('noTarget', `operation ${index + 1}: remove needs a path`);
      out.push(...expandValueObject(op, value, index));
      return;
    }
    if (op !== 'remove' && value === undefined) {
      throw badRequest('invalidValue', `operation ${index + 1}: ${op} needs a value`);
    }
    out.push({ op, path: parsePatchPath(path), ...(value === undefined ? {} : { value }) });
  });
  // A value object without a path counts one operation per attribute it names.
  if (out.length > MAX_PATCH_OPERATIONS) {
    throw badRequest('invalidValue', `a PATCH may carry at most ${MAX_PATCH_OPERATIONS} operations`);
  }
  return out;
}
