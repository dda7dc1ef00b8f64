import { createHash } from 'node:crypto';
import type { TableClient, TransactionAction } from '@azure/data-tables';
import { ConflictError } from '../core/errors.ts';
import {
  deleteEntityIfExists,
  getEntityOrUndefined,
  isConflict,
  isNotFound,
  odataString,
} from '../storage/tables.ts';

/**
 * The Provisioning table. Partitions, per integration `<i>` (a UUID) or group/user id:
 * - `config` / `<i>`: the integration's provisioning settings (token hash, tenant, groupRoles, JIT,
 *   last request and outcome);
 * - `u-<i>` / user id: the SCIM-owned attributes of a provisioned user (externalId, name parts, work
 *   address, manager) beside its Users row; one partition per integration, so a token's listing is
 *   one partition query and never sees another integration's users;
 * - `x-<i>` / sha256(lower externalId): externalId → user id (unique per integration);
 * - `g-<i>` / group id: a group; `n-<i>` / sha256(lower displayName): displayName → group id;
 * - `m-<group id>` / user id: a member; `um-<user id>` / group id: the user's groups (for its roles).
 * Values are ids and names only, never a token.
 */

export interface ConfigEntity {
  tokenHash?: string;
  tokenCreatedAt?: string;
  enabled: boolean;
  tenantId?: string;
  groupRoles?: string;
  jitProvisioning?: boolean;
  lastRequestAt?: string;
  lastOutcome?: string;
  createdAt: string;
  updatedAt: string;
}

export interface OwnedEntity {
  username: string;
  /** A copy of the display name SCIM last wrote: `displayName eq` is one partition query. */
  displayName?: string;
  externalId?: string;
  givenName?: string;
  familyName?: string;
  formattedName?: string;
  workAddress?: string;
  manager?: string;
  createdAt: string;
}

export interface GroupEntity {
  displayName: string;
  externalId?: string;
  createdAt: string;
  updatedAt: string;
}

type Row<T> = T & { partitionKey: string; rowKey: string; etag: string };

const keyOf = (value: string) => createHash('sha256').update(value.toLowerCase(), 'utf8').digest('hex');

export class ProvisioningStore {
  constructor(readonly table: TableClient) {}

  // ---- configuration

  getConfig(integrationId: string): Promise<Row<ConfigEntity> | undefined> {
    return getEntityOrUndefined<ConfigEntity>(this.table, 'config', integrationId) as Promise<
      Row<ConfigEntity> | undefined
    >;
  }

  async listConfigs(): Promise<Row<ConfigEntity>[]> {
    const out: Row<ConfigEntity>[] = [];
    for await (const e of this.table.listEntities<ConfigEntity>({
      queryOptions: { filter: `PartitionKey eq 'config'` },
    })) {
      out.push(e as Row<ConfigEntity>);
    }
    return out;
  }

  async upsertConfig(integrationId: string, fields: Partial<ConfigEntity>, etag?: string): Promise<void> {
    const entity = { partitionKey: 'config', rowKey: integrationId, ...fields };
    if (etag) await this.table.updateEntity(entity, 'Merge', { etag });
    else await this.table.upsertEntity(entity, 'Merge');
  }

  async replaceConfig(integrationId: string, entity: ConfigEntity, etag: string): Promise<void> {
    await this.table.updateEntity({ partitionKey: 'config', rowKey: integrationId, ...entity }, 'Replace', {
      etag,
    });
  }

  async deleteConfig(integrationId: string): Promise<void> {
    await deleteEntityIfExists(this.table, 'config', integrationId);
  }

  // ---- provisioned users' own attributes

  getOwned(integrationId: string, userId: string): Promise<Row<OwnedEntity> | undefined> {
    return getEntityOrUndefined<OwnedEntity>(this.table, `u-${integrationId}`, userId) as Promise<
      Row<OwnedEntity> | undefined
    >;
  }

  /** Merges the given columns (a column set to '' clears it); creates the row when missing. */
  async mergeOwned(integrationId: string, userId: string, fields: Partial<OwnedEntity>): Promise<void> {
    await this.table.upsertEntity({ partitionKey: `u-${integrationId}`, rowKey: userId, ...fields }, 'Merge');
  }

  async deleteOwned(integrationId: string, userId: string): Promise<void> {
    await deleteEntityIfExists(this.table, `u-${integrationId}`, userId);
  }

