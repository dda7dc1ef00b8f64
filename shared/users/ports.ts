import type { AuditLog, ChangeContext as RequestChangeContext } from '../audit/log.ts';
import type { Clock } from '../core/clock.ts';
import type { SessionStore } from '../sessions/store.ts';
import type { UserStore } from './store.ts';

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

/** The admin API tokens an admin made with their session (shared/admin/tokens.ts, by owner). */
export interface AdminTokensOfUser {
  /** Revokes the tokens made on behalf of this account (username and creation time); how many. */
  revokeOwnedBy(username: string, userCreatedAt: string): Promise<number>;
}

export interface UserServiceDeps {
  store: UserStore;
  /** Tokens an admin made die when the account stops being an enabled admin. */
  adminTokens?: AdminTokensOfUser;
  integrations: IntegrationLookup;
  settings: SettingsReader;
  sessions: Pick<SessionStore, 'revokeAllForUser'>;
  audit: AuditLog;
  clock: Clock;
}
