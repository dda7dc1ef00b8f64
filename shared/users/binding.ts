import type { Caller } from '../admin/caller.ts';
import { checkIfMatch, isoTime } from '../admin/versioned-resource.ts';
import { ValidationError } from '../core/errors.ts';
import { requireRecord } from './current.ts';
import { ENTRA_ID_PART } from './lookups.ts';
import type { ChangeContext, UserServiceDeps } from './ports.ts';
import type { UserRecord } from './records.ts';
import { changeRequest, isAdmin, type UserOperationDeps } from './resource.ts';

/**
 * Binds the user to Entra identity (tid, oid). The binding row is inserted first, so two users can
 * never hold the same identity (409 `binding_taken`); then the user row, conditional on `etag`
 * (412 when the user changed meanwhile). Replacing an earlier, different binding revokes sessions.
 */
export async function bind(
  deps: UserServiceDeps,
  username: string,
  identity: { tenantId: string; objectId: string },
  etag: string,
  ctx?: Partial<ChangeContext>,
): Promise<UserRecord> {
  const { store } = deps;
  if (!ENTRA_ID_PART.test(identity.tenantId) || !ENTRA_ID_PART.test(identity.objectId)) {
    throw new ValidationError([{ field: 'entraBinding', message: 'must be a tenant id and an object id' }]);
  }
  const tenantId = identity.tenantId.toLowerCase();
  const objectId = identity.objectId.toLowerCase();
  const current = await requireRecord(store, username);
  checkIfMatch(current, etag);
  const old = current.entraBinding;
  if (old && old.tenantId === tenantId && old.objectId === objectId) return current;
  const boundAt = isoTime(deps.clock.now());
  const claimed = await store.claimBinding(tenantId, objectId, current.username, boundAt);
  let saved: UserRecord;
  try {
    saved = await store.replace(
      {
        ...current,
        entraBinding: { tenantId, objectId, boundAt },
        updatedAt: boundAt,
        // Replacing an earlier binding ends the sessions below: the OP's tokens too (docs/security.md OP6).
        sessionsRevokedAt: old ? boundAt : current.sessionsRevokedAt,
      },
      etag,
    );
  } catch (err) {
    if (claimed) await store.releaseBinding(tenantId, objectId, current.username);
    throw err;
  }
  let revoked = 0;
  if (old) {
    await store.releaseBinding(old.tenantId, old.objectId, current.username);
    revoked = await deps.sessions.revokeAllForUser(current.username);
  }
  await deps.audit.record({
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

/** Forgets the bound Entra identity (no-op when none); the next sign-in binds again. Revokes sessions. */
export async function removeBinding(
  deps: UserOperationDeps,
  username: string,
  ifMatch: string | undefined,
  ctx: ChangeContext,
  caller?: Caller,
): Promise<string> {
  const { store } = deps;
  const saved = await deps.resource.changeRow(username, changeRequest(ifMatch, ctx, caller), {
    fresh: { of: isAdmin },
    plan: (current) => {
      const b = current.entraBinding;
      if (!b) return undefined;
      const at = deps.resource.now();
      const { etag: _etag, ...row } = current;
      return {
        next: { ...row, entraBinding: null, updatedAt: at, sessionsRevokedAt: at },
        audit: {
          event: 'binding_removed',
          changedFields: ['entraBinding'],
          details: { tenantId: b.tenantId, objectId: b.objectId },
        },
      };
    },
    written: async (_stored, current) => {
      const b = current.entraBinding;
      if (b) await store.releaseBinding(b.tenantId, b.objectId, current.username);
      return { sessionsRevoked: await deps.sessions.revokeAllForUser(current.username) };
    },
  });
  return saved.etag;
}
