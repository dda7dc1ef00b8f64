import { randomUUID } from 'node:crypto';
import type { TableClient, TransactionAction } from '@azure/data-tables';
import { ConflictError, NotFoundError, PreconditionFailedError } from '../core/errors.ts';
import {
  deleteEntityIfExists,
  deleteIfOwned,
  getEntityOrUndefined,
  isConflict,
  isNotFound,
  isPreconditionFailed,
  odataString,
} from '../storage/tables.ts';
import {
  BINDINGS_MIGRATED_ROW,
  bindingPartition,
  idPartition,
  LEGACY_BINDINGS_FILTER,
  LEGACY_ID_PARTITION,
  LEGACY_USER_PARTITION,
  LegacyMigration,
  MIGRATED_ROW,
  type MigrationResult,
  PartitionMerge,
  type Row,
  USER_PARTITIONS,
  userPartition,
} from './partitions.ts';
import { USERNAME_PATTERN } from './schemas.ts';

export {
  bindingPartition,
  idPartition,
  MIGRATION_CHECK_MS,
  type MigrationResult,
  userPartition,
} from './partitions.ts';

/**
 * Users in Table Storage. The Users table holds these kinds of rows:
 * - `u<h>`/<username>: the user, in one of 16 partitions by a hash of the username (`userPartition`;
 *   every sign-in read is this point read);
 * - `email`/<encoded lower-case email> → username: the email index, so `findByEmail` is a point read
 *   and an email belongs to one user at most;
 * - `admin`/<username>: the admin index, so the lock-out guard reads the few admins, not every user;
 * - `id-<h>`/<user id> → username: the id index (`idPartition`: 16 partitions by the id's first hex
 *   digit), so `getById` (the OP's `sub`) is a point read. Ids are
 *   random UUIDs made once per user and never changed; a row written before ids existed gets one the
 *   first time it is read (an etag-conditional merge: two readers at once agree on one id).
 * Index rows are written before the user row and removed after it; a reader always re-checks the
 * user row, so an index row left behind by a crash is ignored and later taken over.
 * - `meta`/`users-migrated`: written once the legacy `user` and `id` partitions are empty (see below).
 *
 * Migration from the single `user` and `id` partitions (rows written before issue 12), no manual step:
 * a point read that misses the new partition reads the legacy one and, on a hit, moves the row
 * (`moveRow`: create at the new place, then delete the old row conditional on its etag) and returns it
 * with the NEW etag; every writer acts on a record obtained through `get`, so it writes the new place,
 * and a write whose record went stale meanwhile answers 412 as any other lost race. The maintenance timer
 * moves the rest in batches (`migrateLegacy`) and then writes the marker; an instance that has seen the
 * marker (read at most every `MIGRATION_CHECK_MS`; when absent, the instance writes it itself if the
 * legacy partitions are empty, so a new deployment has it on its first miss) skips the legacy read. Cost until then: a hit is one
 * read; a miss reads the new partition, the legacy one, and the new one again (a row moved between the
 * first two reads is found by the third, never reported missing). After the marker a miss is one read.
 * UserBindings: PartitionKey = `bindingPartition(tid, oid)` (`~<h>-<tid>`, 16 partitions per tenant),
 * RowKey = object id → username (one user per identity). Rows written before (PartitionKey = the tenant
 * id) move the same way (`LegacyMigration`, marker `meta`/`bindings-migrated` in Users): a lookup that
 * misses reads the legacy row and moves it; a claim moves the legacy row first (`settle`) so its create
 * meets it; a release deletes a legacy copy too; the timer moves the rest (all legacy rows are one key
 * range: `LEGACY_BINDINGS_FILTER`).
 */

