import type { AuditLog } from '../audit/log.ts';
import type { Clock } from '../core/clock.ts';
import {
  foldUserChanges,
  type ListResponse,
  listResponse,
  normalizeUserPatch,
  notFound,
  type Page,
  type ProvisionedUserInput,
  parseFilter,
  parseScimUser,
  ScimError,
  toScimUser,
  type UserUpdate,
  uniqueness,
} from '../scim/index.ts';
import type { ChangeContext } from '../users/ports.ts';
import type { UserRecord } from '../users/records.ts';
import type { UserService } from '../users/service.ts';
import type { ScimCaller } from './auth.ts';
import { objectIdOf, USER_RULES } from './rules.ts';
import type { OwnedEntity, ProvisioningStore } from './store.ts';

export interface ScimUsersDeps {
  users: UserService;
  store: ProvisioningStore;
  audit: AuditLog;
  clock: Clock;
  /** `{BROKER_PUBLIC_BASE_URL}/api/scim/v2`. */
  baseUrl: string;
}

export type ScimUser = ReturnType<typeof toScimUser>;
type Ctx = { correlationId?: string; clientAddress?: string };

const OWNED_KEYS = [
  'externalId',
  'givenName',
  'familyName',
  'formattedName',
  'workAddress',
  'manager',
] as const;

/**
 * /Users of one integration's token. A token sees only users whose verify type is its integration
 * (any other id is a 404, docs/security.md SP1); it never changes a broker admin and never binds an
 * identity another user holds (SP4). Every change is audited with actor `scim:<integrationId>` (SP5).
 */
export class ScimUsers {
  constructor(private readonly d: ScimUsersDeps) {}

  /** Whether a user id still names a user (one an admin deleted does not). */
  private readonly isLive = async (userId: string) => !!(await this.d.users.getById(userId));

  private ctx(caller: ScimCaller, c: Ctx): ChangeContext {
    return { actor: caller.actor, correlationId: c.correlationId, clientAddress: c.clientAddress };
  }

  private mine(caller: ScimCaller, u: UserRecord | undefined): UserRecord | undefined {
    return u?.verifyType.kind === 'integration' && u.verifyType.integrationId === caller.integrationId
      ? u
      : undefined;
  }

  async visible(caller: ScimCaller, id: string): Promise<UserRecord> {
    const u = this.mine(caller, await this.d.users.getById(id));
    if (!u) throw notFound('User', id);
    return u;
  }

  private async resource(caller: ScimCaller, u: UserRecord, owned?: OwnedEntity): Promise<ScimUser> {
    const o = owned ?? (await this.d.store.getOwned(caller.integrationId, u.id));
    return toScimUser(
      u,
      {
        externalId: o?.externalId || null,
        givenName: o?.givenName || null,
        familyName: o?.familyName || null,
        formattedName: o?.formattedName || null,
        workAddress: o?.workAddress || null,
        manager: o?.manager || null,
      },
      this.d.baseUrl,
    );
  }

  async get(caller: ScimCaller, id: string): Promise<ScimUser> {
    return this.resource(caller, await this.visible(caller, id));
  }

  /** A filtered query answers from an index (one or two point reads); without a filter, a page. */
  async list(caller: ScimCaller, filter: string | undefined, page: Page): Promise<ListResponse<ScimUser>> {
    if (!filter) {
      const { rows, total } = await this.d.store.pageOwned(caller.integrationId, page.offset, page.count);
      const found = await Promise.all(
        rows.map(async (row) => {
          const u = this.mine(caller, await this.d.users.getById(row.rowKey));
          return u ? this.resource(caller, u, row) : undefined;
        }),
      );
      return listResponse(
        found.filter((x) => x !== undefined),
        total,
        page,
      );
    }
    const q = parseFilter('User', filter);
    const matches = q.matchesNothing ? [] : await this.matching(caller, q.equals);
    const total = matches.length;
    const resources = await Promise.all(
      matches.slice(page.offset, page.offset + page.count).map((m) => this.resource(caller, m.user, m.owned)),
    );
    return listResponse(resources, total, page);
  }