  /** One page of the integration's provisioned users (by id order), and how many there are in all. */
  async pageOwned(
    integrationId: string,
    offset: number,
    count: number,
  ): Promise<{ rows: Row<OwnedEntity>[]; total: number }> {
    return this.pagePartition<OwnedEntity>(`u-${integrationId}`, offset, count);
  }

  /** The ids of the integration's users whose SCIM-written display name is `displayName`. */
  async ownedWithDisplayName(integrationId: string, displayName: string): Promise<string[]> {
    const out: string[] = [];
    const filter = `PartitionKey eq ${odataString(`u-${integrationId}`)} and displayName eq ${odataString(displayName)}`;
    for await (const e of this.table.listEntities({ queryOptions: { filter, select: ['RowKey'] } })) {
      out.push(e.rowKey as string);
      if (out.length >= 200) break;
    }
    return out;
  }

  // ---- externalId index

  async externalIdOwner(integrationId: string, externalId: string): Promise<string | undefined> {
    const row = await getEntityOrUndefined<{ userId: string }>(
      this.table,
      `x-${integrationId}`,
      keyOf(externalId),
    );
    return row?.userId;
  }

  /**
   * Claims `externalId` for the user; 409 `external_id_taken` when another live user of the
   * integration holds it (`isLive`: the user still exists, e.g. not deleted by an admin meanwhile).
   */
  async claimExternalId(
    integrationId: string,
    externalId: string,
    userId: string,
    isLive: (userId: string) => Promise<boolean>,
  ): Promise<void> {
    const pk = `x-${integrationId}`;
    const rk = keyOf(externalId);
    try {
      await this.table.createEntity({ partitionKey: pk, rowKey: rk, userId });
      return;
    } catch (err) {
      if (!isConflict(err)) throw err;
    }
    const row = await getEntityOrUndefined<{ userId: string }>(this.table, pk, rk);
    if (row?.userId === userId) return;
    // A row whose user no longer exists (deleted, or left by a crash) is taken over.
    const holder = row ? await this.getOwned(integrationId, row.userId) : undefined;
    if (
      row &&
      holder &&
      holder.externalId?.toLowerCase() === externalId.toLowerCase() &&
      (await isLive(row.userId))
    ) {
      throw new ConflictError('externalId is already used by another user', 'external_id_taken');
    }
    await this.table.upsertEntity({ partitionKey: pk, rowKey: rk, userId }, 'Replace');
  }

  async releaseExternalId(integrationId: string, externalId: string, userId: string): Promise<void> {
    const pk = `x-${integrationId}`;
    const rk = keyOf(externalId);
    const row = await getEntityOrUndefined<{ userId: string }>(this.table, pk, rk);
    if (row?.userId === userId) await deleteEntityIfExists(this.table, pk, rk);
  }

  // ---- groups

  getGroup(integrationId: string, groupId: string): Promise<Row<GroupEntity> | undefined> {
    return getEntityOrUndefined<GroupEntity>(this.table, `g-${integrationId}`, groupId) as Promise<
      Row<GroupEntity> | undefined
    >;
  }

  async insertGroup(integrationId: string, groupId: string, g: GroupEntity): Promise<string> {
    const res = await this.table.createEntity({ partitionKey: `g-${integrationId}`, rowKey: groupId, ...g });
    return res.etag ?? '';
  }

  async replaceGroup(integrationId: string, groupId: string, g: GroupEntity): Promise<string> {
    const res = await this.table.upsertEntity(
      { partitionKey: `g-${integrationId}`, rowKey: groupId, ...g },
      'Replace',
    );
    return res.etag ?? '';
  }

  async deleteGroup(integrationId: string, groupId: string): Promise<void> {
    await deleteEntityIfExists(this.table, `g-${integrationId}`, groupId);
  }

  pageGroups(integrationId: string, offset: number, count: number) {
    return this.pagePartition<GroupEntity>(`g-${integrationId}`, offset, count);
  }

  async groupsByExternalId(integrationId: string, externalId: string): Promise<Row<GroupEntity>[]> {
    const out: Row<GroupEntity>[] = [];
    const filter = `PartitionKey eq ${odataString(`g-${integrationId}`)} and externalId eq ${odataString(externalId)}`;
    for await (const e of this.table.listEntities<GroupEntity>({ queryOptions: { filter } })) {
      out.push(e as Row<GroupEntity>);
    }
    return out;
  }