/** The legacy partition of every user row (before issue 12); read only until migrated. */
export const USER_PARTITION = LEGACY_USER_PARTITION;
export const EMAIL_PARTITION = 'email';
export const ADMIN_PARTITION = 'admin';
/** The lock-out guard's lease row (see `acquireLockoutLease`). */
export const GUARD_PARTITION = 'guard';
const LOCKOUT_LEASE = 'lockout';
const LEASE_MS = 15_000;
const LEASE_WAIT_MS = 10_000;
/** The legacy partition of every id index row (before issue 12); read only until migrated. */
export const ID_PARTITION = LEGACY_ID_PARTITION;
export const USER_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A role name (`ROLE_NAME_PATTERN` in schemas.ts); `admin` is the broker's own. */
export type Role = string;
export type VerifyType = { kind: 'password' } | { kind: 'integration'; integrationId: string };

export interface EntraBinding {
  tenantId: string;
  objectId: string;
  boundAt: string;
}

/** The internal user record (holds the password hash: never send it anywhere). */
export interface UserRecord {
  /** Immutable random id (the OP's `sub`); never reused. */
  id: string;
  username: string;
  displayName: string;
  email: string | null;
  verifyType: VerifyType;
  passwordHash: string | null;
  roles: Role[];
  disabled: boolean;
  entraBinding: EntraBinding | null;
  lastLoginAt: string | null;
  /** Set whenever all the user's sessions are ended; tokens issued before it are dead (OP6). */
  sessionsRevokedAt: string | null;
  createdAt: string;
  updatedAt: string;
  etag: string;
}

export type NewUserRecord = Omit<UserRecord, 'etag'>;

interface UserEntity {
  /** The immutable id; missing on rows written before ids existed (filled in on first read). */
  userId?: string;
  displayName: string;
  email: string;
  /** `password` or the integration id: the column `?verifyType=` filters on. */
  verifyType: string;
  passwordHash: string;
  isAdmin: boolean;
  /** JSON list of role names; rows written before role names only have `isAdmin`. */
  roles?: string;
  disabled: boolean;
  bindingTenantId: string;
  bindingObjectId: string;
  boundAt: string;
  lastLoginAt: string;
  sessionsRevokedAt?: string;
  createdAt: string;
  updatedAt: string;
}

interface BindingEntity {
  username: string;
  boundAt: string;
}

export const emailKey = (email: string) => encodeURIComponent(email.trim().toLowerCase());

export function toUserEntity(r: NewUserRecord): UserEntity & { partitionKey: string; rowKey: string } {
  return {
    partitionKey: userPartition(r.username),
    rowKey: r.username,
    userId: r.id,
    displayName: r.displayName,
    email: r.email ?? '',
    verifyType: r.verifyType.kind === 'password' ? 'password' : r.verifyType.integrationId,
    passwordHash: r.passwordHash ?? '',
    isAdmin: r.roles.includes('admin'),
    roles: JSON.stringify(r.roles),
    disabled: r.disabled,
    bindingTenantId: r.entraBinding?.tenantId ?? '',
    bindingObjectId: r.entraBinding?.objectId ?? '',
    boundAt: r.entraBinding?.boundAt ?? '',
    lastLoginAt: r.lastLoginAt ?? '',
    sessionsRevokedAt: r.sessionsRevokedAt ?? '',
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  };
}

function rolesOf(e: UserEntity): Role[] {
  let roles: Role[] = [];
  if (e.roles) {
    try {
      const v = JSON.parse(e.roles) as unknown;
      if (Array.isArray(v)) roles = v.filter((x): x is string => typeof x === 'string');
    } catch {
      roles = [];
    }
  }
  // `isAdmin` is what the admin index and older rows go by: it decides the admin role either way.
  if (!e.isAdmin) return roles.filter((r) => r !== 'admin');
  return roles.includes('admin') ? roles : ['admin', ...roles];
}

function fromUserEntity(e: UserEntity & { rowKey?: string; etag?: string }): UserRecord {
  return {
    id: e.userId ?? '',
    username: e.rowKey as string,
    displayName: e.displayName ?? '',
    email: e.email || null,
    verifyType:
      e.verifyType === 'password' || !e.verifyType
        ? { kind: 'password' }
        : { kind: 'integration', integrationId: e.verifyType },
    passwordHash: e.passwordHash || null,
    roles: rolesOf(e),
    disabled: e.disabled === true,
    entraBinding:
      e.bindingTenantId && e.bindingObjectId
        ? { tenantId: e.bindingTenantId, objectId: e.bindingObjectId, boundAt: e.boundAt }
        : null,
    lastLoginAt: e.lastLoginAt || null,
    sessionsRevokedAt: e.sessionsRevokedAt || null,
    createdAt: e.createdAt,
    updatedAt: e.updatedAt,
    etag: e.etag ?? '',
  };
}