  private async matching(
    caller: ScimCaller,
    eq: Partial<Record<'id' | 'userName' | 'externalId' | 'displayName' | 'email' | 'manager', string>>,
  ): Promise<{ user: UserRecord; owned?: OwnedEntity }[]> {
    const { users, store } = this.d;
    let candidates: UserRecord[];
    if (eq.id !== undefined) candidates = [await users.getById(eq.id)].filter((u) => !!u);
    else if (eq.userName !== undefined) {
      candidates = [await users.getByUsername(eq.userName.toLowerCase())].filter((u) => !!u);
    } else if (eq.externalId !== undefined) {
      const id = await store.externalIdOwner(caller.integrationId, eq.externalId);
      candidates = id ? [await users.getById(id)].filter((u) => !!u) : [];
    } else if (eq.email !== undefined) {
      const name = await users.findByEmail(eq.email);
      candidates = name ? [await users.getByUsername(name)].filter((u) => !!u) : [];
    } else if (eq.displayName !== undefined) {
      const rows = await store.ownedWithDisplayName(caller.integrationId, eq.displayName);
      candidates = (await Promise.all(rows.map((r) => users.getById(r)))).filter((u) => !!u);
    } else {
      throw new ScimError(400, 'invalidFilter', 'filter on id, userName, externalId, displayName or emails');
    }
    const out: { user: UserRecord; owned?: OwnedEntity }[] = [];
    for (const c of candidates) {
      const user = this.mine(caller, c as UserRecord);
      if (!user) continue;
      const owned = await store.getOwned(caller.integrationId, user.id);
      const same = (a: string | null | undefined, b: string | undefined) =>
        b === undefined || (a ?? '').toLowerCase() === b.toLowerCase();
      if (
        same(user.username, eq.userName) &&
        same(owned?.externalId, eq.externalId) &&
        same(user.displayName, eq.displayName) &&
        same(user.email, eq.email) &&
        same(owned?.manager, eq.manager) &&
        (eq.id === undefined || user.id === eq.id)
      ) {
        out.push({ user, ...(owned ? { owned } : {}) });
      }
    }
    return out;
  }

  /** POST /Users. */
  async create(caller: ScimCaller, body: unknown, c: Ctx): Promise<ScimUser> {
    const input = parseScimUser(body, USER_RULES);
    const { users, store } = this.d;
    const ctx = this.ctx(caller, c);
    const objectId = caller.tenantId ? objectIdOf(input.externalId) : undefined;
    // Checked together before anything is written (a taken userName is users.create's own 409).
    const [holder, boundTo] = await Promise.all([
      input.externalId ? store.externalIdOwner(caller.integrationId, input.externalId) : undefined,
      objectId && caller.tenantId ? users.findByBinding(caller.tenantId, objectId) : undefined,
    ]);
    if (holder && (await this.isLive(holder))) throw uniqueness('externalId is already taken');
    if (boundTo) throw uniqueness('the Entra identity in externalId is bound to another user');
    const created = await users.create(
      {
        username: input.username,
        ...(input.displayName ? { displayName: input.displayName } : {}),
        ...(input.email ? { email: input.email } : {}),
        verifyType: { integrationId: caller.integrationId },
      },
      ctx,
    );
    const owned = { ...this.ownedColumns(input, created.username), createdAt: created.createdAt };
    try {
      if (input.externalId)
        await store.claimExternalId(caller.integrationId, input.externalId, created.id, this.isLive);
      if (objectId && caller.tenantId) {
        // Bound at once: the first sign-in matches by (tid, oid), never by a claim.
        await users.bind(created.username, { tenantId: caller.tenantId, objectId }, created.etag, ctx);
      }
      await Promise.all([
        users.store.merge(created.username, { provisionedBy: caller.integrationId }),
        store.mergeOwned(caller.integrationId, created.id, owned),
      ]);
      if (!input.active) await users.update(created.username, { disabled: true }, undefined, ctx);
    } catch (err) {
      await users.delete(created.username, undefined, ctx).catch(() => {});
      if (input.externalId) await store.releaseExternalId(caller.integrationId, input.externalId, created.id);
      throw err;
    }
    const [fresh] = await Promise.all([
      users.requireRecord(created.username),
      this.d.audit.record({
        type: 'scim.user.created',
        actor: caller.actor,
        target: `user:${created.username}`,
        changedFields: this.changedOf(input),
        correlationId: c.correlationId,
        clientAddress: c.clientAddress,
        details: { bound: !!objectId, active: input.active },
      }),
    ]);
    return this.resource(caller, fresh, owned as OwnedEntity);
  }

