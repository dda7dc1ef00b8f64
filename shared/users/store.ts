import type { TableClient } from '@azure/data-tables';
import { AdminIndex } from './admin-index.ts';
import { BindingIndex } from './binding-index.ts';
import { EmailIndex } from './email-index.ts';
import { IdIndex } from './id-index.ts';
import { acquireLockoutLease } from './lease.ts';
import type { NewUserRecord, UserEntity, UserRecord } from './records.ts';
import { type UserPage, UserRows } from './user-rows.ts';

export { bindingPartition, idPartition, userPartition } from './partitions.ts';
export type { EntraBinding, NewUserRecord, Role, UserRecord, VerifyType } from './records.ts';

/**
 * The users' storage as one object: the user rows (user-rows.ts) and their indexes, by id
 * (id-index.ts), by email (email-index.ts), by admin role (admin-index.ts) and by Entra identity
 * (binding-index.ts, the UserBindings table), and the lock-out guard's lease (lease.ts). Index rows
 * are written before the user row and removed after it; a reader always re-checks the user row, so an
 * index row left behind by a crash is ignored and later taken over.
 *
 * Made before the services that use it: the integration service counts the users assigned to an
 * integration here, and the lock-out guard of settings changes reads the admins here.
 */
export class UserStore {
  private readonly rows: UserRows;
  private readonly ids: IdIndex;
  private readonly emails: EmailIndex;
  private readonly admins: AdminIndex;
  private readonly bindings: BindingIndex;

  constructor(
    private readonly users: TableClient,
    bindings: TableClient,
  ) {
    const owner = { get: (username: string) => this.get(username) };
    this.rows = new UserRows(users);
    this.ids = new IdIndex(users);
    this.emails = new EmailIndex(users, owner);
    this.admins = new AdminIndex(users);
    this.bindings = new BindingIndex(bindings, owner);
  }

  // ---- user rows ----

  get(username: string): Promise<UserRecord | undefined> {
    return this.rows.get(username);
  }

  insert(r: NewUserRecord): Promise<UserRecord> {
    return this.rows.insert(r);
  }

  insertBatch(records: NewUserRecord[]): Promise<void> {
    return this.rows.insertBatch(records);
  }

  replace(r: NewUserRecord, etag: string): Promise<UserRecord> {
    return this.rows.replace(r, etag);
  }

  merge(username: string, fields: Partial<UserEntity>, etag?: string): Promise<string> {
    return this.rows.merge(username, fields, etag);
  }

  remove(username: string, etag: string): Promise<void> {
    return this.rows.remove(username, etag);
  }

  list(opts: { limit: number; after?: string; verifyType?: string; prefix?: string }): Promise<UserPage> {
    return this.rows.list(opts);
  }

  /** The integration service's assignment counter: its delete answers 409 while this is > 0. */
  countUsersAssignedTo(integrationId: string): Promise<number> {
    return this.rows.countAssignedTo(integrationId);
  }

  // ---- id index ----

  /** The user whose immutable id this is: the id index row, then the user row (re-checked). */
  async getById(id: string): Promise<UserRecord | undefined> {
    const username = await this.ids.owner(id);
    if (!username) return undefined;
    const user = await this.get(username);
    return user?.id === id ? user : undefined;
  }

  newId(username: string): Promise<string> {
    return this.ids.newId(username);
  }

  /** A rename: the id index row names `to` from now on (`from` is for the reader of the diff). */
  moveId(id: string, _from: string, to: string): Promise<void> {
    return this.ids.move(id, to);
  }

  releaseId(id: string, username: string): Promise<void> {
    return this.ids.release(id, username);
  }

  // ---- email index ----

  emailOwner(email: string): Promise<string | undefined> {
    return this.emails.owner(email);
  }

  claimEmail(email: string, username: string): Promise<void> {
    return this.emails.claim(email, username);
  }

  releaseEmail(email: string, username: string): Promise<void> {
    return this.emails.release(email, username);
  }

  // ---- admin index ----

  addAdmin(username: string): Promise<void> {
    return this.admins.add(username);
  }

  removeAdmin(username: string): Promise<void> {
    return this.admins.remove(username);
  }

  adminUsernames(): Promise<string[]> {
    return this.admins.usernames();
  }

  // ---- Entra bindings ----

  bindingOwner(tenantId: string, objectId: string): Promise<string | undefined> {
    return this.bindings.owner(tenantId, objectId);
  }

  claimBinding(tenantId: string, objectId: string, username: string, boundAt: string): Promise<boolean> {
    return this.bindings.claim(tenantId, objectId, username, boundAt);
  }

  releaseBinding(tenantId: string, objectId: string, username: string): Promise<void> {
    return this.bindings.release(tenantId, objectId, username);
  }

  // ---- lock-out guard lease ----

  acquireLockoutLease(): Promise<() => Promise<void>> {
    return acquireLockoutLease(this.users);
  }
}