function translate(err: unknown, what: string): never {
  if (isPreconditionFailed(err)) throw new PreconditionFailedError();
  if (isNotFound(err)) throw new NotFoundError(`No such ${what}.`);
  throw err;
}

export interface UserPage {
  items: UserRecord[];
  /** The last username of this page when more may follow. */
  after: string | null;
}

export class UserStore {
  /** The move out of the legacy `user` and `id` partitions (see the top of this file). */
  private readonly userMigration: LegacyMigration;
  /** The move of UserBindings rows out of their legacy per-tenant partitions. */
  private readonly bindingMigration: LegacyMigration;

  constructor(
    readonly users: TableClient,
    readonly bindings: TableClient,
    now: () => number = Date.now,
  ) {
    this.userMigration = new LegacyMigration(
      users,
      users,
      MIGRATED_ROW,
      [
        { filter: `PartitionKey eq ${odataString(USER_PARTITION)}`, target: (r) => userPartition(r.rowKey) },
        { filter: `PartitionKey eq ${odataString(ID_PARTITION)}`, target: (r) => idPartition(r.rowKey) },
      ],
      now,
    );
    this.bindingMigration = new LegacyMigration(
      bindings,
      users,
      BINDINGS_MIGRATED_ROW,
      [{ filter: LEGACY_BINDINGS_FILTER, target: (r) => bindingPartition(r.partitionKey, r.rowKey) }],
      now,
    );
  }

  // ---- migration from the legacy partitions ----

  /** Whether the legacy `user` and `id` partitions may still hold rows (cached per instance). */
  private legacyMayExist(): Promise<boolean> {
    return this.userMigration.mayExist();
  }

  /** Whether this instance knows the Users migration is complete (test and diagnostics). */
  get knowsMigrated(): boolean {
    return this.userMigration.known;
  }

  /** Whether this instance knows the UserBindings migration is complete (test and diagnostics). */
  get knowsBindingsMigrated(): boolean {
    return this.bindingMigration.known;
  }

  private readMoving<T extends object>(
    pk: string,
    legacyPk: string,
    rk: string,
  ): Promise<Row<T> | undefined> {
    return this.userMigration.read<T>(pk, legacyPk, rk);
  }

  /**
   * The maintenance timer's part for Users: moves up to `max` legacy rows (user rows, then id index
   * rows) and, once both legacy partitions are empty, writes the marker (`LegacyMigration.run`).
   */
  migrateLegacy(max = 2000): Promise<MigrationResult> {
    return this.userMigration.run(max);
  }

  /** The same for UserBindings: up to `max` legacy rows, then the `meta`/`bindings-migrated` marker. */
  migrateLegacyBindings(max = 2000): Promise<MigrationResult> {
    return this.bindingMigration.run(max);
  }

  // ---- user rows ----

  async get(username: string): Promise<UserRecord | undefined> {
    if (!USERNAME_PATTERN.test(username)) return undefined;
    const e = await this.readMoving<UserEntity>(userPartition(username), USER_PARTITION, username);
    if (!e) return undefined;
    const record = fromUserEntity(e);
    return record.id ? record : this.assignId(record);
  }

  /** The user whose immutable id this is: the id index row, then the user row (re-checked). */
  async getById(id: string): Promise<UserRecord | undefined> {
    if (!USER_ID_PATTERN.test(id)) return undefined;
    const index = await this.readMoving<{ username: string }>(idPartition(id), ID_PARTITION, id);
    if (!index) return undefined;
    const user = await this.get(index.username);
    return user?.id === id ? user : undefined;
  }

