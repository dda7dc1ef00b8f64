import type { AuditLog, ChangeContext as RequestChangeContext } from '../audit/log.ts';
import type { Clock } from '../core/clock.ts';
import { ConflictError, NotFoundError, PreconditionFailedError, ValidationError } from '../core/errors.ts';
import { hashPassword, validatePasswordPolicy } from '../passwords/index.ts';
import type { SessionStore } from '../sessions/store.ts';
import {
  type CreateUserInput,
  DEFAULT_PAGE_SIZE,
  isValidUsername,
  type PatchUserInput,
  type User,
  type VerifyTypeInput,
} from './schemas.ts';
import type { EntraBinding, NewUserRecord, UserRecord, UserStore, VerifyType } from './store.ts';

/**
 * Users: the admin operations behind /api/manage/users and the point reads and writes the sign-in
 * flow uses. Every write is conditional on the etag it read; every admin change is audited with the
 * names of the fields that changed (never a password or hash). Disabling or deleting a user,
 * changing their verify type, changing or removing their password and changing or forgetting their
 * Entra binding revoke all their sessions (SECURITY.md SC4, AM5).
 */

/** What the user service needs from integrations (implemented by IntegrationService). */
export interface IntegrationLookup {
  /** Throws NotFoundError for an unknown id. */
  get(id: string): Promise<{ id: string; title: string; status: string }>;
  /** Case-insensitive; undefined when no integration has the title. */
  findByTitle(title: string): Promise<{ id: string; title: string; status: string } | undefined>;
  list(): Promise<{ id: string; title: string; status: string }[]>;
  /** Whether users may still be assigned to it: it exists and is not being deleted. */
  isAssignable?(id: string): Promise<boolean>;
}

/** What the lock-out guard needs from the global settings. */
export interface SettingsReader {
  get(): Promise<{ allowOAuthPasswords: boolean }>;
  /** Uncached (the guard decides on the stored value, not an instance's cached copy). */
  read?(): Promise<{ allowOAuthPasswords: boolean }>;
}

export interface ChangeContext extends RequestChangeContext {
  /** The audit actor (an admin token's name, an admin's username, or the user signing in). */
  actor: string;
}

export interface UserServiceDeps {
  store: UserStore;
  integrations: IntegrationLookup;
  settings: SettingsReader;
  sessions: Pick<SessionStore, 'revokeAllForUser'>;
  audit: AuditLog;
  clock: Clock;
}

const ID_PART = /^[A-Za-z0-9-]{1,100}$/;

function checkIfMatch(ifMatch: string | undefined, current: UserRecord): void {
  if (ifMatch !== undefined && ifMatch !== '*' && ifMatch !== current.etag)
    throw new PreconditionFailedError();
}

function encodeCursor(after: string): string {
  return Buffer.from(JSON.stringify({ v: 1, after }), 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): string {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as {
      v?: unknown;
      after?: unknown;
    };
    if (value.v === 1 && typeof value.after === 'string' && isValidUsername(value.after)) return value.after;
  } catch {
    // fall through
  }
  throw new ValidationError([{ field: 'cursor', message: 'is not a valid cursor' }]);
}

const sameRoles = (a: string[], b: string[]) =>
  a.length === b.length && [...a].sort().join('\n') === [...b].sort().join('\n');

/**
 * Whether a token issued at `iatSeconds` (JWT `iat`, whole seconds) was revoked by the user's last
 * "sign out everywhere", disable, password or binding change. A token issued in the same second as
 * the revocation counts as revoked (the user signs in again; never the other way round).
 */
export function issuedBeforeRevocation(
  user: Pick<UserRecord, 'sessionsRevokedAt'>,
  iatSeconds: number,
): boolean {
  if (!user.sessionsRevokedAt) return false;
  const revokedAt = Date.parse(user.sessionsRevokedAt);
  return Number.isFinite(revokedAt) && iatSeconds <= Math.floor(revokedAt / 1000);
}

const sameVerifyType = (a: VerifyType, b: VerifyType) =>
  a.kind === b.kind &&
  (a.kind === 'password' || a.integrationId === (b as { integrationId: string }).integrationId);