  private ownedColumns(
    input: Partial<ProvisionedUserInput>,
    username: string,
  ): Partial<OwnedEntity> & { username: string } {
    const out: Record<string, string> = { username };
    for (const k of OWNED_KEYS) if (k in input) out[k] = (input[k] as string | null) ?? '';
    if ('displayName' in input) out.displayName = input.displayName ?? '';
    return out as Partial<OwnedEntity> & { username: string };
  }

  private changedOf(input: object): string[] {
    return Object.entries(input)
      .filter(([, v]) => v !== null && v !== undefined)
      .map(([k]) => k)
      .sort();
  }

  /** PUT /Users/{id}: every attribute the broker keeps takes the body's value (absent ones are cleared). */
  async replace(caller: ScimCaller, id: string, body: unknown, c: Ctx): Promise<ScimUser> {
    const input = parseScimUser(body, USER_RULES);
    const { username, ...rest } = input;
    return this.apply(caller, id, { ...rest, userName: username }, c);
  }

  /** PATCH /Users/{id} in Entra's dialect. */
  async patch(caller: ScimCaller, id: string, body: unknown, c: Ctx): Promise<ScimUser> {
    const changes = normalizeUserPatch(body, USER_RULES);
    return this.apply(caller, id, foldUserChanges(changes), c);
  }

  private async apply(caller: ScimCaller, id: string, update: UserUpdate, c: Ctx): Promise<ScimUser> {
    const { users, store } = this.d;
    const ctx = this.ctx(caller, c);
    let [user, owned] = await Promise.all([
      this.visible(caller, id),
      store.getOwned(caller.integrationId, id),
    ]);
    refuseAdmin(user);
    const changed: string[] = [];
    const writes: Promise<unknown>[] = [];
    if (user.provisionedBy !== caller.integrationId) {
      // A user an admin created for this integration, matched by Entra: SCIM owns it from now on.
      await users.store.merge(user.username, { provisionedBy: caller.integrationId });
      changed.push('provisionedBy');
    }
    if (update.userName !== undefined && update.userName.toLowerCase() !== user.username) {
      user = await users.rename(user.username, update.userName.toLowerCase(), ctx);
      changed.push('userName');
    }
    if (update.externalId !== undefined && (update.externalId ?? '') !== (owned?.externalId ?? '')) {
      await this.changeExternalId(caller, user, owned?.externalId || null, update.externalId, ctx);
      changed.push('externalId');
    }
    const patch: { email?: string | null; disabled?: boolean } = {};
    if (update.email !== undefined && (update.email ?? null) !== user.email) patch.email = update.email;
    if (update.active !== undefined && update.active === user.disabled) patch.disabled = !update.active;
    if (Object.keys(patch).length > 0) {
      // Disabling revokes every session and, by sessionsRevokedAt in the same write, every token the
      // OP issued before (docs/security.md SP3), before this request answers.
      await users.update(user.username, patch, undefined, ctx);
      changed.push(...Object.keys(patch).map((k) => (k === 'disabled' ? 'active' : k)));
    }
    const now = new Date(this.d.clock.now()).toISOString();
    if (update.displayName !== undefined) {
      const displayName = update.displayName ?? user.username;
      if (displayName !== user.displayName) {
        // One column, unconditional: concurrent renames all land, the last one wins, none is lost.
        writes.push(users.store.merge(user.username, { displayName, updatedAt: now }));
        changed.push('displayName');
      }
    }
    const columns: Partial<OwnedEntity> = {};
    for (const k of ['givenName', 'familyName', 'formattedName', 'workAddress', 'manager'] as const) {
      if (update[k] !== undefined && (update[k] ?? '') !== (owned?.[k] ?? '')) {
        columns[k] = update[k] ?? '';
        changed.push(k);
      }
    }
    if (update.displayName !== undefined && (update.displayName ?? '') !== (owned?.displayName ?? '')) {
      columns.displayName = update.displayName ?? '';
    }
    if (update.externalId !== undefined && (update.externalId ?? '') !== (owned?.externalId ?? '')) {
      columns.externalId = update.externalId ?? '';
    }
    if (!owned || owned.username !== user.username || Object.keys(columns).length > 0) {
      const row = { ...columns, username: user.username, ...(owned ? {} : { createdAt: now }) };
      writes.push(store.mergeOwned(caller.integrationId, user.id, row));
      owned = { ...(owned ?? { createdAt: now }), ...row } as typeof owned;
    }
    await Promise.all(writes);
    const [fresh] = await Promise.all([
      users.requireRecord(user.username),
      changed.length > 0
        ? this.d.audit.record({
            type: 'scim.user.updated',
            actor: caller.actor,
            target: `user:${user.username}`,
            changedFields: [...new Set(changed)].sort(),
            correlationId: c.correlationId,
            clientAddress: c.clientAddress,
          })
        : undefined,
    ]);
    return this.resource(caller, fresh, owned);
  }

