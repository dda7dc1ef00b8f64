import { ConflictError, PreconditionFailedError } from '../core/errors.ts';
import type { IntegrationLookup, SettingsReader } from './ports.ts';
import type { NewUserRecord, UserRecord } from './records.ts';
import type { UserStore } from './store.ts';

/**
 * The lock-out guard: no change may take away the last enabled admin with a usable sign-in method (a
 * password, or an active integration; an integration admin's password counts while Allow OAuth
 * Passwords is on). Guarded are changes to one user (`guardUserChange`) and turning Allow OAuth
 * Passwords off (`settingsChangeGuard`); both run their check and their writes under the same lease
 * (`UserStore.acquireLockoutLease`), so two such changes at once cannot both pass.
 */

export interface LockoutDeps {
  store: Pick<UserStore, 'get' | 'adminUsernames' | 'acquireLockoutLease'>;
  integrations: Pick<IntegrationLookup, 'list'>;
}

async function canSignIn(
  u: NewUserRecord | null | undefined,
  allowOAuthPasswords: boolean,
  active: () => Promise<Set<string>>,
): Promise<boolean> {
  if (!u || u.disabled || !u.roles.includes('admin')) return false;
  if (u.verifyType.kind === 'password') return u.passwordHash !== null;
  if (allowOAuthPasswords && u.passwordHash !== null) return true;
  return (await active()).has(u.verifyType.integrationId);
}

/** The ids of the active integrations, listed at most once per check. */
function activeIntegrations(integrations: LockoutDeps['integrations']): () => Promise<Set<string>> {
  let cached: Promise<Set<string>> | undefined;
  return () => {
    cached ??= integrations
      .list()
      .then((list) => new Set(list.filter((i) => i.status === 'active').map((i) => i.id)));
    return cached;
  };
}

function lockoutError(): ConflictError {
  return new ConflictError(
    'This change would leave no enabled admin user who can sign in (with a password or an active integration).',
    'last_admin',
  );
}

/**
 * Refuses (409 `last_admin`) a change to one user (`next`; null for a delete) that takes away the last
 * enabled admin with a usable sign-in method. Cheap: only when the changed user could sign in as an
 * admin before and cannot after are the other admins (the admin index partition) read, and only then
 * is the lease taken: the check and the caller's writes (`change`) run while holding it.
 */
export async function guardUserChange<T>(
  deps: LockoutDeps & { settings: SettingsReader },
  current: UserRecord,
  next: NewUserRecord | null,
  change: () => Promise<T>,
): Promise<T> {
  const reduces = async () => {
    const { allowOAuthPasswords } = await (deps.settings.read ?? deps.settings.get).call(deps.settings);
    const active = activeIntegrations(deps.integrations);
    const taken =
      (await canSignIn(current, allowOAuthPasswords, active)) &&
      !(await canSignIn(next, allowOAuthPasswords, active));
    return { taken, allowOAuthPasswords, active };
  };
  if (!(await reduces()).taken) return change();
  const release = await deps.store.acquireLockoutLease();
  try {
    // Read again under the lease: the user row and the settings may have changed meanwhile (the
    // user row's etag also guards the write).
    const fresh = await deps.store.get(current.username);
    if (fresh?.etag !== current.etag) throw new PreconditionFailedError();
    const { taken, allowOAuthPasswords, active } = await reduces();
    if (!taken) return await change();
    for (const name of await deps.store.adminUsernames()) {
      if (name === current.username) continue;
      if (await canSignIn(await deps.store.get(name), allowOAuthPasswords, active)) return await change();
    }
    throw lockoutError();
  } finally {
    await release();
  }
}

/**
 * The guard of a settings change (turning Allow OAuth Passwords off), for the settings service: under
 * the same lease, returning its release, which the settings service calls after writing.
 */
export function settingsChangeGuard(deps: LockoutDeps) {
  return async (
    before: { allowOAuthPasswords: boolean },
    after: { allowOAuthPasswords: boolean },
  ): Promise<(() => Promise<void>) | undefined> => {
    if (before.allowOAuthPasswords === after.allowOAuthPasswords || after.allowOAuthPasswords) return;
    const release = await deps.store.acquireLockoutLease();
    try {
      const active = activeIntegrations(deps.integrations);
      let usableBefore = false;
      for (const name of await deps.store.adminUsernames()) {
        const u = await deps.store.get(name);
        if (await canSignIn(u, after.allowOAuthPasswords, active)) return release;
        usableBefore ||= await canSignIn(u, before.allowOAuthPasswords, active);
      }
      if (usableBefore) throw lockoutError();
      return release;
    } catch (err) {
      await release();
      throw err;
    }
  };
}