export class UserService {
  readonly store: UserStore;
  private readonly deps: UserServiceDeps;

  constructor(deps: UserServiceDeps) {
    this.deps = deps;
    this.store = deps.store;
  }

  private now(): string {
    return new Date(this.deps.clock.now()).toISOString();
  }

  // ---------------------------------------------------------------- sign-in path (point reads only)

  /** The user's internal record (with the password hash), or undefined. Case-insensitive username. */
  async getByUsername(username: string): Promise<UserRecord | undefined> {
    return this.store.get(username.toLowerCase());
  }

  /**
   * The user with this immutable id (the OP's `sub`): one point read of the id index plus the user's
   * row; undefined for an unknown id or a deleted user. The record carries `sessionsRevokedAt`: a
   * token issued before it must be refused (see `issuedBeforeRevocation`).
   */
  async getById(id: string): Promise<UserRecord | undefined> {
    if (typeof id !== 'string') return undefined;
    return this.store.getById(id.toLowerCase());
  }

  /** The user bound to Entra identity (tid, oid): one point read in UserBindings plus the user's row. */
  async findByBinding(tenantId: string, objectId: string): Promise<UserRecord | undefined> {
    if (!ID_PART.test(tenantId) || !ID_PART.test(objectId)) return undefined;
    const username = await this.store.bindingOwner(tenantId.toLowerCase(), objectId.toLowerCase());
    if (!username) return undefined;
    const user = await this.store.get(username);
    const b = user?.entraBinding;
    return b && b.tenantId === tenantId.toLowerCase() && b.objectId === objectId.toLowerCase()
      ? user
      : undefined;
  }

  /** The username whose email this is (ignoring case), through the email index. */
  async findByEmail(email: string): Promise<string | undefined> {
    if (email.length === 0 || email.length > 254) return undefined;
    const username = await this.store.emailOwner(email);
    if (!username) return undefined;
    const user = await this.store.get(username);
    return user?.email && user.email.toLowerCase() === email.trim().toLowerCase() ? username : undefined;
  }

  /**
   * Binds the user to Entra identity (tid, oid). The binding row is inserted first, so two users can
   * never hold the same identity (409 `binding_taken`); then the user row, conditional on `etag`
   * (412 when the user changed meanwhile). Replacing an earlier, different binding revokes sessions.
   */
  async bind(
    username: string,
    identity: { tenantId: string; objectId: string },
    etag: string,
    ctx?: Partial<ChangeContext>,
  ): Promise<UserRecord> {
    if (!ID_PART.test(identity.tenantId) || !ID_PART.test(identity.objectId)) {
      throw new ValidationError([{ field: 'entraBinding', message: 'must be a tenant id and an object id' }]);
    }
    const tenantId = identity.tenantId.toLowerCase();
    const objectId = identity.objectId.toLowerCase();
    const current = await this.requireRecord(username.toLowerCase());
    checkIfMatch(etag, current);
    const old = current.entraBinding;
    if (old && old.tenantId === tenantId && old.objectId === objectId) return current;
    const boundAt = this.now();
    const claimed = await this.store.claimBinding(tenantId, objectId, current.username, boundAt);
    let saved: UserRecord;
    try {
      saved = await this.store.replace(
        {
          ...current,
          entraBinding: { tenantId, objectId, boundAt },
          updatedAt: boundAt,
          // Replacing an earlier binding ends the sessions below: the OP's tokens too (OP6).
          sessionsRevokedAt: old ? boundAt : current.sessionsRevokedAt,
        },
        etag,
      );
    } catch (err) {
      if (claimed) await this.store.releaseBinding(tenantId, objectId, current.username);
      throw err;
    }
    let revoked = 0;
    if (old) {
      await this.store.releaseBinding(old.tenantId, old.objectId, current.username);
      revoked = await this.deps.sessions.revokeAllForUser(current.username);
    }
    await this.deps.audit.record({
      type: 'user.binding_created',
      actor: ctx?.actor ?? current.username,
      target: `user:${current.username}`,
      changedFields: ['entraBinding'],
      correlationId: ctx?.correlationId,
      clientAddress: ctx?.clientAddress,
      details: { tenantId, objectId, replaced: old !== null, sessionsRevoked: revoked },
    });
    return saved;
  }

