import { randomUUID } from 'node:crypto';
import type { AuditLog } from '../audit/log.ts';
import type { Clock } from '../core/clock.ts';
import {
  type GroupChange,
  type ListResponse,
  listResponse,
  membersRequested,
  normalizeGroupPatch,
  notFound,
  type Page,
  parseFilter,
  parseScimGroup,
  ScimError,
  toScimGroup,
} from '../scim/index.ts';
import type { UserService } from '../users/service.ts';
import type { ScimCaller } from './auth.ts';
import { recomputeGroupRoles, roleOfGroup } from './roles.ts';
import { isBrokerId, USER_RULES, userReference } from './rules.ts';
import { type GroupEntity, type ProvisioningStore, runLimited } from './store.ts';

export interface ScimGroupsDeps {
  users: UserService;
  store: ProvisioningStore;
  audit: AuditLog;
  clock: Clock;
  baseUrl: string;
}

type Ctx = { correlationId?: string; clientAddress?: string };
export type ScimGroup = ReturnType<typeof toScimGroup>;
interface MemberQuery {
  attributes?: string | null;
  excludedAttributes?: string | null;
}

/**
 * /Groups of one integration's token: groups and their members (the integration's own users only),
 * added and removed in Entra's batches without loading the group, and the roles `groupRoles` maps
 * them to. Audited with actor `scim:<integrationId>`.
 */
export class ScimGroups {
  constructor(private readonly d: ScimGroupsDeps) {}

  private now() {
    return new Date(this.d.clock.now()).toISOString();
  }

  private async group(caller: ScimCaller, id: string): Promise<GroupEntity & { etag: string }> {
    const g = /^[0-9a-f-]{36}$/.test(id) ? await this.d.store.getGroup(caller.integrationId, id) : undefined;
    if (!g) throw notFound('Group', id);
    return g;
  }

  private async resource(id: string, g: GroupEntity & { etag: string }, withMembers: boolean) {
    const members = withMembers ? (await this.d.store.memberIds(id)).map((value) => ({ value })) : undefined;
    return toScimGroup(
      {
        id,
        displayName: g.displayName,
        externalId: g.externalId || null,
        createdAt: g.createdAt,
        updatedAt: g.updatedAt,
        etag: g.etag,
      },
      this.d.baseUrl,
      members,
    );
  }

  async get(caller: ScimCaller, id: string, query: MemberQuery): Promise<ScimGroup> {
    return this.resource(id, await this.group(caller, id), membersRequested(query));
  }

  async list(
    caller: ScimCaller,
    filter: string | undefined,
    page: Page,
    query: MemberQuery,
  ): Promise<ListResponse<ScimGroup>> {
    const { store } = this.d;
    const withMembers = membersRequested(query);
    if (!filter) {
      const { rows, total } = await store.pageGroups(caller.integrationId, page.offset, page.count);
      const out = await Promise.all(rows.map((r) => this.resource(r.rowKey, r, withMembers)));
      return listResponse(out, total, page);
    }
    const q = parseFilter('Group', filter);
    let ids: string[] = [];
    if (!q.matchesNothing) {
      const eq = q.equals;
      if (eq.id !== undefined) ids = [eq.id];
      else if (eq.displayName !== undefined) {
        const id = await store.groupNamed(caller.integrationId, eq.displayName);
        ids = id ? [id] : [];
      } else if (eq.externalId !== undefined) {
        ids = (await store.groupsByExternalId(caller.integrationId, eq.externalId)).map((g) => g.rowKey);
      } else {
        throw new ScimError(400, 'invalidFilter', 'filter groups on id, displayName or externalId');
      }
    }
    const found: ScimGroup[] = [];
    for (const id of ids) {
      const g = /^[0-9a-f-]{36}$/.test(id) ? await store.getGroup(caller.integrationId, id) : undefined;
      if (!g) continue;
      const eq = q.equals;
      if (eq.displayName !== undefined && g.displayName.toLowerCase() !== eq.displayName.toLowerCase())
        continue;
      if (eq.externalId !== undefined && (g.externalId ?? '') !== eq.externalId) continue;
      // A value that cannot be a user id is never a member (and could not be a row key).
      if (eq.members !== undefined && !(isBrokerId(eq.members) && (await store.isMember(id, eq.members))))
        continue;
      found.push(await this.resource(id, g, withMembers));
    }
    return listResponse(found.slice(page.offset, page.offset + page.count), found.length, page);
  }

  /** Member ids that are users of this integration; others are left out (and counted). */
  private async ownMembers(caller: ScimCaller, ids: string[]): Promise<string[]> {
    const ok: string[] = [];
    await runLimited([...new Set(ids)], 16, async (id) => {
      if (await this.d.store.getOwned(caller.integrationId, id)) ok.push(id);
      else {
        const u = await this.d.users.getById(id);
        if (u?.verifyType.kind === 'integration' && u.verifyType.integrationId === caller.integrationId)
          ok.push(id);
      }
    });
    return ok;
  }

  async create(caller: ScimCaller, body: unknown, c: Ctx): Promise<ScimGroup> {
    const input = parseScimGroup(body, USER_RULES);
    checkMembers(input.memberIds);
    const { store } = this.d;
    const id = randomUUID();
    const now = this.now();
    const g: GroupEntity = {
      displayName: input.displayName,
      createdAt: now,
      updatedAt: now,
      ...(input.externalId ? { externalId: input.externalId } : {}),
    };
    await store.claimGroupName(caller.integrationId, input.displayName, id);
    await store.insertGroup(caller.integrationId, id, g);
    const members = await this.ownMembers(caller, input.memberIds);
    await this.changeMembers(caller, id, g, members, true);
    await this.audit(
      caller,
      'scim.group.created',
      id,
      ['displayName', ...(input.externalId ? ['externalId'] : []), ...(members.length ? ['members'] : [])],
      c,
      {
        membersAdded: members.length,
        membersIgnored: input.memberIds.length - members.length,
      },
    );
    return this.resource(id, await this.group(caller, id), true);
  }

