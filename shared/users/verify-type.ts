import { ConflictError, NotFoundError, ValidationError } from '../core/errors.ts';
import type { IntegrationLookup } from './ports.ts';
import type { VerifyType } from './records.ts';
import type { VerifyTypeInput } from './schemas.ts';

/** `"password"`, an integration id or an integration title (ignoring case) → the stored verify type. */
export async function resolveVerifyType(
  integrations: IntegrationLookup,
  input: VerifyTypeInput,
): Promise<VerifyType> {
  if (input === 'password') return { kind: 'password' };
  if ('integrationId' in input) {
    try {
      const i = await integrations.get(input.integrationId);
      return { kind: 'integration', integrationId: i.id };
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
      throw new ValidationError([
        {
          field: 'verifyType.integrationId',
          message: `no integration has the id "${input.integrationId}"`,
        },
      ]);
    }
  }
  const found = await integrations.findByTitle(input.title);
  if (!found) {
    throw new ValidationError([
      { field: 'verifyType.title', message: `no integration is titled "${input.title}"` },
    ]);
  }
  return { kind: 'integration', integrationId: found.id };
}

export const sameVerifyType = (a: VerifyType, b: VerifyType) =>
  a.kind === b.kind &&
  (a.kind === 'password' || a.integrationId === (b as { integrationId: string }).integrationId);

/**
 * After a user row that names an integration is written: the integration must still exist and no
 * delete may be under way. A delete marks the row before it counts the assigned users, and this
 * reads the row after the user write, so of the two racing at least one sees the other; when this
 * one does, the user write is undone and the change refused (409 `integration_deleted`).
 */
export async function confirmAssignment(
  integrations: IntegrationLookup,
  vt: VerifyType,
  undo: () => Promise<void>,
): Promise<void> {
  if (vt.kind !== 'integration' || !integrations.isAssignable) return;
  if (await integrations.isAssignable(vt.integrationId)) return;
  await undo();
  throw new ConflictError(
    'The integration was deleted (or is being deleted) meanwhile; choose another verify type.',
    'integration_deleted',
  );
}