  /** Records a successful sign-in (lastLoginAt). */
  async recordLogin(username: string): Promise<void> {
    await this.store.merge(username.toLowerCase(), { lastLoginAt: this.now() });
  }

  /**
   * Stores a new hash of the same password (rehash on sign-in). Pass the etag read before verifying,
   * so a password an admin changed meanwhile is never overwritten; then answers false on a conflict.
   */
  async setPasswordHash(username: string, phc: string, etag?: string): Promise<boolean> {
    try {
      await this.store.merge(username.toLowerCase(), { passwordHash: phc }, etag);
      return true;
    } catch (err) {
      if (err instanceof PreconditionFailedError || err instanceof NotFoundError) return false;
      throw err;
    }
  }

  /** AssignmentCounter for the integration service: its delete answers 409 while this is > 0. */
  countUsersAssignedTo(integrationId: string): Promise<number> {
    return this.store.countUsersAssignedTo(integrationId);
  }

  // ---------------------------------------------------------------- views

  /** The User resource (DESIGN.md): `hasPassword`, never the hash; the integration's current title. */
  toUser(r: UserRecord, titles: Map<string, string>): User {
    return {
      id: r.id,
      username: r.username,
      displayName: r.displayName,
      email: r.email,
      verifyType:
        r.verifyType.kind === 'password'
          ? { kind: 'password' }
          : {
              kind: 'integration',
              integrationId: r.verifyType.integrationId,
              title: titles.get(r.verifyType.integrationId) ?? null,
            },
      hasPassword: r.passwordHash !== null,
      roles: [...r.roles],
      disabled: r.disabled,
      entraBinding: r.entraBinding ? { ...r.entraBinding } : null,
      lastLoginAt: r.lastLoginAt,
      sessionsRevokedAt: r.sessionsRevokedAt,
      createdAt: r.createdAt,
      updatedAt: r.updatedAt,
      etag: r.etag,
    };
  }

  async view(r: UserRecord): Promise<User> {
    const titles = new Map<string, string>();
    if (r.verifyType.kind === 'integration') {
      try {
        const i = await this.deps.integrations.get(r.verifyType.integrationId);
        titles.set(i.id, i.title);
      } catch (err) {
        if (!(err instanceof NotFoundError)) throw err;
      }
    }
    return this.toUser(r, titles);
  }

  async viewAll(records: UserRecord[]): Promise<User[]> {
    const titles = new Map<string, string>();
    if (records.some((r) => r.verifyType.kind === 'integration')) {
      for (const i of await this.deps.integrations.list()) titles.set(i.id, i.title);
    }
    return records.map((r) => this.toUser(r, titles));
  }

  // ---------------------------------------------------------------- admin operations

  async requireRecord(username: string): Promise<UserRecord> {
    const r = await this.store.get(username.toLowerCase());
    if (!r) throw new NotFoundError('No such user.', 'user_not_found');
    return r;
  }

  async list(opts: { limit?: number; cursor?: string; verifyType?: string; prefix?: string }): Promise<{
    items: User[];
    nextCursor: string | null;
  }> {
    const after = opts.cursor ? decodeCursor(opts.cursor) : undefined;
    const page = await this.store.list({
      limit: opts.limit ?? DEFAULT_PAGE_SIZE,
      ...(after ? { after } : {}),
      ...(opts.verifyType ? { verifyType: opts.verifyType } : {}),
      ...(opts.prefix ? { prefix: opts.prefix } : {}),
    });
    return {
      items: await this.viewAll(page.items),
      nextCursor: page.after ? encodeCursor(page.after) : null,
    };
  }

