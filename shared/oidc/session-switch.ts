/**
 * What a new broker session means for the grants an OP session already holds (docs/security.md OP11).
 * A sign-in in a browser that already has an OP session either re-authenticates the same user
 * (`prompt=login`, `max_age`, or a new sign-in on the broker's page) or replaces the user:
 *
 * - the same user: each grant still bound to a live earlier broker session of that user is bound to
 *   the new one, so the other applications stay signed in (and end with the session the browser now
 *   holds). A grant whose session already ended stays ended: a sign-out is never undone.
 * - another user: the previous user's broker sessions in this browser end (and with them their
 *   grants), and the OP session forgets them.
 *
 * The OP session notes, per application, which broker session its grant is bound to (`broker`), so
 * the usual case (nothing changed) costs no read; a grant without that note is looked up (its row
 * names its broker session, grant-session.ts).
 */
import type { ActiveSession, SessionService } from '../sessions/service.ts';
import { boundSession, rebindGrantSession } from './grant-session.ts';
import { type Binding, indexGrant, newSid, unindexGrant } from './session-grants.ts';
import type { OidcTableStore } from './store.ts';

export type { Binding };

/** What the OP session records per application (oidc-provider's `authorizations`, plus `broker`). */
export interface OpSessionLike {
  accountId?: string;
  authorizations?: Record<string, { grantId?: string; sid?: string; broker?: Binding } | undefined>;
}

export interface SwitchDeps {
  store: OidcTableStore;
  sessions: Pick<SessionService, 'isLive' | 'revoke'>;
}

export const bindingOf = (session: Pick<ActiveSession, 'username' | 'sessionId'>): Binding => ({
  u: session.username,
  s: session.sessionId,
});

const isBinding = (b: unknown): b is Binding =>
  !!b && typeof (b as Binding).u === 'string' && typeof (b as Binding).s === 'string';

/**
 * The sid for a new grant of `clientId` in this OP session: the one its earlier ID tokens carried when
 * the same user signs in again, else a new one.
 */
export function sidFor(op: OpSessionLike | undefined, clientId: string, userId: string): string {
  const same = !op?.accountId || op.accountId === userId;
  return (same && op?.authorizations?.[clientId]?.sid) || newSid();
}

/** Notes in the OP session which broker session an application's grant is bound to. */
export function noteBinding(op: OpSessionLike, clientId: string, binding: Binding): void {
  const auth = op.authorizations?.[clientId];
  if (auth) auth.broker = binding;
}

/**
 * Carries an OP session's grants over to `current` (the broker session now signed in) for user
 * `userId`. Returns true when the OP session belonged to another user (the caller starts it afresh).
 */
export async function carryOver(
  d: SwitchDeps,
  op: OpSessionLike | undefined,
  current: ActiveSession,
  userId: string,
): Promise<boolean> {
  const switched = !!op?.accountId && op.accountId !== userId;
  type Held = { clientId: string; grantId: string; sid?: string; broker?: Binding };
  const entries = Object.entries(op?.authorizations ?? {}).flatMap(([clientId, a]): Held[] =>
    typeof a?.grantId === 'string' ? [{ ...a, clientId, grantId: a.grantId }] : [],
  );
  if (entries.length === 0) return switched;
  const bound = await Promise.all(
    entries.map(async (auth) => ({
      auth,
      binding: isBinding(auth.broker)
        ? auth.broker
        : ((await boundSession(d.store, auth.grantId)) as unknown),
    })),
  );
  const ended = new Map<string, Binding>();
  const work: Promise<unknown>[] = [];
  const sub = op?.accountId ?? userId;
  for (const { auth, binding } of bound) {
    if (!isBinding(binding) || binding.s === current.sessionId) continue;
    if (switched || binding.u !== current.username) {
      ended.set(`${binding.u}\n${binding.s}`, binding);
      continue;
    }
    work.push(
      d.sessions.isLive(binding.u, binding.s).then(async (live) => {
        if (!live) return;
        // The grant keeps the sid its ID tokens carry; the new session's end reaches it, the old one's not.
        await Promise.all([
          rebindGrantSession(d.store, auth.grantId, current),
          indexGrant(d.store, bindingOf(current), auth.grantId, {
            clientId: auth.clientId,
            sub,
            sid: auth.sid ?? newSid(),
          }),
          unindexGrant(d.store, binding, auth.grantId),
        ]);
        const held = op?.authorizations?.[auth.clientId];
        if (held) held.broker = bindingOf(current);
      }),
    );
  }
  for (const b of ended.values()) work.push(d.sessions.revoke({ username: b.u, sessionId: b.s }));
  await Promise.all(work);
  return switched;
}
