import type { Caller } from '../admin/caller.ts';
import { requireRecentSignIn } from '../admin/fresh-sign-in.ts';
import { ConflictError } from '../core/errors.ts';
import { hashChecked } from './password.ts';
import type { ChangeContext } from './ports.ts';
import type { NewUserRecord, UserRecord } from './records.ts';
import { changeRequest, type UserOperationDeps } from './resource.ts';
import type { CreateUserInput, User } from './schemas.ts';
import { confirmAssignment, resolveVerifyType } from './verify-type.ts';
import { viewUser } from './views.ts';

/**
 * Creates a user: its id, email and admin index rows first, then the user row (409 `username_taken`
 * when the name exists; the index rows are released again). Audited with the names of the fields given.
 * Creating an admin needs a recent sign-in (docs/security.md AD5).
 */
export async function createUser(
  deps: UserOperationDeps,
  input: CreateUserInput,
  ctx: ChangeContext,
  caller?: Caller,
): Promise<User> {
  const { store, resource } = deps;
  if (input.roles?.includes('admin')) requireRecentSignIn(caller, deps.clock);
  const verifyType = await resolveVerifyType(deps.integrations, input.verifyType);
  const passwordHash =
    input.password !== undefined ? await hashChecked(input.password, input.username) : null;
  if (await store.get(input.username)) {
    throw new ConflictError('A user with this username already exists.', 'username_taken');
  }
  const now = resource.now();
  const record: NewUserRecord = {
    id: '',
    username: input.username,
    displayName: input.displayName ?? input.username,
    email: input.email ?? null,
    verifyType,
    passwordHash,
    roles: input.roles ?? [],
    disabled: false,
    entraBinding: null,
    lastLoginAt: null,
    sessionsRevokedAt: null,
    createdAt: now,
    updatedAt: now,
  };
  record.id = await store.newId(record.username);
  if (record.email) await store.claimEmail(record.email, record.username);
  if (record.roles.includes('admin')) await store.addAdmin(record.username);
  let saved: UserRecord;
  try {
    saved = await store.insert(record);
  } catch (err) {
    if (record.email) await store.releaseEmail(record.email, record.username);
    if (record.roles.includes('admin')) await store.removeAdmin(record.username);
    await store.releaseId(record.id, record.username);
    throw err;
  }
  await confirmAssignment(deps.integrations, verifyType, async () => {
    await store.remove(saved.username, saved.etag);
    await store.releaseId(record.id, record.username);
    if (record.email) await store.releaseEmail(record.email, record.username);
    if (record.roles.includes('admin')) await store.removeAdmin(record.username);
  });
  await resource.record(saved, changeRequest(undefined, ctx), {
    event: 'created',
    changedFields: Object.keys(input).sort(),
    securityRelevant: saved.roles.includes('admin'),
    details: { verifyType: verifyType.kind === 'password' ? 'password' : verifyType.integrationId },
  });
  return viewUser(deps.integrations, saved);
}