  private async changeMembers(
    caller: ScimCaller,
    groupId: string,
    g: GroupEntity,
    userIds: string[],
    add: boolean,
  ) {
    if (userIds.length === 0) return;
    await this.d.store.setMembership(groupId, userIds, add);
    if (roleOfGroup(caller.groupRoles, g)) await this.recompute(caller, userIds);
  }

  private async recompute(caller: ScimCaller, userIds: string[]) {
    const cache = new Map<string, GroupEntity | undefined>();
    await runLimited(userIds, 8, (id) => recomputeGroupRoles(this.d.users, this.d.store, caller, id, cache));
  }

  /** PATCH /Groups/{id}: members added and removed in batches, displayName and externalId. */
  async patch(caller: ScimCaller, id: string, body: unknown, c: Ctx): Promise<void> {
    const changes = normalizeGroupPatch(body, USER_RULES);
    // Every operation is checked before the first is applied: a refused request changes nothing.
    for (const ch of changes) if (ch.attribute === 'members') checkMembers(ch.ids);
    await this.apply(caller, id, changes, c);
  }

  /** PUT /Groups/{id}: displayName, externalId and the whole member list. */
  async replace(caller: ScimCaller, id: string, body: unknown, c: Ctx): Promise<ScimGroup> {
    const input = parseScimGroup(body, USER_RULES);
    checkMembers(input.memberIds);
    await this.apply(
      caller,
      id,
      [
        { attribute: 'displayName', value: input.displayName },
        { attribute: 'externalId', value: input.externalId },
        { attribute: 'members', action: 'replace', ids: input.memberIds },
      ],
      c,
    );
    return this.resource(id, await this.group(caller, id), true);
  }

  private async apply(caller: ScimCaller, id: string, changes: GroupChange[], c: Ctx): Promise<void> {
    const { store } = this.d;
    const before = await this.group(caller, id);
    const g: GroupEntity = {
      displayName: before.displayName,
      createdAt: before.createdAt,
      updatedAt: before.updatedAt,
      ...(before.externalId ? { externalId: before.externalId } : {}),
    };
    const changed = new Set<string>();
    let added = 0;
    let removed = 0;
    for (const ch of changes) {
      if (ch.attribute === 'displayName' && ch.value !== g.displayName) {
        await store.claimGroupName(caller.integrationId, ch.value, id);
        if (ch.value.toLowerCase() !== g.displayName.toLowerCase()) {
          await store.releaseGroupName(caller.integrationId, g.displayName, id);
        }
        g.displayName = ch.value;
        changed.add('displayName');
      } else if (ch.attribute === 'externalId' && (ch.value ?? undefined) !== g.externalId) {
        if (ch.value) g.externalId = ch.value;
        else delete g.externalId;
        changed.add('externalId');
      } else if (ch.attribute === 'members') {
        if (ch.action === 'replace') {
          const current = await store.memberIds(id);
          const wanted = new Set(await this.ownMembers(caller, ch.ids));
          const out = current.filter((m) => !wanted.has(m));
          const inn = [...wanted].filter((m) => !current.includes(m));
          await this.changeMembers(caller, id, g, out, false);
          await this.changeMembers(caller, id, g, inn, true);
          removed += out.length;
          added += inn.length;
        } else if (ch.action === 'add') {
          const ids = await this.ownMembers(caller, ch.ids);
          await this.changeMembers(caller, id, g, ids, true);
          added += ids.length;
        } else {
          await this.changeMembers(caller, id, g, [...new Set(ch.ids)], false);
          removed += ch.ids.length;
        }
        changed.add('members');
      }
    }
    if (changed.has('displayName') || changed.has('externalId')) {
      g.updatedAt = this.now();
      await store.replaceGroup(caller.integrationId, id, g);
      // The group's mapped role may have changed with its name or id: every member's roles follow.
      if (roleOfGroup(caller.groupRoles, before) !== roleOfGroup(caller.groupRoles, g)) {
        await this.recompute(caller, await store.memberIds(id));
      }
    }
    if (changed.size > 0) {
      await this.audit(caller, 'scim.group.updated', id, [...changed].sort(), c, {
        membersAdded: added,
        membersRemoved: removed,
      });
    }
  }

  async delete(caller: ScimCaller, id: string, c: Ctx): Promise<void> {
    const { store } = this.d;
    const g = await this.group(caller, id);
    const members = await store.memberIds(id);
    await store.deleteGroup(caller.integrationId, id);
    await store.setMembership(id, members, false);
    await store.releaseGroupName(caller.integrationId, g.displayName, id);
    if (roleOfGroup(caller.groupRoles, g)) await this.recompute(caller, members);
    await this.audit(caller, 'scim.group.deleted', id, [], c, { membersRemoved: members.length });
  }

  private async audit(
    caller: ScimCaller,
    type: string,
    id: string,
    changedFields: string[],
    c: Ctx,
    details: Record<string, number>,
  ) {
    await this.d.audit.record({
      type,
      actor: caller.actor,
      target: `group:${id}`,
      changedFields,
      correlationId: c.correlationId,
      clientAddress: c.clientAddress,
      details,
    });
  }
}

/** Member values become Table keys (`m-<group>`/<user id>): each must be a user id's shape first. */
function checkMembers(ids: string[]): void {
  for (const id of ids) userReference(id, 'members.value');
}