  /** Inserts the id index row for a new id; false when the id is taken (never in practice: UUIDs). */
  async claimId(id: string, username: string): Promise<boolean> {
    try {
      await this.users.createEntity({ partitionKey: idPartition(id), rowKey: id, username });
      return true;
    } catch (err) {
      if (isConflict(err)) return false;
      throw err;
    }
  }

  /** A fresh id with its index row. */
  async newId(username: string): Promise<string> {
    for (;;) {
      const id = randomUUID();
      if (await this.claimId(id, username)) return id;
    }
  }

  async releaseId(id: string, username: string): Promise<void> {
    if (!id) return;
    const owned = (r: { username: string }) => r.username === username;
    // The legacy index row first: left there, the next read or the timer would move it back (harmless,
    // readers re-check the user row, but it would never be cleaned up).
    if (await this.legacyMayExist()) await deleteIfOwned(this.users, ID_PARTITION, id, owned);
    await deleteIfOwned<{ username: string }>(this.users, idPartition(id), id, owned);
  }

  /**
   * Migration without a manual step: a row written before ids existed gets one on first read. The
   * index row first, then a merge conditional on the etag read; when another writer changed the row
   * meanwhile, the row is read again (and that writer's id, if it set one, wins; ours is released).
   */
  private async assignId(record: UserRecord, attempt = 0): Promise<UserRecord> {
    const id = await this.newId(record.username);
    try {
      const etag = await this.merge(record.username, { userId: id }, record.etag);
      return { ...record, id, etag };
    } catch (err) {
      await this.releaseId(id, record.username);
      if (!(err instanceof PreconditionFailedError) || attempt >= 3) {
        if (err instanceof NotFoundError) return { ...record, id: '' };
        throw err;
      }
    }
    const again = await getEntityOrUndefined<UserEntity>(
      this.users,
      userPartition(record.username),
      record.username,
    );
    if (!again) return { ...record, id: '' };
    const fresh = fromUserEntity(again);
    return fresh.id ? fresh : this.assignId(fresh, attempt + 1);
  }

  /**
   * Inserts a new user row; 409 when the username is taken. Callers read the username first (`get`,
   * which also looks at and moves a legacy row), so a legacy row of the same name is never shadowed.
   */
  async insert(r: NewUserRecord): Promise<UserRecord> {
    try {
      const res = await this.users.createEntity(toUserEntity(r));
      return { ...r, etag: res.etag ?? '' };
    } catch (err) {
      if (isConflict(err))
        throw new ConflictError('A user with this username already exists.', 'username_taken');
      throw err;
    }
  }

  /**
   * Seeding and migration only: inserts users with their id index rows (records must carry fresh
   * random ids) but no email or admin index rows. A transaction is one partition: rows are grouped by
   * partition, up to 100 per transaction, the id index rows first.
   */
  async insertBatch(records: NewUserRecord[]): Promise<void> {
    if (records.some((r) => r.email || r.roles.length > 0)) {
      throw new Error('insertBatch takes users without email or roles only');
    }
    const submit = async (rows: (Record<string, unknown> & { partitionKey: string; rowKey: string })[]) => {
      const byPartition = new Map<string, TransactionAction[]>();
      for (const row of rows) {
        const list = byPartition.get(row.partitionKey) ?? [];
        list.push(['create', row]);
        byPartition.set(row.partitionKey, list);
      }
      await Promise.all(
        [...byPartition.values()].map(async (actions) => {
          for (let i = 0; i < actions.length; i += 100) {
            await this.users.submitTransaction(actions.slice(i, i + 100));
          }
        }),
      );
    };
    await submit(
      records.map((r) => ({ partitionKey: idPartition(r.id), rowKey: r.id, username: r.username })),
    );
    await submit(records.map((r) => ({ ...toUserEntity(r) })));
  }

  /** Replaces the user row if it still has `etag`; 412 otherwise. */
  async replace(r: NewUserRecord, etag: string): Promise<UserRecord> {
    try {
      const res = await this.users.updateEntity(toUserEntity(r), 'Replace', { etag });
      return { ...r, etag: res.etag ?? '' };
    } catch (err) {
      translate(err, 'user');
    }
  }

