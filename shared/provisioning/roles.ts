import { isPreconditionFailed } from '../storage/tables.ts';
import type { UserService } from '../users/service.ts';
import type { ScimCaller } from './auth.ts';
import type { GroupEntity, ProvisioningStore } from './store.ts';

/** The role `groupRoles` maps a group to: by its Entra object id (externalId) or its displayName. */
export function roleOfGroup(
  groupRoles: Record<string, string>,
  g: Pick<GroupEntity, 'displayName' | 'externalId'>,
) {
  const keys = [g.externalId, g.displayName].filter((k): k is string => !!k).map((k) => k.toLowerCase());
  for (const [key, role] of Object.entries(groupRoles)) if (keys.includes(key.toLowerCase())) return role;
  return undefined;
}

/**
 * Recomputes a user's group roles from the groups they are in (docs/security.md SP4: only what
 * `groupRoles` maps, never anything else). The user row's `groupRoles` column is written conditional
 * on the row read before the memberships, so two membership changes at once cannot leave a stale
 * list. A role taken away ends the user's sessions: they carry the roles.
 */
export async function recomputeGroupRoles(
  users: UserService,
  store: ProvisioningStore,
  caller: ScimCaller,
  userId: string,
  groups: Map<string, GroupEntity | undefined>,
): Promise<void> {
  for (let attempt = 1; attempt <= 20; attempt++) {
    const user = await users.getById(userId);
    if (!user) return;
    const roles = new Set<string>();
    for (const gid of await store.groupIdsOf(userId)) {
      if (!groups.has(gid)) groups.set(gid, await store.getGroup(caller.integrationId, gid));
      const g = groups.get(gid);
      const role = g ? roleOfGroup(caller.groupRoles, g) : undefined;
      if (role) roles.add(role);
    }
    const next = [...roles].sort();
    const before = [...(user.groupRoles ?? [])].sort();
    if (next.join('\n') === before.join('\n')) return;
    const removed = before.some((r) => !roles.has(r));
    const now = new Date().toISOString();
    try {
      await users.store.merge(
        user.username,
        { groupRoles: JSON.stringify(next), updatedAt: now, ...(removed ? { sessionsRevokedAt: now } : {}) },
        user.etag,
      );
    } catch (err) {
      if (isPreconditionFailed(err) || (err as { status?: number }).status === 412) continue;
      throw err;
    }
    if (removed) {
      await users.revokeSessions(user.username, { actor: caller.actor });
    }
    return;
  }
}
