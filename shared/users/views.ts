import { NotFoundError } from '../core/errors.ts';
import type { IntegrationLookup } from './ports.ts';
import type { UserRecord } from './records.ts';
import type { User } from './schemas.ts';

/** The User resource: `hasPassword`, never the hash; the integration's current title. */
export function toUser(r: UserRecord, titles: Map<string, string>): User {
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
    groupRoles: [...(r.groupRoles ?? [])],
    provisionedBy: r.provisionedBy ?? null,
    disabled: r.disabled,
    entraBinding: r.entraBinding ? { ...r.entraBinding } : null,
    lastLoginAt: r.lastLoginAt,
    sessionsRevokedAt: r.sessionsRevokedAt,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    etag: r.etag,
  };
}

/** One user: the title of its integration by one lookup (a deleted integration shows no title). */
export async function viewUser(integrations: IntegrationLookup, r: UserRecord): Promise<User> {
  const titles = new Map<string, string>();
  if (r.verifyType.kind === 'integration') {
    try {
      const i = await integrations.get(r.verifyType.integrationId);
      titles.set(i.id, i.title);
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
    }
  }
  return toUser(r, titles);
}

/** A page of users: the integration titles by one listing, not one lookup per user. */
export async function viewUsers(integrations: IntegrationLookup, records: UserRecord[]): Promise<User[]> {
  const titles = new Map<string, string>();
  if (records.some((r) => r.verifyType.kind === 'integration')) {
    for (const i of await integrations.list()) titles.set(i.id, i.title);
  }
  return records.map((r) => toUser(r, titles));
}