  /** Merges a few columns (sign-in bookkeeping); conditional when `etag` is given. */
  async merge(username: string, fields: Partial<UserEntity>, etag?: string): Promise<string> {
    try {
      const res = await this.users.updateEntity(
        { partitionKey: userPartition(username), rowKey: username, ...fields },
        'Merge',
        etag ? { etag } : {},
      );
      return res.etag ?? '';
    } catch (err) {
      translate(err, 'user');
    }
  }

  async remove(username: string, etag: string): Promise<void> {
    // A copy still in the legacy partition (a move whose legacy delete never finished, or is still in
    // flight) goes first: left there, the next read or the timer would move the deleted user back. The
    // record being removed was read through `get`, so its row is the new one; a legacy row is a copy.
    if (await this.legacyMayExist()) await deleteEntityIfExists(this.users, USER_PARTITION, username);
    try {
      await this.users.deleteEntity(userPartition(username), username, { etag });
    } catch (err) {
      translate(err, 'user');
    }
  }

  /**
   * The partitions a listing reads: the 16 user partitions, and the legacy one until this instance has
   * seen the marker (no marker read here: the legacy query runs in the same parallel round instead).
   */
  private listPartitions(): string[] {
    return this.userMigration.known ? [...USER_PARTITIONS] : [USER_PARTITION, ...USER_PARTITIONS];
  }

  /**
   * One page of users in username order, after `after`. The user partitions are queried in parallel
   * and merged in username order (`PartitionMerge`); each is read a server page at a time, only as far
   * as the page needs (never the whole table). Legacy rows on the page are moved (`get`).
   */
  async list(opts: {
    limit: number;
    after?: string;
    verifyType?: string;
    prefix?: string;
  }): Promise<UserPage> {
    const clauses: string[] = [];
    if (opts.after) clauses.push(`RowKey gt ${odataString(opts.after)}`);
    if (opts.prefix) {
      // A key range: usernames sort as strings, so "ab" <= name < "ac" is every name starting with "ab".
      const last = opts.prefix.charCodeAt(opts.prefix.length - 1);
      const upper = opts.prefix.slice(0, -1) + String.fromCharCode(last + 1);
      clauses.push(`RowKey ge ${odataString(opts.prefix)}`, `RowKey lt ${odataString(upper)}`);
    }
    if (opts.verifyType) clauses.push(`verifyType eq ${odataString(opts.verifyType)}`);
    const partitions = this.listPartitions();
    // About limit/16 rows per partition; 1.5 times that plus 4 makes a second server page rare (<1 %).
    const pageSize = Math.min(
      opts.limit + 1,
      Math.ceil((1.5 * (opts.limit + 1)) / USER_PARTITIONS.length) + 4,
    );
    const merge = new PartitionMerge<UserEntity>(
      this.users,
      partitions,
      (pk) => [`PartitionKey eq ${odataString(pk)}`, ...clauses].join(' and '),
      // The legacy partition may hold every row: one server page of it covers the whole page.
      (pk) => (pk === USER_PARTITION ? opts.limit + 1 : pageSize),
    );
    // Until migrated, the legacy page is read before the new partitions (a row moving meanwhile is
    // then never missed): one more round trip while old rows remain.
    if (partitions[0] === USER_PARTITION) await merge.prime(0);
    const rows: (UserEntity & { partitionKey: string; rowKey: string; etag: string })[] = [];
    while (rows.length <= opts.limit) {
      const row = await merge.next();
      if (!row) break;
      rows.push(row as (typeof rows)[number]);
    }
    const more = rows.length > opts.limit;
    const page = rows.slice(0, opts.limit);
    const items = await Promise.all(
      page.map((e) => {
        if (e.partitionKey === USER_PARTITION) return this.get(e.rowKey);
        const r = fromUserEntity(e);
        return r.id ? r : this.assignId(r);
      }),
    );
    return {
      items: items.filter((r): r is UserRecord => r !== undefined),
      after: more ? (page.at(-1)?.rowKey ?? null) : null,
    };
  }

