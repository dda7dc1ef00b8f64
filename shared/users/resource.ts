import type { Caller } from '../admin/caller.ts';
import { type ChangeRequest, VersionedResource } from '../admin/versioned-resource.ts';
import { requireRecord } from './current.ts';
import type { ChangeContext, UserServiceDeps } from './ports.ts';
import type { UserRecord } from './records.ts';
import type { User } from './schemas.ts';
import { viewUser } from './views.ts';

/** Users as a versioned admin resource: `admin.user.<event>` audit events on target `user:<username>`. */
export type UserResource = VersionedResource<UserRecord, User>;

/** What the admin operations on users work with: the service's dependencies and the resource skeleton. */
export interface UserOperationDeps extends UserServiceDeps {
  resource: UserResource;
}

/** The skeleton over the user rows: 404 `user_not_found`, writes conditional on the etag read. */
export function userResource(deps: UserServiceDeps): UserResource {
  const { store, integrations, audit, clock } = deps;
  return new VersionedResource<UserRecord, User>({
    kind: 'user',
    load: (username) => requireRecord(store, username),
    key: (r) => r.username,
    replace: (next, etag) => store.replace(next, etag),
    view: (r) => viewUser(integrations, r),
    audit,
    clock,
  });
}

/**
 * Whether the user holds the broker's own `admin` role: the admin index goes by it, and any change
 * to such an account needs a recent sign-in (docs/security.md AD5).
 */
export const isAdmin = (r: Pick<UserRecord, 'roles'>): boolean => r.roles.includes('admin');

/** A change as the skeleton takes it: the users' `ChangeContext` carries the actor with the request's details. */
export function changeRequest(
  ifMatch: string | undefined,
  ctx: ChangeContext,
  caller?: Caller | undefined,
): ChangeRequest {
  return {
    ifMatch,
    actor: ctx.actor,
    ctx: { correlationId: ctx.correlationId, clientAddress: ctx.clientAddress },
    caller,
  };
}
