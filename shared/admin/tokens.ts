import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { TableClient } from '@azure/data-tables';
import { z } from 'zod';
import type { AuditLog, ChangeContext } from '../audit/log.ts';
import type { Clock } from '../core/clock.ts';
import { NotFoundError } from '../core/errors.ts';
import {
  deleteEntityIfExists,
  getEntityOrUndefined,
  isNotFound,
  isPreconditionFailed,
  odataString,
} from '../storage/tables.ts';
import { type Caller, ownerKey } from './caller.ts';
import { requireRecentSignIn } from './fresh-sign-in.ts';

/**
 * Admin API tokens: `brk.<id>.<secret>`, 256-bit secret, stored only as a SHA-256 hash (the secret
 * is random, so a fast hash is enough). Revoking deletes the row; expiry is checked on every use.
 */

const PARTITION = 'token';
const TOKEN_FORMAT = /^brk\.([0-9a-f]{32})\.([A-Za-z0-9_-]{43})$/;
/** lastUsedAt is written at most this often per token, so busy admins do not cost a write per request. */
const LAST_USED_RESOLUTION_MS = 60_000;

export const createTokenSchema = z
  .object({
    name: z
      .string()
      .trim()
      .min(1)
      .max(100)
      .regex(/^[\p{L}\p{N} ._@-]+$/u, 'may contain letters, digits, spaces and . _ @ - only'),
    expiresInDays: z.number().int().min(1).max(730).optional(),
  })
  .strict();

export type CreateTokenInput = z.output<typeof createTokenSchema>;

export interface AdminTokenInfo {
  id: string;
  name: string;
  createdAt: string;
  expiresAt: string;
  lastUsedAt: string | null;
  createdBy: string;
  /** Set when an admin created the token with their browser session: the token lives only while they stay an admin. */
  onBehalfOf: string | null;
}

interface TokenEntity {
  name: string;
  hash: string;
  createdAt: string;
  expiresAt: string;
  lastUsedAt?: string;
  createdBy: string;
  onBehalfOf?: string;
}

const hashSecret = (secret: string) => createHash('sha256').update(secret, 'utf8').digest('hex');

function toInfo(id: string, e: TokenEntity): AdminTokenInfo {
  return {
    id,
    name: e.name,
    createdAt: e.createdAt,
    expiresAt: e.expiresAt,
    lastUsedAt: e.lastUsedAt ?? null,
    createdBy: e.createdBy,
    onBehalfOf: e.onBehalfOf || null,
  };
}

export class AdminTokenService {
  constructor(
    private readonly table: TableClient,
    private readonly clock: Clock,
    private readonly audit: AuditLog,
  ) {}

  /**
   * An admin creates a token through the management API. A token outlives the session that makes
   * it, so a browser session needs a recent sign-in (docs/security.md AD5). A token made by a session,
   * or by a token tied to an admin, is tied to that admin too. Audited.
   */
  async issue(
    input: CreateTokenInput,
    caller: Caller | undefined,
    ctx: ChangeContext = {},
  ): Promise<AdminTokenInfo & { token: string }> {
    requireRecentSignIn(caller, this.clock);
    const actor = caller?.name ?? 'unknown';
    const onBehalfOf =
      caller?.kind === 'session' ? ownerKey(caller.username, caller.userCreatedAt) : caller?.onBehalfOf;
    const created = await this.create(input, actor, onBehalfOf ?? undefined);
    await this.audit.record({
      type: 'admin.token.created',
      actor,
      target: `token:${created.id}`,
      changedFields: ['name', 'expiresAt'],
      ...ctx,
      details: { name: created.name },
    });
    return created;
  }

