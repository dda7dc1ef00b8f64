import { userPartition } from './partitions.ts';

/**
 * The user record and its row in the Users table (`u<h>`/<username>, see partitions.ts): the record
 * the services work with, and the mapping to and from the stored columns.
 */

/** A role name (`ROLE_NAME_PATTERN` in schemas.ts); `admin` is the broker's own. */
export type Role = string;
export type VerifyType = { kind: 'password' } | { kind: 'integration'; integrationId: string };

export interface EntraBinding {
  tenantId: string;
  objectId: string;
  boundAt: string;
}

/** The internal user record (holds the password hash: never send it anywhere). */
export interface UserRecord {
  /** Immutable random id (the OP's `sub`); never reused. */
  id: string;
  username: string;
  displayName: string;
  email: string | null;
  verifyType: VerifyType;
  passwordHash: string | null;
  roles: Role[];
  /**
   * Roles from the Entra groups the user is a member of (provisioning's `groupRoles`), kept apart
   * from the roles an admin sets: both reach tokens (`effectiveRoles`); broker admin rights come from
   * `roles` only, so provisioning never makes a broker admin (docs/security.md SP4).
   */
  groupRoles?: Role[];
  /** The integration whose provisioning (SCIM) created or took over this user. */
  provisionedBy?: string | null;
  disabled: boolean;
  entraBinding: EntraBinding | null;
  lastLoginAt: string | null;
  /** Set whenever all the user's sessions are ended; tokens issued before it are dead (docs/security.md OP6). */
  sessionsRevokedAt: string | null;
  createdAt: string;
  updatedAt: string;
  etag: string;
}

export type NewUserRecord = Omit<UserRecord, 'etag'>;

export interface UserEntity {
  userId: string;
  displayName: string;
  email: string;
  /** `password` or the integration id: the column `?verifyType=` filters on. */
  verifyType: string;
  passwordHash: string;
  /** Whether `roles` holds `admin`: the admin index goes by the same rule. */
  isAdmin: boolean;
  /** JSON list of role names. */
  roles?: string;
  /** JSON list of the roles the user's provisioned groups map to. */
  groupRoles?: string;
  provisionedBy?: string;
  disabled: boolean;
  bindingTenantId: string;
  bindingObjectId: string;
  boundAt: string;
  lastLoginAt: string;
  sessionsRevokedAt?: string;
  createdAt: string;
  updatedAt: string;
}

export function toUserEntity(r: NewUserRecord): UserEntity & { partitionKey: string; rowKey: string } {
  return {
    partitionKey: userPartition(r.username),
    rowKey: r.username,
    userId: r.id,
    displayName: r.displayName,
    email: r.email ?? '',
    verifyType: r.verifyType.kind === 'password' ? 'password' : r.verifyType.integrationId,
    passwordHash: r.passwordHash ?? '',
    isAdmin: r.roles.includes('admin'),
    roles: JSON.stringify(r.roles),
    groupRoles: JSON.stringify(r.groupRoles ?? []),
    provisionedBy: r.provisionedBy ?? '',
    disabled: r.disabled,
    bindingTenantId: r.entraBinding?.tenantId ?? '',
    bindingObjectId: r.entraBinding?.objectId ?? '',
    boundAt: r.entraBinding?.boundAt ?? '',
    lastLoginAt: r.lastLoginAt ?? '',
    sessionsRevokedAt: r.sessionsRevokedAt ?? '',
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  };
}

function roleList(json: string | undefined): Role[] {
  if (!json) return [];
  try {
    const v = JSON.parse(json) as unknown;
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

/** The roles tokens and sessions carry: the admin-set ones and those of the user's groups. */
export function effectiveRoles(r: Pick<UserRecord, 'roles' | 'groupRoles'>): Role[] {
  return [...new Set([...r.roles, ...(r.groupRoles ?? [])])];
}

function rolesOf(e: UserEntity): Role[] {
  let roles: Role[] = [];
  if (e.roles) {
    try {
      const v = JSON.parse(e.roles) as unknown;
      if (Array.isArray(v)) roles = v.filter((x): x is string => typeof x === 'string');
    } catch {
      roles = [];
    }
  }
  // `isAdmin` is what the admin index goes by: it decides the admin role either way.
  if (!e.isAdmin) return roles.filter((r) => r !== 'admin');
  return roles.includes('admin') ? roles : ['admin', ...roles];
}

export function fromUserEntity(e: UserEntity & { rowKey?: string; etag?: string }): UserRecord {
  return {
    id: e.userId ?? '',
    username: e.rowKey as string,
    displayName: e.displayName ?? '',
    email: e.email || null,
    verifyType:
      e.verifyType === 'password' || !e.verifyType
        ? { kind: 'password' }
        : { kind: 'integration', integrationId: e.verifyType },
    passwordHash: e.passwordHash || null,
    roles: rolesOf(e),
    groupRoles: roleList(e.groupRoles),
    provisionedBy: e.provisionedBy || null,
    disabled: e.disabled === true,
    entraBinding:
      e.bindingTenantId && e.bindingObjectId
        ? { tenantId: e.bindingTenantId, objectId: e.bindingObjectId, boundAt: e.boundAt }
        : null,
    lastLoginAt: e.lastLoginAt || null,
    sessionsRevokedAt: e.sessionsRevokedAt || null,
    createdAt: e.createdAt,
    updatedAt: e.updatedAt,
    etag: e.etag ?? '',
  };
}
