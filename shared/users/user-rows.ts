import type { TableClient, TransactionAction } from '@azure/data-tables';
import { ConflictError, NotFoundError, PreconditionFailedError } from '../core/errors.ts';
import { PartitionMerge } from '../storage/partition-merge.ts';
import {
  getEntityOrUndefined,
  isConflict,
  isNotFound,
  isPreconditionFailed,
  odataString,
} from '../storage/tables.ts';
import { idPartition, USER_PARTITIONS, userPartition } from './partitions.ts';
import {
  fromUserEntity,
  type NewUserRecord,
  toUserEntity,
  type UserEntity,
  type UserRecord,
} from './records.ts';
import { USERNAME_PATTERN } from './schemas.ts';

export interface UserPage {
  items: UserRecord[];
  /** The last username of this page when more may follow. */
  after: string | null;
}

function translate(err: unknown, what: string): never {
  if (isPreconditionFailed(err)) throw new PreconditionFailedError();
  if (isNotFound(err)) throw new NotFoundError(`No such ${what}.`);
  throw err;
}

/**
 * The user rows themselves, in 16 hashed partitions (`userPartition`): every sign-in read is one point
 * read; every write is conditional on the etag read, except sign-in bookkeeping that only moves forward.
 */
export class UserRows {
  constructor(private readonly table: TableClient) {}

  async get(username: string): Promise<UserRecord | undefined> {
    if (!USERNAME_PATTERN.test(username)) return undefined;
    const e = await getEntityOrUndefined<UserEntity>(this.table, userPartition(username), username);
    return e ? fromUserEntity(e) : undefined;
  }

  /** Inserts a new user row; 409 when the username is taken. */
  async insert(r: NewUserRecord): Promise<UserRecord> {
    try {
      const res = await this.table.createEntity(toUserEntity(r));
      return { ...r, etag: res.etag ?? '' };
    } catch (err) {
      if (isConflict(err))
        throw new ConflictError('A user with this username already exists.', 'username_taken');
      throw err;
    }
  }

  /**
   * Seeding only: inserts users with their id index rows (records must carry fresh random ids) but no
   * email or admin index rows. A transaction is one partition: rows are grouped by partition, up to
   * 100 per transaction, the id index rows first.
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
            await this.table.submitTransaction(actions.slice(i, i + 100));
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
      const res = await this.table.updateEntity(toUserEntity(r), 'Replace', { etag });
      return { ...r, etag: res.etag ?? '' };
    } catch (err) {
      translate(err, 'user');
    }
  }

  /** Merges a few columns (sign-in bookkeeping); conditional when `etag` is given. */
  async merge(username: string, fields: Partial<UserEntity>, etag?: string): Promise<string> {
    try {
      const res = await this.table.updateEntity(
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
    try {
      await this.table.deleteEntity(userPartition(username), username, { etag });
    } catch (err) {
      translate(err, 'user');
    }
  }

  /**
   * One page of users in username order, after `after`. The 16 partitions are queried in parallel and
   * merged in username order (`PartitionMerge`); each is read a server page at a time, only as far as
   * the page needs (never the whole table).
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
    // About limit/16 rows per partition; 1.5 times that plus 4 makes a second server page rare (<1 %).
    const pageSize = Math.min(
      opts.limit + 1,
      Math.ceil((1.5 * (opts.limit + 1)) / USER_PARTITIONS.length) + 4,
    );
    const merge = new PartitionMerge<UserEntity>(
      this.table,
      USER_PARTITIONS,
      (pk) => [`PartitionKey eq ${odataString(pk)}`, ...clauses].join(' and '),
      pageSize,
    );
    const rows: (UserEntity & { rowKey: string; etag: string })[] = [];
    while (rows.length <= opts.limit) {
      const row = await merge.next();
      if (!row) break;
      rows.push(row as (typeof rows)[number]);
    }
    const more = rows.length > opts.limit;
    const page = rows.slice(0, opts.limit);
    return { items: page.map(fromUserEntity), after: more ? (page.at(-1)?.rowKey ?? null) : null };
  }

  /**
   * How many users have this integration as their verify type: the column filtered server-side in
   * every partition (keys only). An integration delete relies on a user not being missed here.
   */
  async countAssignedTo(integrationId: string): Promise<number> {
    const counts = await Promise.all(
      USER_PARTITIONS.map(async (pk) => {
        let n = 0;
        const filter = `PartitionKey eq ${odataString(pk)} and verifyType eq ${odataString(integrationId)}`;
        for await (const page of this.table
          .listEntities({ queryOptions: { filter, select: ['RowKey'] } })
          .byPage({ maxPageSize: 1000 })) {
          n += page.length;
        }
        return n;
      }),
    );
    return counts.reduce((a, b) => a + b, 0);
  }
}
