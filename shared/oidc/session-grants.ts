/**
 * Which applications have a grant in a broker session, so that the session's end reaches exactly
 * them (docs/security.md OP13): one row per grant in the session's own partition of OidcStore
 * (`sg:<hash of the session>`), written beside the grant, moved when a re-authentication carries the
 * grant over to a new session (session-switch.ts), read once when the session ends. A row holds what
 * a logout token names: the application, the user (`sub`) and the `sid` its ID tokens carry.
 *
 * The `sid` an application's ID tokens carry is the OP session's for that application: kept across a
 * re-authentication of the same user, new for another user (and never the broker session's id).
 */
import { randomBytes } from 'node:crypto';
import { odataString } from '../storage/tables.ts';
import { TTL } from './provider.ts';
import { hashId, type OidcTableStore } from './store.ts';

/** A broker session as a grant is bound to it (as a grant's row names it: username, session id). */
export interface Binding {
  u: string;
  s: string;
}

export interface SessionGrant {
  clientId: string;
  sub: string;
  sid: string;
}

/** A new `sid` (an OP session's, for one application). */
export const newSid = (): string => randomBytes(16).toString('base64url');

const partitionOf = (binding: Binding) => `sg:${hashId(`${binding.u.toLowerCase()}\n${binding.s}`)}`;

/** Notes that the grant `grantId` is in the broker session `binding` (a held write of the request). */
export function indexGrant(
  store: OidcTableStore,
  binding: Binding,
  grantId: string,
  grant: SessionGrant,
): Promise<void> {
  const expiresAtIso = new Date(store.now() + TTL.Grant * 1000).toISOString();
  return store.upsertRow(partitionOf(binding), hashId(grantId), { ...grant, expiresAtIso });
}

/** Forgets that the grant is in the session `binding` (it moved to another one). */
export function unindexGrant(store: OidcTableStore, binding: Binding, grantId: string): Promise<void> {
  return store.deleteRow(partitionOf(binding), hashId(grantId));
}

/** The grants that were made in (or carried over to) the broker session `binding`. */
export async function grantsOf(store: OidcTableStore, binding: Binding): Promise<SessionGrant[]> {
  const out: SessionGrant[] = [];
  const pk = partitionOf(binding);
  const rows = store.table.listEntities<SessionGrant>({
    queryOptions: { filter: `PartitionKey eq ${odataString(pk)}` },
  });
  for await (const row of rows) {
    if (typeof row.clientId === 'string' && typeof row.sub === 'string' && typeof row.sid === 'string')
      out.push({ clientId: row.clientId, sub: row.sub, sid: row.sid });
  }
  return out;
}