  async create(
    input: CreateTokenInput,
    createdBy: string,
    onBehalfOf?: string,
  ): Promise<AdminTokenInfo & { token: string }> {
    const id = randomBytes(16).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    const now = this.clock.now();
    const entity: TokenEntity = {
      name: input.name,
      hash: hashSecret(secret),
      createdAt: new Date(now).toISOString(),
      expiresAt: new Date(now + (input.expiresInDays ?? 90) * 86_400_000).toISOString(),
      createdBy,
      ...(onBehalfOf ? { onBehalfOf } : {}),
    };
    await this.table.createEntity({ partitionKey: PARTITION, rowKey: id, ...entity });
    return { ...toInfo(id, entity), token: `brk.${id}.${secret}` };
  }

  async list(): Promise<AdminTokenInfo[]> {
    const items: AdminTokenInfo[] = [];
    const pages = this.table
      .listEntities<TokenEntity>({ queryOptions: { filter: `PartitionKey eq '${PARTITION}'` } })
      .byPage({ maxPageSize: 1000 });
    for await (const page of pages) {
      for (const e of page) items.push(toInfo(e.rowKey as string, e));
      if (items.length >= 1000) break;
    }
    return items.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  /** Revokes (deletes) the token at once; audited. */
  async revoke(id: string, actor: string, ctx: ChangeContext = {}): Promise<void> {
    if (!/^[0-9a-f]{32}$/.test(id)) throw new NotFoundError('No such token.');
    try {
      await this.table.deleteEntity(PARTITION, id);
    } catch (err) {
      if (isNotFound(err)) throw new NotFoundError('No such token.');
      throw err;
    }
    await this.audit.record({ type: 'admin.token.revoked', actor, target: `token:${id}`, ...ctx });
  }

  /**
   * Revokes every token made on behalf of `owner` (`ownerKey`): a demoted, disabled or deleted admin's
   * tokens are gone, not merely suspended, so a token leaked meanwhile never works again, even after
   * a re-promotion. Returns how many were revoked.
   */
  async revokeOwnedBy(owner: string): Promise<number> {
    const filter = `PartitionKey eq '${PARTITION}' and onBehalfOf eq ${odataString(owner)}`;
    const ids: string[] = [];
    for await (const e of this.table.listEntities<TokenEntity>({
      queryOptions: { filter, select: ['RowKey'] },
    })) {
      ids.push(e.rowKey as string);
    }
    await Promise.all(ids.map((id) => deleteEntityIfExists(this.table, PARTITION, id)));
    return ids.length;
  }

  /** Returns the token's info when `presented` is a valid, unexpired token; undefined otherwise. */
  async verify(presented: string): Promise<AdminTokenInfo | undefined> {
    return (await this.check(presented)).info;
  }

  /**
   * `verify`, also saying which existing token a failed credential named (`knownId`: a wrong secret or
   * an expired token), so failures can be counted per token instead of per address.
   */
  async check(presented: string): Promise<{ info?: AdminTokenInfo; knownId?: string }> {
    const m = TOKEN_FORMAT.exec(presented);
    if (!m) return {};
    const [, id, secret] = m as unknown as [string, string, string];
    const entity = await getEntityOrUndefined<TokenEntity>(this.table, PARTITION, id);
    if (!entity) return {};
    const expected = Buffer.from(entity.hash, 'hex');
    const actual = Buffer.from(hashSecret(secret), 'hex');
    if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) return { knownId: id };
    const now = this.clock.now();
    if (Date.parse(entity.expiresAt) <= now) return { knownId: id };
    const lastUsed = entity.lastUsedAt ? Date.parse(entity.lastUsedAt) : 0;
    if (now - lastUsed >= LAST_USED_RESOLUTION_MS) {
      const lastUsedAt = new Date(now).toISOString();
      try {
        await this.table.updateEntity({ partitionKey: PARTITION, rowKey: id, lastUsedAt }, 'Merge', {
          etag: entity.etag,
        });
        entity.lastUsedAt = lastUsedAt;
      } catch (err) {
        // Another request recorded the use first, or the token was revoked meanwhile.
        if (isNotFound(err)) return {};
        if (!isPreconditionFailed(err)) throw err;
      }
    }
    return { info: toInfo(id, entity), knownId: id };
  }
}
