import type { TableClient } from '@azure/data-tables';
import type { Clock } from '../core/clock.ts';
import { getEntityOrUndefined, isNotFound, odataString } from '../storage/tables.ts';

/**
 * Session rows (the Sessions table): one per signed-in browser, keyed (username, session id), so a
 * session check is a point read and "revoke all of a user's sessions" is one partition query.
 * A session is valid only while its row exists and has not passed its idle or absolute timeout.
 */

export type SessionMethod = 'password' | 'entra';

export interface SessionRecord {
  username: string;
  sessionId: string;
  method: SessionMethod;
  integrationId: string | null;
  createdAt: string;
  /** Absolute timeout. */
  expiresAt: string;
  lastSeenAt: string;
  /** When the user last proved who they are (for fresh-authentication checks). */
  authTime: string;
  clientAddress: string;
  etag: string;
}

interface SessionEntity {
  method: SessionMethod;
  integrationId: string;
  createdAt: string;
  expiresAt: string;
  lastSeenAt: string;
  authTime: string;
  clientAddress: string;
}

/** lastSeenAt is written at most this often, so an active session does not cost a write per request. */
export const LAST_SEEN_RESOLUTION_MS = 60_000;

export const sessionPartition = (username: string) => username.toLowerCase();

export class SessionStore {
  constructor(
    readonly table: TableClient,
    private readonly clock: Clock,
    /**
     * Told of every session that ends here (sign-out, revocation, idle or absolute end found on use),
     * in parallel with the row's delete: the OP queues the back-channel logouts it owes.
     */
    private readonly onEnded?: (username: string, sessionId: string) => Promise<void>,
  ) {}

  async create(s: Omit<SessionRecord, 'etag' | 'lastSeenAt'>): Promise<SessionRecord> {
    const lastSeenAt = s.createdAt;
    const entity: SessionEntity = {
      method: s.method,
      integrationId: s.integrationId ?? '',
      createdAt: s.createdAt,
      expiresAt: s.expiresAt,
      lastSeenAt,
      authTime: s.authTime,
      clientAddress: s.clientAddress,
    };
    const res = await this.table.createEntity({
      partitionKey: sessionPartition(s.username),
      rowKey: s.sessionId,
      ...entity,
    });
    return { ...s, lastSeenAt, etag: res.etag ?? '' };
  }

  async get(username: string, sessionId: string): Promise<SessionRecord | undefined> {
    const e = await getEntityOrUndefined<SessionEntity>(this.table, sessionPartition(username), sessionId);
    if (!e) return undefined;
    return {
      username: sessionPartition(username),
      sessionId,
      method: e.method,
      integrationId: e.integrationId || null,
      createdAt: e.createdAt,
      expiresAt: e.expiresAt,
      lastSeenAt: e.lastSeenAt,
      authTime: e.authTime,
      clientAddress: e.clientAddress,
      etag: e.etag,
    };
  }

  /** Records activity for the idle timeout (at most once a minute). */
  async touch(s: SessionRecord): Promise<void> {
    const now = this.clock.now();
    if (now - Date.parse(s.lastSeenAt) < LAST_SEEN_RESOLUTION_MS) return;
    try {
      await this.table.updateEntity(
        {
          partitionKey: sessionPartition(s.username),
          rowKey: s.sessionId,
          lastSeenAt: new Date(now).toISOString(),
        },
        'Merge',
      );
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  /** Revokes one session. Returns false when it did not exist. */
  async revoke(username: string, sessionId: string): Promise<boolean> {
    const deleting = this.table.deleteEntity(sessionPartition(username), sessionId).then(
      () => true,
      (err: unknown) => {
        if (isNotFound(err)) return false;
        throw err;
      },
    );
    const [deleted] = await Promise.all([deleting, this.onEnded?.(sessionPartition(username), sessionId)]);
    return deleted;
  }

  /** Revokes every session of a user (disable, delete, verify type change, binding change). Returns how many. */
  async revokeAllForUser(username: string): Promise<number> {
    let count = 0;
    const filter = `PartitionKey eq ${odataString(sessionPartition(username))}`;
    for await (const page of this.table
      .listEntities({ queryOptions: { filter, select: ['RowKey'] } })
      .byPage({ maxPageSize: 1000 })) {
      await Promise.all(
        page.map(async (e) => {
          if (await this.revoke(username, e.rowKey as string)) count++;
        }),
      );
    }
    return count;
  }
}