  private async resolveVerifyType(input: VerifyTypeInput): Promise<VerifyType> {
    if (input === 'password') return { kind: 'password' };
    if ('integrationId' in input) {
      try {
        const i = await this.deps.integrations.get(input.integrationId);
        return { kind: 'integration', integrationId: i.id };
      } catch (err) {
        if (!(err instanceof NotFoundError)) throw err;
        throw new ValidationError([
          {
            field: 'verifyType.integrationId',
            message: `no integration has the id "${input.integrationId}"`,
          },
        ]);
      }
    }
    const found = await this.deps.integrations.findByTitle(input.title);
    if (!found) {
      throw new ValidationError([
        { field: 'verifyType.title', message: `no integration is titled "${input.title}"` },
      ]);
    }
    return { kind: 'integration', integrationId: found.id };
  }

  private async hashChecked(password: string, username: string): Promise<string> {
    const problems = validatePasswordPolicy(password, { username });
    if (problems.length > 0) {
      throw new ValidationError(problems.map((message) => ({ field: 'password', message })));
    }
    return hashPassword(password);
  }

  async create(input: CreateUserInput, ctx: ChangeContext): Promise<User> {
    const verifyType = await this.resolveVerifyType(input.verifyType);
    const passwordHash =
      input.password !== undefined ? await this.hashChecked(input.password, input.username) : null;
    if (await this.store.get(input.username)) {
      throw new ConflictError('A user with this username already exists.', 'username_taken');
    }
    const now = this.now();
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
    record.id = await this.store.newId(record.username);
    if (record.email) await this.store.claimEmail(record.email, record.username);
    if (record.roles.includes('admin')) await this.store.addAdmin(record.username);
    let saved: UserRecord;
    try {
      saved = await this.store.insert(record);
    } catch (err) {
      if (record.email) await this.store.releaseEmail(record.email, record.username);
      if (record.roles.includes('admin')) await this.store.removeAdmin(record.username);
      await this.store.releaseId(record.id, record.username);
      throw err;
    }
    await this.confirmAssignment(verifyType, async () => {
      await this.store.remove(saved.username, saved.etag);
      await this.store.releaseId(record.id, record.username);
      if (record.email) await this.store.releaseEmail(record.email, record.username);
      if (record.roles.includes('admin')) await this.store.removeAdmin(record.username);
    });
    await this.deps.audit.record({
      type: 'admin.user.created',
      actor: ctx.actor,
      target: `user:${saved.username}`,
      changedFields: Object.keys(input).sort(),
      correlationId: ctx.correlationId,
      clientAddress: ctx.clientAddress,
      securityRelevant: saved.roles.includes('admin'),
      details: { verifyType: verifyType.kind === 'password' ? 'password' : verifyType.integrationId },
    });
    return this.view(saved);
  }