  private async changeExternalId(
    caller: ScimCaller,
    user: UserRecord,
    before: string | null,
    after: string | null,
    ctx: ChangeContext,
  ): Promise<void> {
    const { store, users } = this.d;
    if (after) await store.claimExternalId(caller.integrationId, after, user.id, this.isLive);
    const objectId = objectIdOf(after);
    if (objectId && caller.tenantId) {
      const b = user.entraBinding;
      if (!(b && b.tenantId === caller.tenantId && b.objectId === objectId)) {
        const fresh = await users.requireRecord(user.username);
        try {
          await users.bind(user.username, { tenantId: caller.tenantId, objectId }, fresh.etag, ctx);
        } catch (err) {
          if (after) await store.releaseExternalId(caller.integrationId, after, user.id);
          throw err;
        }
      }
    }
    if (before && before.toLowerCase() !== (after ?? '').toLowerCase()) {
      await store.releaseExternalId(caller.integrationId, before, user.id);
    }
  }

  /** DELETE /Users/{id}: the user is removed; its id (the OP's `sub`) is never issued again. */
  async delete(caller: ScimCaller, id: string, c: Ctx): Promise<void> {
    const { users, store } = this.d;
    const user = await this.visible(caller, id);
    refuseAdmin(user);
    const owned = await store.getOwned(caller.integrationId, user.id);
    await users.delete(user.username, undefined, this.ctx(caller, c));
    for (const groupId of await store.groupIdsOf(user.id))
      await store.setMembership(groupId, [user.id], false);
    if (owned?.externalId) await store.releaseExternalId(caller.integrationId, owned.externalId, user.id);
    await store.deleteOwned(caller.integrationId, user.id);
    await this.d.audit.record({
      type: 'scim.user.deleted',
      actor: caller.actor,
      target: `user:${user.username}`,
      correlationId: c.correlationId,
      clientAddress: c.clientAddress,
    });
  }
}

/** docs/security.md SP4: a broker admin is changed in the console, never by provisioning. */
function refuseAdmin(user: UserRecord): void {
  if (user.roles.includes('admin')) {
    throw new ScimError(403, undefined, 'this user is a broker admin: provisioning cannot change it');
  }
}