  async groupNamed(integrationId: string, displayName: string): Promise<string | undefined> {
    const row = await getEntityOrUndefined<{ groupId: string }>(
      this.table,
      `n-${integrationId}`,
      keyOf(displayName),
    );
    return row?.groupId;
  }

  /** Claims a display name for a group; 409 `group_name_taken` when another live group holds it. */
  async claimGroupName(integrationId: string, displayName: string, groupId: string): Promise<void> {
    const pk = `n-${integrationId}`;
    const rk = keyOf(displayName);
    try {
      await this.table.createEntity({ partitionKey: pk, rowKey: rk, groupId });
      return;
    } catch (err) {
      if (!isConflict(err)) throw err;
    }
    const row = await getEntityOrUndefined<{ groupId: string }>(this.table, pk, rk);
    if (row?.groupId === groupId) return;
    const holder = row ? await this.getGroup(integrationId, row.groupId) : undefined;
    if (holder && holder.displayName.toLowerCase() === displayName.toLowerCase()) {
      throw new ConflictError('A group with this displayName exists', 'group_name_taken');
    }
    await this.table.upsertEntity({ partitionKey: pk, rowKey: rk, groupId }, 'Replace');
  }

  async releaseGroupName(integrationId: string, displayName: string, groupId: string): Promise<void> {
    const pk = `n-${integrationId}`;
    const rk = keyOf(displayName);
    const row = await getEntityOrUndefined<{ groupId: string }>(this.table, pk, rk);
    if (row?.groupId === groupId) await deleteEntityIfExists(this.table, pk, rk);
  }

  // ---- memberships

  async isMember(groupId: string, userId: string): Promise<boolean> {
    return !!(await getEntityOrUndefined(this.table, `m-${groupId}`, userId));
  }

  async memberIds(groupId: string): Promise<string[]> {
    const out: string[] = [];
    for await (const e of this.table.listEntities({
      queryOptions: { filter: `PartitionKey eq ${odataString(`m-${groupId}`)}`, select: ['RowKey'] },
    })) {
      out.push(e.rowKey as string);
    }
    return out;
  }

  async groupIdsOf(userId: string): Promise<string[]> {
    const out: string[] = [];
    for await (const e of this.table.listEntities({
      queryOptions: { filter: `PartitionKey eq ${odataString(`um-${userId}`)}`, select: ['RowKey'] },
    })) {
      out.push(e.rowKey as string);
    }
    return out;
  }

  /**
   * Adds or removes members: the group's member rows in transactions of 100 (one partition), and
   * each user's own row of the membership beside them.
   */
  async setMembership(groupId: string, userIds: string[], member: boolean): Promise<void> {
    const pk = `m-${groupId}`;
    for (let i = 0; i < userIds.length; i += 100) {
      const actions: TransactionAction[] = userIds
        .slice(i, i + 100)
        .map((id) =>
          member
            ? ['upsert', { partitionKey: pk, rowKey: id }, 'Replace']
            : ['delete', { partitionKey: pk, rowKey: id }],
        );
      try {
        await this.table.submitTransaction(actions);
      } catch (err) {
        // A delete of a row that is not there fails the whole transaction: do those one by one.
        if (member || !isNotFound(err)) throw err;
        await Promise.all(userIds.slice(i, i + 100).map((id) => deleteEntityIfExists(this.table, pk, id)));
      }
    }
    await runLimited(userIds, 16, (id) =>
      member
        ? this.table.upsertEntity({ partitionKey: `um-${id}`, rowKey: groupId }, 'Replace').then(() => {})
        : deleteEntityIfExists(this.table, `um-${id}`, groupId).then(() => {}),
    );
  }

  private async pagePartition<T extends object>(
    pk: string,
    offset: number,
    count: number,
  ): Promise<{ rows: Row<T>[]; total: number }> {
    const rows: Row<T>[] = [];
    let total = 0;
    for await (const e of this.table.listEntities<T>({
      queryOptions: { filter: `PartitionKey eq ${odataString(pk)}` },
    })) {
      if (total >= offset && rows.length < count) rows.push(e as Row<T>);
      total++;
    }
    return { rows, total };
  }
}

/** Runs `fn` over `items` with at most `limit` at a time. */
export async function runLimited<T>(
  items: T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