  /** How many users have this integration as their verify type (server-side filter, keys only). */
  async countUsersAssignedTo(integrationId: string): Promise<number> {
    const names = new Set<string>();
    const count = async (pk: string) => {
      const filter = `PartitionKey eq ${odataString(pk)} and verifyType eq ${odataString(integrationId)}`;
      for await (const page of this.users
        .listEntities({ queryOptions: { filter, select: ['RowKey'] } })
        .byPage({ maxPageSize: 1000 })) {
        for (const e of page) names.add(e.rowKey as string);
      }
    };
    // The legacy partition before the new ones: rows only ever move from it to them, so a row moved
    // while this counts is seen in one place or both (counted once), never in neither. An integration
    // delete relies on a user not being missed here.
    if (!this.userMigration.known) await count(USER_PARTITION);
    await Promise.all(USER_PARTITIONS.map(count));
    return names.size;
  }

  // ---- email index ----

  async emailOwner(email: string): Promise<string | undefined> {
    const e = await getEntityOrUndefined<{ username: string }>(this.users, EMAIL_PARTITION, emailKey(email));
    return e?.username;
  }

  /**
   * Points `email` at `username`. 409 when another user really has that email; an index row whose
   * user no longer has the email (left by a crash) is taken over.
   */
  async claimEmail(email: string, username: string): Promise<void> {
    const key = emailKey(email);
    try {
      await this.users.createEntity({ partitionKey: EMAIL_PARTITION, rowKey: key, username });
      return;
    } catch (err) {
      if (!isConflict(err)) throw err;
    }
    const row = await getEntityOrUndefined<{ username: string }>(this.users, EMAIL_PARTITION, key);
    if (!row) return this.claimEmail(email, username);
    if (row.username === username) return;
    const owner = await this.get(row.username);
    if (owner?.email && emailKey(owner.email) === key) {
      throw new ConflictError('Another user already has this email address.', 'email_taken');
    }
    try {
      await this.users.updateEntity({ partitionKey: EMAIL_PARTITION, rowKey: key, username }, 'Replace', {
        etag: row.etag,
      });
    } catch (err) {
      if (isPreconditionFailed(err) || isNotFound(err)) {
        throw new ConflictError('Another user already has this email address.', 'email_taken');
      }
      throw err;
    }
  }

  /** Removes the index row if it still points at `username`. */
  async releaseEmail(email: string, username: string): Promise<void> {
    await deleteIfOwned<{ username: string }>(
      this.users,
      EMAIL_PARTITION,
      emailKey(email),
      (r) => r.username === username,
    );
  }

  // ---- lock-out guard lease ----

  /**
   * Takes the lock-out guard's lease (one row, `guard`/`lockout`, written with ETags): every change
   * that could take away the last admin who can sign in runs its check and its writes while holding
   * it, so two such changes are serialised across instances. A lease left by a crashed instance
   * expires after `LEASE_MS`. Waits up to `WAIT_MS`, then 409 `change_in_progress`. Returns the
   * release function (best effort: the lease expires anyway).
   */
  async acquireLockoutLease(): Promise<() => Promise<void>> {
    const holder = randomUUID();
    const deadline = Date.now() + LEASE_WAIT_MS;
    for (;;) {
      const now = Date.now();
      const row = await getEntityOrUndefined<{ holder: string; until: number }>(
        this.users,
        GUARD_PARTITION,
        LOCKOUT_LEASE,
      );
      const lease = { partitionKey: GUARD_PARTITION, rowKey: LOCKOUT_LEASE, holder, until: now + LEASE_MS };
      try {
        if (!row) {
          const created = await this.users.createEntity(lease);
          return this.releaser(created.etag);
        }
        if (row.until < now) {
          const updated = await this.users.updateEntity(lease, 'Replace', { etag: row.etag });
          return this.releaser(updated.etag);
        }
      } catch (err) {
        if (!isConflict(err) && !isPreconditionFailed(err) && !isNotFound(err)) throw err;
      }
      if (Date.now() > deadline) {
        throw new ConflictError(
          'Another change to an admin is in progress; try again in a moment.',
          'change_in_progress',
        );
      }
      await new Promise((r) => setTimeout(r, 25 + Math.random() * 75));
    }
  }

