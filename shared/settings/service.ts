import type { TableClient } from '@azure/data-tables';
import { z } from 'zod';
import type { Caller } from '../admin/caller.ts';
import { requireRecentSignIn } from '../admin/fresh-sign-in.ts';
import type { AuditLog } from '../audit/log.ts';
import type { Clock } from '../core/clock.ts';
import { PreconditionFailedError } from '../core/errors.ts';
import { getEntityOrUndefined, isConflict, replaceIfMatch } from '../storage/tables.ts';

/**
 * Global settings (one row in the Settings table: PartitionKey `settings`, RowKey `global`).
 *
 * `get()` is cached per instance for SETTINGS_CACHE_TTL_MS (2 s): docs/security.md PW1's "read fresh" holds within
 * that window on other instances (a change made on this instance is seen here at once). Every change
 * is audited with the names of the changed fields; turning Allow OAuth Passwords on is marked
 * security-relevant (it lets integration users skip Entra's MFA and Conditional Access).
 */

export const SETTINGS_CACHE_TTL_MS = 2_000;
export const SETTINGS_PARTITION = 'settings';
export const SETTINGS_ROW = 'global';
export const MAX_RETURN_ORIGINS = 50;
/** Audit events are kept this many days by default; the maintenance timer deletes older months. */
export const DEFAULT_AUDIT_RETENTION_DAYS = 400;
export const MIN_AUDIT_RETENTION_DAYS = 31;
export const MAX_AUDIT_RETENTION_DAYS = 3650;

export interface Settings {
  allowOAuthPasswords: boolean;
  sessionLifetimeMinutes: number;
  allowedReturnOrigins: string[];
  /** Audit events older than this many days are deleted (by whole months) by the maintenance timer. */
  auditRetentionDays: number;
  etag: string;
}

export const DEFAULT_SETTINGS: Omit<Settings, 'etag'> = {
  allowOAuthPasswords: false,
  sessionLifetimeMinutes: 480,
  allowedReturnOrigins: [],
  auditRetentionDays: DEFAULT_AUDIT_RETENTION_DAYS,
};

/**
 * An https origin: scheme, host and optional port; no path (a single trailing `/` is tolerated), no
 * query, fragment, userinfo or wildcard. Answers the WHATWG serialisation (lower-case host, punycode,
 * default port dropped), or undefined when `raw` is not such an origin.
 */
