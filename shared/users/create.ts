import { ConflictError } from '../core/errors.ts';
import { isoNow } from './current.ts';
import { hashChecked } from './password.ts';
import type { ChangeContext, UserServiceDeps } from './ports.ts';
import type { NewUserRecord, UserRecord } from './records.ts';
import type { CreateUserInput, User } from './schemas.ts';
import { confirmAssignment, resolveVerifyType } from './verify-type.ts';
import { viewUser } from './views.ts';

/**
 * Creates a user: its id, email and admin index rows first, then the user row (409 `username_taken`
 * when the name exists; the index rows are released again). Audited with the names of the fields given.
 */
export async function createUser(
  deps: UserServiceDeps,
  input: CreateUserInput,
  ctx: ChangeContext,
): Promise<User> {
  const { store } = deps;
  const verifyType = await resolveVerifyType(deps.integrations, input.verifyType);
  const passwordHash =
    input.password !== undefined ? await hashChecked(input.password, input.username) : null;
  if (await store.get(input.username)) {
    throw new ConflictError('A user with this username already exists.', 'username_taken');
  }
  const now = isoNow(deps.clock);
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
  await deps.audit.record({
    type: 'admin.user.created',
    actor: ctx.actor,
    target: `user:${saved.username}`,
    changedFields: Object.keys(input).sort(),
    correlationId: ctx.correlationId,
    clientAddress: ctx.clientAddress,
    securityRelevant: saved.roles.includes('admin'),
    details: { verifyType: verifyType.kind === 'password' ? 'password' : verifyType.integrationId },
  });
  return viewUser(deps.integrations, saved);
}