  private releaser(etag: string | undefined): () => Promise<void> {
    return async () => {
      try {
        await this.users.deleteEntity(GUARD_PARTITION, LOCKOUT_LEASE, etag ? { etag } : {});
      } catch (err) {
        // Someone took an expired lease over, or it is gone: nothing to release.
        if (!isNotFound(err) && !isPreconditionFailed(err)) throw err;
      }
    };
  }

  // ---- admin index ----

  async addAdmin(username: string): Promise<void> {
    await this.users.upsertEntity({ partitionKey: ADMIN_PARTITION, rowKey: username }, 'Replace');
  }

  async removeAdmin(username: string): Promise<void> {
    await deleteEntityIfExists(this.users, ADMIN_PARTITION, username);
  }

  /** Usernames in the admin index (a small partition); callers re-check each user row. */
  async adminUsernames(): Promise<string[]> {
    const out: string[] = [];
    const filter = `PartitionKey eq ${odataString(ADMIN_PARTITION)}`;
    for await (const e of this.users.listEntities({ queryOptions: { filter, select: ['RowKey'] } })) {
      out.push(e.rowKey as string);
    }
    return out;
  }

  // ---- Entra bindings ----

  /** The username bound to (tid, oid): one point read (until migrated, a miss also reads the legacy row). */
  async bindingOwner(tenantId: string, objectId: string): Promise<string | undefined> {
    const e = await this.bindingMigration.read<BindingEntity>(
      bindingPartition(tenantId, objectId),
      tenantId,
      objectId,
    );
    return e?.username;
  }

  /**
   * Inserts the binding row (tid, oid) → username, so two users can never hold the same identity.
   * 409 when another user holds it; a row left behind (its user no longer bound to it) is taken over.
   * Returns false when the row already pointed at `username`. Until migrated, a legacy row of the same
   * identity is moved first, so the insert meets it rather than making a second binding beside it.
   */
  async claimBinding(
    tenantId: string,
    objectId: string,
    username: string,
    boundAt: string,
  ): Promise<boolean> {
    const pk = bindingPartition(tenantId, objectId);
    await this.bindingMigration.settle(pk, tenantId, objectId);
    return this.claimBindingAt(pk, tenantId, objectId, username, boundAt);
  }

  private async claimBindingAt(
    pk: string,
    tenantId: string,
    objectId: string,
    username: string,
    boundAt: string,
  ): Promise<boolean> {
    try {
      await this.bindings.createEntity({ partitionKey: pk, rowKey: objectId, username, boundAt });
      return true;
    } catch (err) {
      if (!isConflict(err)) throw err;
    }
    const row = await getEntityOrUndefined<BindingEntity>(this.bindings, pk, objectId);
    if (!row) return this.claimBindingAt(pk, tenantId, objectId, username, boundAt);
    if (row.username === username) return false;
    const owner = await this.get(row.username);
    const taken = () =>
      new ConflictError('This Entra identity is already bound to another user.', 'binding_taken');
    if (owner?.entraBinding?.tenantId === tenantId && owner.entraBinding.objectId === objectId) throw taken();
    try {
      await this.bindings.updateEntity({ partitionKey: pk, rowKey: objectId, username, boundAt }, 'Replace', {
        etag: row.etag,
      });
      return true;
    } catch (err) {
      if (isPreconditionFailed(err) || isNotFound(err)) throw taken();
      throw err;
    }
  }

  /**
   * Removes the binding row if it still points at `username`; until migrated, a legacy copy first (left
   * there, the next lookup or the timer would move the removed binding back).
   */
  async releaseBinding(tenantId: string, objectId: string, username: string): Promise<void> {
    const owned = (r: BindingEntity) => r.username === username;
    if (await this.bindingMigration.mayExist()) await deleteIfOwned(this.bindings, tenantId, objectId, owned);
    await deleteIfOwned<BindingEntity>(this.bindings, bindingPartition(tenantId, objectId), objectId, owned);
  }
}
