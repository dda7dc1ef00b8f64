import type { Caller } from '../admin/caller.ts';
import { bind, removeBinding } from './binding.ts';
import { createUser } from './create.ts';
import { requireRecord } from './current.ts';
import { deleteUser } from './delete.ts';
import { listUsers } from './listing.ts';
import { findByBinding, findByEmail, getById, getByUsername } from './lookups.ts';
import { removePassword, setPassword, setPasswordHash } from './password.ts';
import type { ChangeContext, UserServiceDeps } from './ports.ts';
import type { UserRecord } from './records.ts';
import { renameUser } from './rename.ts';
import { type UserOperationDeps, userResource } from './resource.ts';
import type { CreateUserInput, PatchUserInput, User } from './schemas.ts';
import { recordLogin, revokeSessions } from './sessions.ts';
import type { UserStore } from './store.ts';
import { updateUser } from './update.ts';
import { viewUser } from './views.ts';

/**
 * Users: the admin operations behind /api/manage/users and the point reads and writes the sign-in
 * flow uses, one module per operation (lookups, create, update, delete, password, binding,
 * sessions). Every write is conditional on the etag it read; every admin change is audited with the
 * names of the fields that changed (never a password or hash). Disabling or deleting a user,
 * changing their verify type, changing or removing their password and changing or forgetting their
 * Entra binding revoke all their sessions (docs/security.md SC4, AM5). The admin changes take the
 * versioned-resource skeleton's order (read, fresh sign-in, If-Match, write, audit, view); with a
 * browser session as `caller`, granting admin, any change to an admin account and setting anyone's
 * password need a recent sign-in (docs/security.md AD5). API tokens and callers without a request
 * (provisioning, scripts) are not asked.
 */
export class UserService {
  readonly store: UserStore;
  /** The admin operations' dependencies: these and the versioned-resource skeleton of users. */
  private readonly ops: UserOperationDeps;

  constructor(private readonly deps: UserServiceDeps) {
    this.store = deps.store;
    this.ops = { ...deps, resource: userResource(deps) };
  }

  // ---- sign-in path (point reads, bookkeeping)

  getByUsername(username: string): Promise<UserRecord | undefined> {
    return getByUsername(this.store, username);
  }

  getById(id: string): Promise<UserRecord | undefined> {
    return getById(this.store, id);
  }

  findByBinding(tenantId: string, objectId: string): Promise<UserRecord | undefined> {
    return findByBinding(this.store, tenantId, objectId);
  }

  findByEmail(email: string): Promise<string | undefined> {
    return findByEmail(this.store, email);
  }

  bind(
    username: string,
    identity: { tenantId: string; objectId: string },
    etag: string,
    ctx?: Partial<ChangeContext>,
  ): Promise<UserRecord> {
    return bind(this.deps, username, identity, etag, ctx);
  }

  recordLogin(username: string): Promise<void> {
    return recordLogin(this.deps, username);
  }

  setPasswordHash(username: string, phc: string, etag?: string): Promise<boolean> {
    return setPasswordHash(this.store, username, phc, etag);
  }

  countUsersAssignedTo(integrationId: string): Promise<number> {
    return this.store.countUsersAssignedTo(integrationId);
  }

  // ---- admin operations

  requireRecord(username: string): Promise<UserRecord> {
    return requireRecord(this.store, username);
  }

  view(r: UserRecord): Promise<User> {
    return viewUser(this.deps.integrations, r);
  }

  list(opts: { limit?: number; cursor?: string; verifyType?: string; prefix?: string }) {
    return listUsers(this.deps, opts);
  }

  create(input: CreateUserInput, ctx: ChangeContext, caller?: Caller): Promise<User> {
    return createUser(this.ops, input, ctx, caller);
  }

  update(
    username: string,
    patch: PatchUserInput,
    ifMatch: string | undefined,
    ctx: ChangeContext,
    caller?: Caller,
  ): Promise<User> {
    return updateUser(this.ops, username, patch, ifMatch, ctx, caller);
  }

  delete(username: string, ifMatch: string | undefined, ctx: ChangeContext, caller?: Caller): Promise<void> {
    return deleteUser(this.ops, username, ifMatch, ctx, caller);
  }

  setPassword(
    username: string,
    password: string,
    ifMatch: string | undefined,
    ctx: ChangeContext,
    caller?: Caller,
  ): Promise<string> {
    return setPassword(this.ops, username, password, ifMatch, ctx, caller);
  }

  removePassword(username: string, ifMatch: string | undefined, ctx: ChangeContext, caller?: Caller) {
    return removePassword(this.ops, username, ifMatch, ctx, caller);
  }

  removeBinding(username: string, ifMatch: string | undefined, ctx: ChangeContext, caller?: Caller) {
    return removeBinding(this.ops, username, ifMatch, ctx, caller);
  }

  rename(from: string, to: string, ctx: ChangeContext): Promise<UserRecord> {
    return renameUser(this.deps, from, to, ctx);
  }

  revokeSessions(username: string, ctx: ChangeContext): Promise<number> {
    return revokeSessions(this.ops, username, ctx);
  }
}