  /**
   * Changes a user. With `If-Match` the change applies to that version only (412 otherwise). Without
   * it the caller asked for "the current version": a write that lost a race with another one is read
   * again and re-applied (up to 5 tries, with jitter), instead of answering 412 to a request that named no version.
   */
  async update(username: string, patch: PatchUserInput, ifMatch: string | undefined, ctx: ChangeContext) {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.updateOnce(username, patch, ifMatch, ctx);
      } catch (err) {
        if (ifMatch !== undefined || !(err instanceof PreconditionFailedError) || attempt >= 5) throw err;
        await new Promise((r) => setTimeout(r, Math.random() * 20 * attempt));
      }
    }
  }

  private async updateOnce(
    username: string,
    patch: PatchUserInput,
    ifMatch: string | undefined,
    ctx: ChangeContext,
  ) {
    const current = await this.requireRecord(username);
    checkIfMatch(ifMatch, current);
    const next: NewUserRecord = { ...current };
    const changed: string[] = [];
    if (patch.displayName !== undefined && patch.displayName !== current.displayName) {
      next.displayName = patch.displayName;
      changed.push('displayName');
    }
    if (patch.email !== undefined && (patch.email ?? null) !== current.email) {
      next.email = patch.email;
      changed.push('email');
    }
    if (patch.verifyType !== undefined) {
      const vt = await this.resolveVerifyType(patch.verifyType);
      if (!sameVerifyType(vt, current.verifyType)) {
        next.verifyType = vt;
        // The binding belongs to the old assignment: the next Entra sign-in binds again.
        next.entraBinding = null;
        changed.push('verifyType');
        if (current.entraBinding) changed.push('entraBinding');
      }
    }
    if (patch.roles !== undefined && !sameRoles(patch.roles, current.roles)) {
      next.roles = [...patch.roles];
      changed.push('roles');
    }
    if (patch.disabled !== undefined && patch.disabled !== current.disabled) {
      next.disabled = patch.disabled;
      changed.push('disabled');
    }
    if (changed.length === 0) return this.view(current);
    next.updatedAt = this.now();
    // Role changes too: session tokens carry the roles, so none may outlive a change of them.
    const revoke =
      (next.disabled && !current.disabled) || changed.includes('verifyType') || changed.includes('roles');
    // In the same write: tokens the OP issued before this instant die with the sessions (OP6).
    if (revoke) next.sessionsRevokedAt = next.updatedAt;
    return this.guardLockout(current, next, async () => {
      const emailChanged = changed.includes('email');
      const becomesAdmin = next.roles.includes('admin') && !current.roles.includes('admin');
      if (emailChanged && next.email) await this.store.claimEmail(next.email, next.username);
      if (becomesAdmin) await this.store.addAdmin(next.username);
      let saved: UserRecord;
      try {
        saved = await this.store.replace(next, current.etag);
      } catch (err) {
        if (emailChanged && next.email) await this.store.releaseEmail(next.email, next.username);
        throw err;
      }
      if (changed.includes('verifyType')) {
        await this.confirmAssignment(next.verifyType, async () => {
          const { etag: _etag, ...before } = current;
          await this.store.replace(before, saved.etag);
          if (emailChanged && next.email) await this.store.releaseEmail(next.email, next.username);
          if (becomesAdmin) await this.store.removeAdmin(next.username);
        });
      }
      if (emailChanged && current.email) await this.store.releaseEmail(current.email, current.username);
      if (current.roles.includes('admin') && !next.roles.includes('admin'))
        await this.store.removeAdmin(next.username);
      if (current.entraBinding && !next.entraBinding) {
        await this.store.releaseBinding(
          current.entraBinding.tenantId,
          current.entraBinding.objectId,
          next.username,
        );
      }
      const revoked = revoke ? await this.deps.sessions.revokeAllForUser(next.username) : 0;
      await this.deps.audit.record({
        type: 'admin.user.updated',
        actor: ctx.actor,
        target: `user:${next.username}`,
        changedFields: changed,
        correlationId: ctx.correlationId,
        clientAddress: ctx.clientAddress,
        securityRelevant: becomesAdmin,
        details: { sessionsRevoked: revoked },
      });
      return this.view(saved);
    });
  }

  async delete(username: string, ifMatch: string | undefined, ctx: ChangeContext): Promise<void> {
    const current = await this.requireRecord(username);
    checkIfMatch(ifMatch, current);
    await this.guardLockout(current, null, async () => {
      await this.store.remove(current.username, current.etag);
      // The id is never reused: with its index row gone, getById answers undefined (tokens refused).
      await this.store.releaseId(current.id, current.username);
      if (current.email) await this.store.releaseEmail(current.email, current.username);
      if (current.roles.includes('admin')) await this.store.removeAdmin(current.username);
      if (current.entraBinding) {
        const b: EntraBinding = current.entraBinding;
        await this.store.releaseBinding(b.tenantId, b.objectId, current.username);
      }
      const revoked = await this.deps.sessions.revokeAllForUser(current.username);
      await this.deps.audit.record({
        type: 'admin.user.deleted',
        actor: ctx.actor,
        target: `user:${current.username}`,
        correlationId: ctx.correlationId,
        clientAddress: ctx.clientAddress,
        details: { sessionsRevoked: revoked },
      });
    });
  }

  /** Sets (or replaces) the user's password; replacing one revokes their sessions. Returns the new etag. */
  async setPassword(username: string, password: string, ifMatch: string | undefined, ctx: ChangeContext) {
    const current = await this.requireRecord(username);
    checkIfMatch(ifMatch, current);
    const passwordHash = await this.hashChecked(password, current.username);
    const at = this.now();
    const saved = await this.store.replace(
      {
        ...current,
        passwordHash,
        updatedAt: at,
        sessionsRevokedAt: current.passwordHash ? at : current.sessionsRevokedAt,
      },
      current.etag,
    );
    const revoked = current.passwordHash ? await this.deps.sessions.revokeAllForUser(current.username) : 0;
    await this.deps.audit.record({
      type: 'admin.user.password_set',
      actor: ctx.actor,
      target: `user:${current.username}`,
      changedFields: ['password'],
      correlationId: ctx.correlationId,
      clientAddress: ctx.clientAddress,
      details: { replaced: current.passwordHash !== null, sessionsRevoked: revoked },
    });
    return saved.etag;
  }

  /** Removes the user's password (no-op without one) and revokes their sessions. Returns the etag. */
  async removePassword(username: string, ifMatch: string | undefined, ctx: ChangeContext) {
    const current = await this.requireRecord(username);
    checkIfMatch(ifMatch, current);
    if (!current.passwordHash) return current.etag;
    const at = this.now();
    const next: NewUserRecord = { ...current, passwordHash: null, updatedAt: at, sessionsRevokedAt: at };
    const saved = await this.guardLockout(current, next, () => this.store.replace(next, current.etag));
    const revoked = await this.deps.sessions.revokeAllForUser(current.username);
    await this.deps.audit.record({
      type: 'admin.user.password_removed',
      actor: ctx.actor,
      target: `user:${current.username}`,
      changedFields: ['password'],
      correlationId: ctx.correlationId,
      clientAddress: ctx.clientAddress,
      details: { sessionsRevoked: revoked },
    });
    return saved.etag;
  }

  /** Forgets the bound Entra identity (no-op when none); the next sign-in binds again. Revokes sessions. */
  async removeBinding(username: string, ifMatch: string | undefined, ctx: ChangeContext) {
    const current = await this.requireRecord(username);
    checkIfMatch(ifMatch, current);
    const b = current.entraBinding;
    if (!b) return current.etag;
    const at = this.now();
    const saved = await this.store.replace(
      { ...current, entraBinding: null, updatedAt: at, sessionsRevokedAt: at },
      current.etag,
    );
    await this.store.releaseBinding(b.tenantId, b.objectId, current.username);
    const revoked = await this.deps.sessions.revokeAllForUser(current.username);
    await this.deps.audit.record({
      type: 'admin.user.binding_removed',
      actor: ctx.actor,
      target: `user:${current.username}`,
      changedFields: ['entraBinding'],
      correlationId: ctx.correlationId,
      clientAddress: ctx.clientAddress,
      details: { tenantId: b.tenantId, objectId: b.objectId, sessionsRevoked: revoked },
    });
    return saved.etag;
  }

  /** Ends every session of the user now (SC4 "revoke all"); returns how many there were. Audited. */
  async revokeSessions(username: string, ctx: ChangeContext): Promise<number> {
    const current = await this.requireRecord(username);
    // One column merge (no etag: it only ever moves forward); the OP refuses older tokens (OP6).
    await this.store.merge(current.username, { sessionsRevokedAt: this.now() });
    const revoked = await this.deps.sessions.revokeAllForUser(current.username);
    await this.deps.audit.record({
      type: 'admin.user.sessions_revoked',
      actor: ctx.actor,
      target: `user:${current.username}`,
      correlationId: ctx.correlationId,
      clientAddress: ctx.clientAddress,
      details: { sessionsRevoked: revoked },
    });
    return revoked;
  }

  /**
   * After a user row that names an integration is written: the integration must still exist and no
   * delete may be under way. A delete marks the row before it counts the assigned users, and this
   * reads the row after the user write, so of the two racing at least one sees the other; when this
   * one does, the user write is undone and the change refused (409 `integration_deleted`).
   */
  private async confirmAssignment(vt: VerifyType, undo: () => Promise<void>): Promise<void> {
    if (vt.kind !== 'integration' || !this.deps.integrations.isAssignable) return;
    if (await this.deps.integrations.isAssignable(vt.integrationId)) return;
    await undo();
    throw new ConflictError(
      'The integration was deleted (or is being deleted) meanwhile; choose another verify type.',
      'integration_deleted',
    );
  }

  // ---------------------------------------------------------------- lock-out guard

  private async canSignIn(
    u: NewUserRecord | null | undefined,
    allowOAuthPasswords: boolean,
    active: () => Promise<Set<string>>,
  ): Promise<boolean> {
    if (!u || u.disabled || !u.roles.includes('admin')) return false;
    if (u.verifyType.kind === 'password') return u.passwordHash !== null;
    if (allowOAuthPasswords && u.passwordHash !== null) return true;
    return (await active()).has(u.verifyType.integrationId);
  }

  private activeIntegrations(): () => Promise<Set<string>> {
    let cached: Promise<Set<string>> | undefined;
    return () => {
      cached ??= this.deps.integrations
        .list()
        .then((list) => new Set(list.filter((i) => i.status === 'active').map((i) => i.id)));
      return cached;
    };
  }

  private lockoutError(): ConflictError {
    return new ConflictError(
      'This change would leave no enabled admin user who can sign in (with a password or an active integration).',
      'last_admin',
    );
  }

  /**
   * Lock-out guard: refuses (409 `last_admin`) a change to one user that takes away the last enabled
   * admin with a usable sign-in method. Cheap: only when the changed user could sign in as an admin
   * before and cannot after are the other admins (the admin index partition) read, and only then is
   * the guard's lease taken: the check and the caller's writes (`change`) run while holding it, so two
   * such changes at once cannot both pass (each sees the other's result).
   */
  private async guardLockout<T>(current: UserRecord, next: NewUserRecord | null, change: () => Promise<T>) {
    const reduces = async () => {
      const { allowOAuthPasswords } = await (this.deps.settings.read ?? this.deps.settings.get).call(
        this.deps.settings,
      );
      const active = this.activeIntegrations();
      const taken =
        (await this.canSignIn(current, allowOAuthPasswords, active)) &&
        !(await this.canSignIn(next, allowOAuthPasswords, active));
      return { taken, allowOAuthPasswords, active };
    };
    if (!(await reduces()).taken) return change();
    const release = await this.store.acquireLockoutLease();
    try {
      // Read again under the lease: the user row and the settings may have changed meanwhile (the
      // user row's etag also guards the write).
      const fresh = await this.store.get(current.username);
      if (fresh?.etag !== current.etag) throw new PreconditionFailedError();
      const { taken, allowOAuthPasswords, active } = await reduces();
      if (!taken) return await change();
      for (const name of await this.store.adminUsernames()) {
        if (name === current.username) continue;
        if (await this.canSignIn(await this.store.get(name), allowOAuthPasswords, active))
          return await change();
      }
      throw this.lockoutError();
    } finally {
      await release();
    }
  }

  /**
   * The same guard for a settings change (turning Allow OAuth Passwords off), under the same lease:
   * returns its release, which the settings service calls after writing.
   */
  async guardSettingsChange(
    before: { allowOAuthPasswords: boolean },
    after: { allowOAuthPasswords: boolean },
  ): Promise<(() => Promise<void>) | undefined> {
    if (before.allowOAuthPasswords === after.allowOAuthPasswords || after.allowOAuthPasswords) return;
    const release = await this.store.acquireLockoutLease();
    try {
      const active = this.activeIntegrations();
      let usableBefore = false;
      for (const name of await this.store.adminUsernames()) {
        const u = await this.store.get(name);
        if (await this.canSignIn(u, after.allowOAuthPasswords, active)) return release;
        usableBefore ||= await this.canSignIn(u, before.allowOAuthPasswords, active);
      }
      if (usableBefore) throw this.lockoutError();
      return release;
    } catch (err) {
      await release();
      throw err;
    }
  }
}