export function normalizeOrigin(raw: string): string | undefined {
  if (raw.length > 300 || !/^https:\/\/[^/?#@\\\s*]+\/?$/i.test(raw)) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'https:' || url.username || url.password || url.pathname !== '/') return undefined;
  if (url.search || url.hash || !url.hostname || url.hostname.includes('*')) return undefined;
  return url.origin;
}

export const settingsPatchSchema = z
  .object({
    allowOAuthPasswords: z.boolean().optional(),
    sessionLifetimeMinutes: z
      .number()
      .int('must be a whole number of minutes')
      .min(5, 'must be at least 5')
      .max(1440, 'must be at most 1440')
      .optional(),
    allowedReturnOrigins: z
      .array(
        z
          .string()
          .max(300, 'must be at most 300 characters')
          .refine(
            (v) => normalizeOrigin(v) !== undefined,
            'must be an https origin (https://host[:port]) without path, query, userinfo or wildcard',
          ),
      )
      .max(MAX_RETURN_ORIGINS, `must list at most ${MAX_RETURN_ORIGINS} origins`)
      .optional(),
    auditRetentionDays: z
      .number()
      .int('must be a whole number of days')
      .min(MIN_AUDIT_RETENTION_DAYS, `must be at least ${MIN_AUDIT_RETENTION_DAYS}`)
      .max(MAX_AUDIT_RETENTION_DAYS, `must be at most ${MAX_AUDIT_RETENTION_DAYS}`)
      .optional(),
  })
  .strict()
  .refine((v) => Object.values(v).some((x) => x !== undefined), {
    message:
      'must change at least one of allowOAuthPasswords, sessionLifetimeMinutes, allowedReturnOrigins, auditRetentionDays',
  });
export type SettingsPatch = z.output<typeof settingsPatchSchema>;

export const settingsSchema = z.object({
  allowOAuthPasswords: z.boolean(),
  sessionLifetimeMinutes: z.number().int(),
  allowedReturnOrigins: z.array(z.string()),
  auditRetentionDays: z.number().int(),
  etag: z.string(),
});

interface SettingsEntity {
  allowOAuthPasswords: boolean;
  sessionLifetimeMinutes: number;
  allowedReturnOrigins: string;
  auditRetentionDays?: number;
  updatedAt: string;
  updatedBy: string;
}

export interface SettingsChangeContext {
  actor: string;
  correlationId?: string;
  clientAddress?: string;
}

/**
 * Called before a change is written (the lock-out guard); throws to refuse it. May return a release
 * function: the write is then done before it is called (the guard's lease is held across the write).
 */
export type SettingsChangeGuard = (
  before: Omit<Settings, 'etag'>,
  after: Omit<Settings, 'etag'>,
) => Promise<void | (() => Promise<void>)>;

function fromEntity(e: Partial<SettingsEntity> & { etag: string }): Settings {
  let origins: string[] = [];
  try {
    const parsed = JSON.parse(e.allowedReturnOrigins ?? '[]');
    if (Array.isArray(parsed)) origins = parsed.filter((o): o is string => typeof o === 'string');
  } catch {
    origins = [];
  }
  return {
    allowOAuthPasswords: e.allowOAuthPasswords === true,
    sessionLifetimeMinutes:
      typeof e.sessionLifetimeMinutes === 'number'
        ? e.sessionLifetimeMinutes
        : DEFAULT_SETTINGS.sessionLifetimeMinutes,
    allowedReturnOrigins: origins,
    auditRetentionDays:
      typeof e.auditRetentionDays === 'number' &&
      e.auditRetentionDays >= MIN_AUDIT_RETENTION_DAYS &&
      e.auditRetentionDays <= MAX_AUDIT_RETENTION_DAYS
        ? e.auditRetentionDays
        : DEFAULT_AUDIT_RETENTION_DAYS,
    etag: e.etag,
  };
}

export class SettingsService {
  private cache: { value: Settings; until: number } | undefined;

  constructor(
    private readonly table: TableClient,
    private readonly audit: AuditLog,
    private readonly clock: Clock,
    /** The lock-out guard (made from the users store, which exists before this service). */
    private readonly guard?: SettingsChangeGuard,
  ) {}

  /** The settings, at most SETTINGS_CACHE_TTL_MS old. */
  async get(): Promise<Settings> {
    const now = this.clock.now();
    if (this.cache && this.cache.until > now && this.cache.until - now <= SETTINGS_CACHE_TTL_MS) {
      return this.cache.value;
    }
    return this.read();
  }

  /** Reads the row (creating it with the defaults on first use, so it always has an etag). */
  async read(): Promise<Settings> {
    let e = await getEntityOrUndefined<SettingsEntity>(this.table, SETTINGS_PARTITION, SETTINGS_ROW);
    if (!e) {
      try {
        await this.table.createEntity({
          partitionKey: SETTINGS_PARTITION,
          rowKey: SETTINGS_ROW,
          allowOAuthPasswords: DEFAULT_SETTINGS.allowOAuthPasswords,
          sessionLifetimeMinutes: DEFAULT_SETTINGS.sessionLifetimeMinutes,
          allowedReturnOrigins: '[]',
          auditRetentionDays: DEFAULT_SETTINGS.auditRetentionDays,
          updatedAt: new Date(this.clock.now()).toISOString(),
          updatedBy: 'system',
        });
      } catch (err) {
        if (!isConflict(err)) throw err;
      }
      e = await getEntityOrUndefined<SettingsEntity>(this.table, SETTINGS_PARTITION, SETTINGS_ROW);
      if (!e) throw new Error('settings row vanished');
    }
    const value = fromEntity(e);
    this.cache = { value, until: this.clock.now() + SETTINGS_CACHE_TTL_MS };
    return value;
  }

  /**
   * Applies `patch` if the row still has `ifMatch` (when given); 412 otherwise. Audited. With a
   * browser session, turning on Allow OAuth Passwords (it skips Entra's MFA), changing where
   * sign-ins may be sent back to and shortening the audit retention (the next purge deletes the
   * history it no longer covers) need a recent sign-in (docs/security.md AD5).
   */
  async update(
    patch: SettingsPatch,
    ifMatch: string | undefined,
    ctx: SettingsChangeContext,
    caller?: Caller,
  ): Promise<Settings> {
    if (patch.allowOAuthPasswords === true || patch.allowedReturnOrigins !== undefined) {
      requireRecentSignIn(caller, this.clock);
    }
    const current = await this.read();
    if (patch.auditRetentionDays !== undefined && patch.auditRetentionDays < current.auditRetentionDays) {
      requireRecentSignIn(caller, this.clock);
    }
    if (ifMatch !== undefined && ifMatch !== '*' && ifMatch !== current.etag)
      throw new PreconditionFailedError();
    const next = {
      allowOAuthPasswords: patch.allowOAuthPasswords ?? current.allowOAuthPasswords,
      sessionLifetimeMinutes: patch.sessionLifetimeMinutes ?? current.sessionLifetimeMinutes,
      allowedReturnOrigins:
        patch.allowedReturnOrigins !== undefined
          ? [...new Set(patch.allowedReturnOrigins.map((o) => normalizeOrigin(o) as string))]
          : current.allowedReturnOrigins,
      auditRetentionDays: patch.auditRetentionDays ?? current.auditRetentionDays,
    };
    const changed: string[] = [];
    if (next.allowOAuthPasswords !== current.allowOAuthPasswords) changed.push('allowOAuthPasswords');
    if (next.sessionLifetimeMinutes !== current.sessionLifetimeMinutes)
      changed.push('sessionLifetimeMinutes');
    if (JSON.stringify(next.allowedReturnOrigins) !== JSON.stringify(current.allowedReturnOrigins)) {
      changed.push('allowedReturnOrigins');
    }
    if (next.auditRetentionDays !== current.auditRetentionDays) changed.push('auditRetentionDays');
    if (changed.length === 0) return current;
    const release = this.guard ? await this.guard(current, next) : undefined;
    let etag: string;
    try {
      etag = await replaceIfMatch(
        this.table,
        {
          partitionKey: SETTINGS_PARTITION,
          rowKey: SETTINGS_ROW,
          allowOAuthPasswords: next.allowOAuthPasswords,
          sessionLifetimeMinutes: next.sessionLifetimeMinutes,
          allowedReturnOrigins: JSON.stringify(next.allowedReturnOrigins),
          auditRetentionDays: next.auditRetentionDays,
          updatedAt: new Date(this.clock.now()).toISOString(),
          updatedBy: ctx.actor,
        },
        current.etag,
      );
    } finally {
      await release?.();
    }
    const value: Settings = { ...next, etag };
    this.cache = { value, until: this.clock.now() + SETTINGS_CACHE_TTL_MS };
    const turnedOn = next.allowOAuthPasswords && !current.allowOAuthPasswords;
    await this.audit.record({
      type: 'admin.settings.updated',
      actor: ctx.actor,
      target: 'settings:global',
      changedFields: changed,
      correlationId: ctx.correlationId,
      clientAddress: ctx.clientAddress,
      securityRelevant: turnedOn,
      details: {
        allowOAuthPasswords: next.allowOAuthPasswords,
        sessionLifetimeMinutes: next.sessionLifetimeMinutes,
        allowedReturnOriginsCount: next.allowedReturnOrigins.length,
        auditRetentionDays: next.auditRetentionDays,
      },
    });
    return value;
  }
}
