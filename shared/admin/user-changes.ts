import type { ChangeContext } from '../audit/log.ts';
import type { Clock } from '../core/clock.ts';
import type { CreateUserInput, PatchUserInput, User } from '../users/schemas.ts';
import type { Caller } from './caller.ts';
import { requireRecentSignIn } from './fresh-sign-in.ts';

type UserChangeContext = ChangeContext & { actor: string };

/** The admin operations on users that the fresh-sign-in rule applies to. */
export interface UserOperations {
  getByUsername(username: string): Promise<{ roles: string[] } | undefined>;
  create(input: CreateUserInput, ctx: UserChangeContext): Promise<User>;
  update(
    username: string,
    patch: PatchUserInput,
    ifMatch: string | undefined,
    ctx: UserChangeContext,
  ): Promise<User>;
  delete(username: string, ifMatch: string | undefined, ctx: UserChangeContext): Promise<void>;
  setPassword(
    username: string,
    password: string,
    ifMatch: string | undefined,
    ctx: UserChangeContext,
  ): Promise<string>;
  removePassword(username: string, ifMatch: string | undefined, ctx: UserChangeContext): Promise<string>;
  removeBinding(username: string, ifMatch: string | undefined, ctx: UserChangeContext): Promise<string>;
}

/**
 * The users' changes as the management API makes them, with the fresh-sign-in rule (docs/security.md
 * AD5) in front: with a browser session, granting admin, any change to an admin account (enable,
 * verify type, email, binding, password, deletion) and setting anyone's password (taking over the
 * account) need a recent sign-in. API tokens are not affected. The target is read only for a
 * session, so token calls cost no extra read.
 */
export class AdminUserChanges {
  constructor(
    private readonly users: UserOperations,
    private readonly clock: Clock,
  ) {}

  async create(input: CreateUserInput, ctx: UserChangeContext, caller?: Caller): Promise<User> {
    if (input.roles?.includes('admin')) requireRecentSignIn(caller, this.clock);
    return this.users.create(input, ctx);
  }

  async update(
    username: string,
    patch: PatchUserInput,
    ifMatch: string | undefined,
    ctx: UserChangeContext,
    caller?: Caller,
  ): Promise<User> {
    await this.freshForAdminChange(caller, username, patch.roles?.includes('admin') === true);
    return this.users.update(username, patch, ifMatch, ctx);
  }

  async delete(username: string, ifMatch: string | undefined, ctx: UserChangeContext, caller?: Caller) {
    await this.freshForAdminChange(caller, username);
    await this.users.delete(username, ifMatch, ctx);
  }

  async setPassword(
    username: string,
    password: string,
    ifMatch: string | undefined,
    ctx: UserChangeContext,
    caller?: Caller,
  ): Promise<string> {
    requireRecentSignIn(caller, this.clock);
    return this.users.setPassword(username, password, ifMatch, ctx);
  }

  async removePassword(
    username: string,
    ifMatch: string | undefined,
    ctx: UserChangeContext,
    caller?: Caller,
  ) {
    await this.freshForAdminChange(caller, username);
    return this.users.removePassword(username, ifMatch, ctx);
  }

  async removeBinding(
    username: string,
    ifMatch: string | undefined,
    ctx: UserChangeContext,
    caller?: Caller,
  ) {
    await this.freshForAdminChange(caller, username);
    return this.users.removeBinding(username, ifMatch, ctx);
  }

  private async freshForAdminChange(caller: Caller | undefined, username: string, grantsAdmin = false) {
    if (caller?.kind !== 'session') return;
    const target = grantsAdmin ? undefined : await this.users.getByUsername(username);
    if (grantsAdmin || target?.roles.includes('admin')) requireRecentSignIn(caller, this.clock);
  }
}
