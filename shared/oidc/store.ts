/**
 * oidc-provider's storage adapter on Table Storage (table `OidcStore`), one adapter per model
 * (Session, Interaction, AuthorizationCode, AccessToken, RefreshToken, Grant, ...).
 *
 * - Keys: an artifact's id is often its bearer value (opaque tokens, codes, the session cookie), so
 *   no id is ever stored: the row key is a SHA-256 of it, and `jti` is stripped from the payload and
 *   put back on read. Partition `model:xx` (xx = first byte of the hash): 256 partitions per model,
 *   so many users signing in at once spread over partitions instead of forming a hot one.
 * - Expiry: Table Storage has no TTL; every row carries `expiresAt` (ms) and `find*` never returns an
 *   expired row. The `maintenance-purge` timer deletes them (`purgePlan`, column `expiresAtIso`).
 * - `consume` is ETag-conditional: of two parallel redemptions of one code only one wins; the loser
 *   revokes the grant (what the winner issued) and gets `invalid_grant`. Inside a request it is a
 *   held write like the others (conditional on the etag the request read), so the redemption and the
 *   tokens it issues cost one round trip: should the consume lose, the request answers
 *   `invalid_grant` instead of its tokens and the grant is revoked, as above.
 * - `revokeByGrantId`: one index row per (grant, refresh token) in partition `g:<hash(grantId)>`, so
 *   a revocation is one partition query plus the deletes, never a scan. Authorization codes and
 *   opaque access tokens have none: the library refuses either once its grant is gone (the token
 *   endpoint loads the code's grant, userinfo the access token's: `loadAccessTokenGrant`, "grant not
 *   found"), and every revocation deletes the grant (an access token's at the revocation endpoint too:
 *   `revokeGrantPolicy`, provider.ts). Their rows stay until they expire
 *   (a code within a minute, an access token within its lifetime) and are purged then. Introspection,
 *   which would need the same check, is off.
 * - Codes, access and refresh tokens carry their grant's broker session on their own row (a hint, see
 *   `sessionHint`): the token and userinfo endpoints read that session beside the grant instead of
 *   after it.
 * - `findByUid` (sessions): an index row `uid:xx` → the session's row key, written again only when
 *   the session outlives what the index row was written for (`uidUntil` on the session's row).
 *   Artifacts that end with their OP session (`expiresWithSession`: codes, access and refresh tokens
 *   without `offline_access`) name that session's row on their own (`opSession`), and a request that
 *   read the session itself knows its row: there `findByUid` reads the session's row at once, without
 *   the index (the row must still carry the uid asked for; if not, or if it is gone, the index decides).
 * - Held writes of one partition go to storage as one transaction (the grant's index rows of a
 *   token response, say): one request instead of one per row.
 * - One request, one read per row: the provider loads the same session, interaction or code several
 *   times while serving one request. Inside `withRequestMemo` (every /api/oidc request) a row read or
 *   written once is served from that request's memory afterwards (with its etag, so `consume` stays
 *   conditional on what was read). Nothing outlives the request: another request always reads storage.
 * - One request, one round of writes: inside `withRequestMemo` the provider's upserts and deletes are
 *   held (the last write per row wins) and applied together, in parallel, once the request is served
 *   and before it answers; a failed write fails the request. The provider writes a row, then reads on,
 *   then writes another: held, its writes cost one round trip instead of one each. Whatever must see
 *   storage first does: `consume` (conditional on the etag it reads) and the grant-index queries apply
 *   what is held before they run. A write made after the request's writes were applied (nothing should)
 *   goes straight to storage.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { TableClient } from '@azure/data-tables';
import type { Clock } from '../core/clock.ts';
import {
  deleteEntityIfExists,
  getEntityOrUndefined,
  isNotFound,
  isPreconditionFailed,
  odataString,
} from '../storage/tables.ts';
import type { IssuingArtifact } from './carried-hints.ts';
import { type IssuedHint, IssuedHints } from './issued-hints.ts';
import { hashId, hexPrefix } from './store-keys.ts';

export type Payload = Record<string, unknown>;

interface Row {
  payload: string;
  /** Grant rows: the broker session the grant was made in (JSON of GrantBrokerSession). */
  brokerSession?: string;
  /** Expiry in ms since the epoch (0 = none). */
  expiresAt: number;
  /** The same, as ISO text: the maintenance purge filters on strings only. */
  expiresAtIso: string;
  grantKey?: string;
  /** Session rows: until when (ms) the uid index row written for this session lasts. */
  uidUntil?: number;
  /** Artifacts bound to their OP session: that session's row, `pk/rk` (a hint for `findByUid`). */
  opSession?: string;
}

interface IndexRow {
  targetPk: string;
  targetRk: string;
  expiresAtIso: string;
}

/** A held consume that lost its race: the request revokes the grant and answers invalid_grant. */
class ConsumeLostError extends Error {
  constructor(readonly settle: () => Promise<never>) {
    super('authorization code or refresh token consumed by a parallel request');
    this.name = 'ConsumeLostError';
  }
}

/** A consume lost to a parallel one; the provider turns it into invalid_grant. */
export class AlreadyConsumedError extends Error {
  constructor() {
    super('authorization code already consumed');
    this.name = 'AlreadyConsumedError';
  }
}

export { hashId };

/**
 * The id can also appear inside the payload (an interaction's `returnTo` ends with its uid, which is
 * its cookie's value): stored as a placeholder, put back on read. The placeholder's character can
 * only occur inside JSON strings, so any occurrence that came with a request's parameters is first
 * written as its JSON escape (`\u241a`): the only raw placeholders in a stored payload are the ones
 * put there for the id, a parameter comes back exactly as sent, and the id is never stored in clear.
 */
const MARK_CHAR = '\u241A';
const ID_MARK = `${MARK_CHAR}jti${MARK_CHAR}`;
const ESCAPED_MARK_CHAR = '\\u241a';
const withoutId = (json: string, id: string) => {
  const escaped = json.split(MARK_CHAR).join(ESCAPED_MARK_CHAR);
  return id.length >= 8 ? escaped.split(id).join(ID_MARK) : escaped;
};
const withId = (json: string, id: string) => (id ? json.split(ID_MARK).join(id) : json);

/**
 * The broker session a grant was made in, kept on the grant's own row (column `brokerSession`): the
 * grant and its session are written together by one write, so no partial set can leave a grant
 * without its session, and every read of the grant (which the provider makes anyway) brings it along.
 */
export interface GrantBrokerSession {
  u: string;
  s: string;
}

/** Models whose rows are looked up by `uid` (only Session uses it). */
const UID_MODELS = new Set(['Session']);
/** How much longer than its session a uid index row is written to last (fewer rewrites of it). */
export const UID_INDEX_SLACK_MS = 24 * 3600_000;
/**
 * Artifacts whose rows name their grant's broker session and, when they end with their OP session,
 * that session's row (read ahead by the token and userinfo endpoints; see the header).
 */
const SESSION_HINT_MODELS = new Set(['AuthorizationCode', 'AccessToken', 'RefreshToken']);
/** Artifacts whose token requests read ahead from what this instance remembers of their issue. */
const ISSUED_HINT_MODELS = new Set(['AuthorizationCode', 'RefreshToken']);
/**
 * An OP session saved again with nothing changed but its expiry (the library saves the session on every
 * request it serves) is written only once the new expiry is this much later than the stored one: its
 * row may end this much before a purely sliding expiry would, and a busy browser costs no write per
 * authorization.
 */
export const SESSION_REWRITE_SLACK_MS = 10 * 60_000;
/** How long an instance remembers the grants of an OP session it read or wrote (`sessionGrants`). */
export const SESSION_GRANT_HINT_TTL_MS = 60 * 60_000;
/** A stored OP session payload (JSON) without what every save changes. */
function sessionContent(payload: string): string {
  const { exp: _exp, iat: _iat, ...rest } = JSON.parse(payload) as Payload;
  return canonicalJson(rest);
}
/** JSON with object keys sorted: equal content, equal text. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object')
    return `{${Object.keys(value)
      .sort()
      .filter((k) => (value as Payload)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Payload)[k])}`)
      .join(',')}}`;
  return JSON.stringify(value) ?? 'null';
}
/** Artifacts without a grant index row (see the header). */
const UNINDEXED_MODELS = new Set(['AuthorizationCode', 'AccessToken']);
/** Entity group transactions hold at most 100 operations. */
const MAX_TRANSACTION_OPS = 100;
const FAR_FUTURE_ISO = '9999-12-31T00:00:00.000Z';

type StoredRow = Record<string, unknown> & { etag?: string };

/** What one /api/oidc request knows of OidcStore: the rows it read or wrote, and its held writes. */
interface RequestScope {
  rows: Map<string, StoredRow | null>;
  /** Reads on their way: a second reader of the same row waits for the first one's answer. */
  reads: Map<string, Promise<unknown>>;
  /** Other reads of this request (`requestCached`), by key. */
  values: Map<string, Promise<unknown>>;
  /** Writes not yet applied, one per row (the last one made), applied by `applyHeldWrites`. */
  held: Map<string, HeldWrite>;
  /** False once the request's writes were applied: later writes go straight to storage. */
  holding: boolean;
  /** Grants this request made, by id: the broker session their row carries. */
  grantSessions: Map<string, GrantBrokerSession>;
  /** OP sessions by uid: where this request found (or was told to find) the session's row. */
  sessionRows: Map<string, { pk: string; rk: string }>;
  /** Run just before the held writes go out: what a row can only say once the request is done. */
  beforeApply: (() => void)[];
  /** Writes wait for this (a limit's decision); it rejects when the request is refused. */
  gate?: Promise<void>;
}
const requestMemo = new AsyncLocalStorage<RequestScope>();

/** A held write: how to apply it alone, and for a replace, what it writes (to batch it by partition). */
interface HeldWrite {
  apply: () => Promise<void>;
  replace?: { table: TableClient; pk: string; rk: string; entity: object; stored: (etag: string) => void };
}

/** Replaces of one partition, written by one entity group transaction. */
async function applyTogether(writes: HeldWrite[]): Promise<void> {
  const first = writes[0]?.replace;
  if (!first) return;
  const replaces = writes.map((w) => w.replace as NonNullable<HeldWrite['replace']>);
  const res = await first.table.submitTransaction(
    replaces.map((r) => ['upsert', { partitionKey: r.pk, rowKey: r.rk, ...r.entity }, 'Replace']),
  );
  for (const r of replaces) r.stored(res.getResponseForEntity(r.rk)?.etag ?? '');
}

/** The held writes grouped: replaces by table and partition (a group of one is applied alone). */
function batches(writes: HeldWrite[]): (() => Promise<void>)[] {
  const out: (() => Promise<void>)[] = [];
  const byPartition = new Map<string, HeldWrite[]>();
  for (const w of writes) {
    if (!w.replace) {
      out.push(w.apply);
      continue;
    }
    const key = `${w.replace.table.tableName}\n${w.replace.pk}`;
    const group = byPartition.get(key) ?? [];
    if (group.length === 0) byPartition.set(key, group);
    group.push(w);
  }
  for (const group of byPartition.values()) {
    for (let i = 0; i < group.length; i += MAX_TRANSACTION_OPS) {
      const chunk = group.slice(i, i + MAX_TRANSACTION_OPS);
      out.push(chunk.length === 1 ? (chunk[0] as HeldWrite).apply : () => applyTogether(chunk));
    }
  }
  return out;
}

/** Applies every held write together; rejects (after all of them ended) if any failed. */
async function applyHeldWrites(scope: RequestScope): Promise<void> {
  for (const finish of scope.beforeApply.splice(0)) finish();
  if (scope.held.size === 0) return;
  if (scope.gate) await scope.gate;
  while (scope.held.size > 0) {
    const writes = [...scope.held.values()];
    scope.held.clear();
    const results = await Promise.allSettled(batches(writes).map((write) => write()));
    const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    // A lost consume first: its grant is revoked whatever else failed.
    const lost = failures.find((r) => r.reason instanceof ConsumeLostError);
    if (lost) await (lost.reason as ConsumeLostError).settle();
    if (failures[0]) throw failures[0].reason;
  }
}

/**
 * Runs `fn` (one request) with a memo of OidcStore rows and its writes held, then applies the writes
 * together before returning `fn`'s answer. Should `fn` throw, the writes it held are dropped: a
 * request that fails leaves nothing half-made behind (what it wrote conditionally, a consumed code,
 * stays consumed), and `fn`'s error is what the caller gets.
 */
export function withRequestMemo<T>(fn: () => Promise<T>): Promise<T> {
  const scope: RequestScope = {
    rows: new Map(),
    reads: new Map(),
    values: new Map(),
    held: new Map(),
    holding: true,
    grantSessions: new Map(),
    sessionRows: new Map(),
    beforeApply: [],
  };
  return requestMemo.run(scope, async () => {
    let result: T;
    try {
      result = await fn();
    } catch (err) {
      scope.holding = false;
      scope.held.clear();
      scope.beforeApply.length = 0;
      throw err;
    }
    scope.holding = false;
    await applyHeldWrites(scope);
    return result;
  });
}

const memoKey = (pk: string, rk: string) => `${pk}\n${rk}`;

/**
 * A read other than OidcStore's (a user row, say) made at most once in this request: the first call's
 * promise is shared by later ones with the same key. Outside a request, `read` runs every time.
 */
export function requestCached<T>(key: string, read: () => Promise<T>): Promise<T> {
  const scope = requestMemo.getStore();
  if (!scope) return read();
  let value = scope.values.get(key) as Promise<T> | undefined;
  if (!value) {
    value = read();
    scope.values.set(key, value);
    value.catch(() => scope.values.delete(key)); // a failed read is not remembered
  }
  return value;
}

/** What `requestCached` holds (or is reading) for `key` in this request, without reading it. */
export function requestCachedPeek<T>(key: string): Promise<T> | undefined {
  return requestMemo.getStore()?.values.get(key) as Promise<T> | undefined;
}

/** An OP session's row as an artifact's `opSession` column names it: `pk/rk`. */
const sessionRowText = (at: { pk: string; rk: string }) => `${at.pk}/${at.rk}`;

function parseSessionRow(text: string | undefined): { pk: string; rk: string } | undefined {
  const [pk, rk, extra] = text?.split('/') ?? [];
  return pk?.startsWith('Session:') && rk && extra === undefined ? { pk, rk } : undefined;
}

function parseBinding(text: string | undefined): GrantBrokerSession | undefined {
  if (!text) return undefined;
  try {
    const v = JSON.parse(text) as Partial<GrantBrokerSession>;
    return typeof v.u === 'string' && typeof v.s === 'string' ? { u: v.u, s: v.s } : undefined;
  } catch {
    return undefined;
  }
}

export class OidcTableStore {
  /** What this instance wrote on the codes and refresh tokens it issued lately (issued-hints.ts). */
  readonly issued: IssuedHints;

  /**
   * What this instance saw of the OP sessions it read or wrote lately: each application's grant
   * (`authorizations`), by the session's row. Only a hint for reading a grant ahead (sso.ts).
   */
  readonly sessionGrants: IssuedHints<Record<string, string>>;

  constructor(
    readonly table: TableClient,
    private readonly clock: Clock,
  ) {
    this.issued = new IssuedHints(clock);
    this.sessionGrants = new IssuedHints<Record<string, string>>(clock, SESSION_GRANT_HINT_TTL_MS);
  }

  /** The grant this instance last saw the OP session `sessionId` hold for `clientId`. */
  sessionGrantHint(sessionId: string, clientId: string): string | undefined {
    const { pk, rk } = this.location('Session', sessionId);
    return this.sessionGrants.get(memoKey(pk, rk))?.[clientId];
  }

  /** Notes the grants an OP session's payload names (on its read and on its save). */
  noteSessionGrants(pk: string, rk: string, payload: Payload, expiresAt: number): void {
    const grants: Record<string, string> = {};
    const authorizations = payload.authorizations;
    if (authorizations && typeof authorizations === 'object')
      for (const [clientId, a] of Object.entries(authorizations as Record<string, { grantId?: unknown }>))
        if (typeof a?.grantId === 'string') grants[clientId] = a.grantId;
    if (Object.keys(grants).length) this.sessionGrants.set(memoKey(pk, rk), grants, expiresAt);
    else this.sessionGrants.delete(memoKey(pk, rk));
  }

  /** Whether this request has read (or is reading) the row of `model`/`id` already. */
  readAlready(model: string, id: string): boolean {
    const scope = requestMemo.getStore();
    if (!scope) return false;
    const { pk, rk } = this.location(model, id);
    const key = memoKey(pk, rk);
    return scope.rows.has(key) || scope.reads.has(key);
  }

  /** What this instance knows of an artifact it issued, if it issued it lately. */
  issuedHint(model: string, id: string): IssuedHint | undefined {
    const { pk, rk } = this.location(model, id);
    return this.issued.get(memoKey(pk, rk));
  }

  /**
   * What an artifact being issued in this request will name (its issued hint, for its value to carry:
   * carried-hints.ts): its grant, user, the grant's broker session as this request binds or read it,
   * and the row of the OP session it ends with: the row of `opSessionId` (the session of the request
   * issuing it, under the id it will be saved with), else the row this request knows for its uid.
   */
  hintAtIssue(artifact: IssuingArtifact, opSessionId?: string): IssuedHint | undefined {
    const { grantId, accountId, sessionUid } = artifact;
    if (typeof grantId !== 'string') return undefined;
    const grant = this.location('Grant', grantId);
    const brokerSession = parseBinding(this.grantSessionFor(grantId, grant.pk, grant.rk));
    const at =
      artifact.expiresWithSession === true && typeof sessionUid === 'string'
        ? opSessionId
          ? this.location('Session', opSessionId)
          : this.sessionRow(sessionUid)
        : undefined;
    return {
      grantId,
      ...(typeof accountId === 'string' ? { sub: accountId } : {}),
      ...(brokerSession ? { brokerSession } : {}),
      ...(at && typeof sessionUid === 'string' ? { opSession: { uid: sessionUid, ...at } } : {}),
    };
  }

  /** The error a lost consume throws (the service sets the library's invalid_grant once loaded). */
  consumedError: () => Error = () => new AlreadyConsumedError();

  /** The adapter class oidc-provider instantiates per model. */
  adapterFor(model: string): OidcAdapter {
    return new OidcAdapter(this, model);
  }

  location(model: string, id: string): { pk: string; rk: string } {
    const h = hashId(id);
    return { pk: `${model}:${hexPrefix(h)}`, rk: h };
  }

  now(): number {
    return this.clock.now();
  }

  /**
   * A consume lost its race (or found the code used): revoke everything issued under the grant (the
   * winner's tokens, RFC 6749 4.1.2) and the grant itself, then fail with invalid_grant.
   */
  async raceLost(grantId: string | undefined): Promise<never> {
    if (grantId) {
      await this.applyHeld(); // the query must see this request's index rows
      const gpk = `g:${hashId(grantId)}`;
      const rows = this.table.listEntities<IndexRow>({
        queryOptions: { filter: `PartitionKey eq ${odataString(gpk)}` },
      });
      const deletes: Promise<void>[] = [];
      for await (const idx of rows) {
        deletes.push(this.deleteRow(idx.targetPk, idx.targetRk), this.deleteRow(gpk, idx.rowKey as string));
      }
      const grant = this.location('Grant', grantId);
      deletes.push(this.deleteRow(grant.pk, grant.rk));
      await Promise.all(deletes);
      // The request fails next, and a failing request's held writes are dropped: the revocation is
      // applied now.
      await this.applyHeld();
    }
    throw this.consumedError();
  }

  deleteRow(pk: string, rk: string): Promise<void> {
    return this.write(pk, rk, null, {
      apply: async () => {
        await deleteEntityIfExists(this.table, pk, rk);
      },
    });
  }

  /** Replaces (or creates) a row. */
  upsertRow(pk: string, rk: string, entity: object): Promise<void> {
    const stored = (etag: string) => this.remember(pk, rk, { ...entity, etag });
    const apply = async () => {
      const res = await this.table.upsertEntity({ partitionKey: pk, rowKey: rk, ...entity }, 'Replace');
      stored(res.etag ?? '');
    };
    return this.write(pk, rk, entity, { apply, replace: { table: this.table, pk, rk, entity, stored } });
  }

  /**
   * A write of one row (`entity`, or null for a delete): held until the request's end inside
   * `withRequestMemo` (this request reads it from memory meanwhile), else applied now.
   */
  private async write(pk: string, rk: string, entity: object | null, held: HeldWrite): Promise<void> {
    const scope = requestMemo.getStore();
    if (!scope?.holding) {
      await held.apply();
      if (!entity) this.remember(pk, rk, null);
      return;
    }
    const key = memoKey(pk, rk);
    scope.held.set(key, held);
    // Not in storage yet, so no etag: `consume` applies the held writes before it reads one.
    scope.rows.set(key, entity ? { ...entity, etag: '' } : null);
  }

  /**
   * Makes every write of this request (held or conditional) wait for `gate`; a rejected gate fails
   * them all, so a request a limit refuses writes nothing while its reads went on meanwhile.
   */
  setGate(gate: Promise<void>): void {
    const scope = requestMemo.getStore();
    if (scope) scope.gate = gate;
  }

  /** Drops this request's held writes (a refused request writes nothing). */
  discardHeld(): void {
    const scope = requestMemo.getStore();
    if (!scope) return;
    scope.held.clear();
    scope.beforeApply.length = 0; // nothing was written for them to complete
  }

  /** The grant `grantId`, saved later in this request, carries `session` on its row. */
  bindGrantSession(grantId: string, session: GrantBrokerSession): void {
    requestMemo.getStore()?.grantSessions.set(grantId, session);
  }

  /** What a grant's row should carry: the session bound in this request, else what the row had. */
  grantSessionFor(grantId: string, pk: string, rk: string): string | undefined {
    const bound = requestMemo.getStore()?.grantSessions.get(grantId);
    if (bound) return JSON.stringify(bound);
    return this.recall<Row>(pk, rk)?.brokerSession;
  }

  /**
   * Moves a stored grant to another broker session: a merge of the row's `brokerSession` column only
   * (a held write of the request). It never creates a row: a grant already gone stays gone.
   */
  rebindGrantSession(grantId: string, session: GrantBrokerSession): Promise<void> {
    const { pk, rk } = this.location('Grant', grantId);
    const brokerSession = JSON.stringify(session);
    const known = this.recall<Row>(pk, rk);
    if (known) this.remember(pk, rk, { ...known, brokerSession });
    const apply = async () => {
      try {
        await this.table.updateEntity({ partitionKey: pk, rowKey: rk, brokerSession }, 'Merge');
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      this.forget(pk, rk); // the stored etag changed
    };
    const scope = requestMemo.getStore();
    if (!scope?.holding) return apply();
    // Its own key: a held replace of the same row (none is made today) would otherwise be dropped.
    scope.held.set(`merge\n${memoKey(pk, rk)}`, { apply });
    return Promise.resolve();
  }

  /** The OP session `uid` is at this row (seen by this request, or named by an artifact it read). */
  noteSessionRow(uid: string, pk: string, rk: string): void {
    requestMemo.getStore()?.sessionRows.set(uid, { pk, rk });
  }

  /**
   * Runs `finish` when this request's held writes go out (at once outside a request, or once they
   * went out): a row held now can still be completed with what the rest of the request learns.
   */
  whenWritten(finish: () => void): void {
    const scope = requestMemo.getStore();
    if (scope?.holding) scope.beforeApply.push(finish);
    else finish();
  }

  /** An artifact used up or gone: nothing is read ahead for it any more on this instance. */
  forgetIssued(pk: string, rk: string): void {
    this.issued.delete(memoKey(pk, rk));
  }

  /** Where this request knows the OP session `uid` to be, if it does. */
  sessionRow(uid: string): { pk: string; rk: string } | undefined {
    return requestMemo.getStore()?.sessionRows.get(uid);
  }

  /** Whether this request still holds its writes (false outside a request or once they were applied). */
  holding(): boolean {
    return !!requestMemo.getStore()?.holding;
  }

  /**
   * A consume held with the request's writes: the row's payload replaced if its etag is still the
   * one read; if not (a parallel redemption won), the grant is revoked and the request fails with
   * invalid_grant once every held write ended.
   */
  holdConsume(pk: string, rk: string, etag: string, payload: string, grantId: string | undefined): void {
    const scope = requestMemo.getStore();
    if (!scope) return;
    const apply = async () => {
      try {
        await this.table.updateEntity({ partitionKey: pk, rowKey: rk, payload }, 'Merge', { etag });
      } catch (err) {
        if (isPreconditionFailed(err) || isNotFound(err))
          throw new ConsumeLostError(() => this.raceLost(grantId));
        throw err;
      }
    };
    scope.held.set(`consume\n${memoKey(pk, rk)}`, { apply });
  }

  /**
   * The broker session a code's or refresh token's row names (its grant's, when it was written):
   * a hint for reading ahead, from the row this request read; the grant's row stays what decides.
   */
  sessionHint(model: string, id: string): GrantBrokerSession | undefined {
    const { pk, rk } = this.location(model, id);
    return parseBinding(this.recall<Row>(pk, rk)?.brokerSession);
  }

  /** The broker session a grant was made in, from the grant's row (undefined: none recorded). */
  async grantSession(grantId: string): Promise<GrantBrokerSession | undefined> {
    const { pk, rk } = this.location('Grant', grantId);
    const row = await this.read<Row>(pk, rk);
    if (!row || (row.expiresAt && row.expiresAt <= this.now())) return undefined;
    return parseBinding(row.brokerSession);
  }

  /** Applies this request's held writes now (before a conditional write or a query that must see them). */
  async applyHeld(): Promise<void> {
    const scope = requestMemo.getStore();
    if (scope) await applyHeldWrites(scope);
  }

  /** A row as read (or last written) during this request, if it was. */
  recall<T>(pk: string, rk: string): (T & { etag: string }) | null | undefined {
    return requestMemo.getStore()?.rows.get(memoKey(pk, rk)) as (T & { etag: string }) | null | undefined;
  }

  remember(pk: string, rk: string, row: StoredRow | null): void {
    requestMemo.getStore()?.rows.set(memoKey(pk, rk), row);
  }

  forget(pk: string, rk: string): void {
    requestMemo.getStore()?.rows.delete(memoKey(pk, rk));
  }

  /** A point read, once per request (a read already on its way is shared, not repeated). */
  async read<T extends object>(pk: string, rk: string): Promise<(T & { etag: string }) | undefined> {
    const known = this.recall<T>(pk, rk);
    if (known !== undefined) return known ?? undefined;
    const scope = requestMemo.getStore();
    const key = memoKey(pk, rk);
    const flying = scope?.reads.get(key) as Promise<(T & { etag: string }) | undefined> | undefined;
    if (flying) return flying;
    const reading = getEntityOrUndefined<T>(this.table, pk, rk).then((row) => {
      // A write this request made meanwhile is newer than what was read.
      if (!scope?.rows.has(key)) this.remember(pk, rk, row ?? null);
      return row;
    });
    scope?.reads.set(key, reading);
    try {
      return await reading;
    } finally {
      if (scope?.reads.get(key) === reading) scope.reads.delete(key);
    }
  }
}

export class OidcAdapter {
  constructor(
    private readonly store: OidcTableStore,
    private readonly model: string,
  ) {}

  private get table() {
    return this.store.table;
  }

  private live(row: (Row & { etag: string }) | undefined, id: string): Payload | undefined {
    if (!row) return undefined;
    if (row.expiresAt && row.expiresAt <= this.store.now()) return undefined;
    const payload = JSON.parse(withId(row.payload, id)) as Payload;
    return { ...payload, jti: id };
  }

  async upsert(id: string, payload: Payload, expiresIn?: number): Promise<void> {
    const { pk, rk } = this.store.location(this.model, id);
    const expiresAt = expiresIn ? this.store.now() + expiresIn * 1000 : 0;
    const expiresAtIso = expiresAt ? new Date(expiresAt).toISOString() : FAR_FUTURE_ISO;
    const { jti: _jti, ...rest } = payload;
    // An interaction copies the OP session's id (its cookie value) for the login page's use; ours
    // never reads it, so it is not stored.
    if (this.model === 'Interaction' && rest.session && typeof rest.session === 'object') {
      const { cookie: _cookie, ...session } = rest.session as Payload;
      rest.session = session;
    }
    const grantId = typeof payload.grantId === 'string' ? payload.grantId : undefined;
    const writes: Promise<unknown>[] = [];
    const row: Row = { payload: withoutId(JSON.stringify(rest), id), expiresAt, expiresAtIso };
    if (this.model === 'Grant') {
      const brokerSession = this.store.grantSessionFor(id, pk, rk);
      if (brokerSession) row.brokerSession = brokerSession;
    }
    if (this.model === 'Session') {
      if (typeof payload.uid === 'string') this.store.noteSessionRow(payload.uid, pk, rk);
      this.store.noteSessionGrants(pk, rk, payload, expiresAt);
      if (this.sessionUnchanged(pk, rk, row.payload, expiresAt)) return;
    }
    if (grantId && SESSION_HINT_MODELS.has(this.model)) {
      const grant = this.store.location('Grant', grantId);
      const brokerSession = this.store.grantSessionFor(grantId, grant.pk, grant.rk);
      if (brokerSession) row.brokerSession = brokerSession;
    }
    const sessionUid =
      SESSION_HINT_MODELS.has(this.model) &&
      payload.expiresWithSession === true &&
      typeof payload.sessionUid === 'string'
        ? payload.sessionUid
        : undefined;
    const remembered = grantId && ISSUED_HINT_MODELS.has(this.model) ? grantId : undefined;
    if (sessionUid || remembered) {
      // The OP session can get another row later in this request (a new sign-in gives it a new id
      // and deletes the old row after the code was made): its row is named once the request is done.
      this.store.whenWritten(() => {
        const at = sessionUid ? this.store.sessionRow(sessionUid) : undefined;
        if (at) row.opSession = sessionRowText(at);
        else delete row.opSession;
        if (remembered) this.rememberIssued(pk, rk, remembered, payload, row);
      });
    }
    if (grantId) {
      const g = hashId(grantId);
      row.grantKey = g;
      if (!UNINDEXED_MODELS.has(this.model))
        writes.push(
          this.upsertRow(`g:${g}`, `${this.model}:${rk}`, { targetPk: pk, targetRk: rk, expiresAtIso }),
        );
    }
    if (UID_MODELS.has(this.model) && typeof payload.uid === 'string') {
      // The index row is written to outlast the session by a day: a session saved again (each
      // authorization moves its expiry a little) under the same id and uid rewrites it only once
      // it would outlive that.
      const before = this.store.recall<Row>(pk, rk);
      const covered =
        !!before?.etag &&
        this.live(before, id)?.uid === payload.uid &&
        (expiresAt === 0
          ? before.expiresAtIso === FAR_FUTURE_ISO
          : expiresAt <= (before.uidUntil ?? before.expiresAt));
      if (covered) row.uidUntil = before.uidUntil ?? before.expiresAt;
      else {
        const u = this.store.location('uid', payload.uid);
        const until = expiresAt ? expiresAt + UID_INDEX_SLACK_MS : 0;
        if (until) row.uidUntil = until;
        writes.push(
          this.upsertRow(u.pk, u.rk, {
            targetPk: pk,
            targetRk: rk,
            expiresAtIso: until ? new Date(until).toISOString() : FAR_FUTURE_ISO,
          }),
        );
      }
    }
    writes.push(this.upsertRow(pk, rk, row));
    await Promise.all(writes);
  }

  private upsertRow(pk: string, rk: string, entity: object): Promise<void> {
    return this.store.upsertRow(pk, rk, entity);
  }

  private read(pk: string, rk: string) {
    return this.store.read<Row>(pk, rk);
  }

  async find(id: string): Promise<Payload | undefined> {
    const { pk, rk } = this.store.location(this.model, id);
    const row = await this.read(pk, rk);
    const payload = this.live(row, id);
    if (payload) this.noteSession(payload, row?.opSession, pk, rk);
    if (payload && row && this.model === 'Session')
      this.store.noteSessionGrants(pk, rk, payload, row.expiresAt);
    return payload;
  }

  /** Per instance: what a token request for this artifact will read after its row (issued-hints.ts). */
  private rememberIssued(pk: string, rk: string, grantId: string, payload: Payload, row: Row): void {
    const brokerSession = parseBinding(row.brokerSession);
    const at = parseSessionRow(row.opSession);
    const uid = payload.sessionUid;
    this.store.issued.set(
      memoKey(pk, rk),
      {
        grantId,
        ...(typeof payload.accountId === 'string' ? { sub: payload.accountId } : {}),
        ...(brokerSession ? { brokerSession } : {}),
        ...(at && typeof uid === 'string' ? { opSession: { uid, ...at } } : {}),
      },
      row.expiresAt,
    );
  }

  /** Remembers, for this request, where the OP session a row is (or names) can be read. */
  private noteSession(payload: Payload, opSession: string | undefined, pk: string, rk: string): void {
    if (this.model === 'Session') {
      if (typeof payload.uid === 'string') this.store.noteSessionRow(payload.uid, pk, rk);
      return;
    }
    const at = parseSessionRow(opSession);
    if (at && typeof payload.sessionUid === 'string')
      this.store.noteSessionRow(payload.sessionUid, at.pk, at.rk);
  }

  async findByUid(uid: string): Promise<Payload | undefined> {
    const known = this.store.sessionRow(uid);
    const atKnown = known && (await this.sessionAt(known.pk, known.rk, uid));
    if (atKnown) return atKnown;
    const u = this.store.location('uid', uid);
    const idx = await this.store.read<IndexRow>(u.pk, u.rk);
    if (!idx) return undefined;
    const found = await this.sessionAt(idx.targetPk, idx.targetRk, uid);
    // What this request issues next names the row found here, not one it was told of before.
    if (found) this.store.noteSessionRow(uid, idx.targetPk, idx.targetRk);
    return found;
  }

  /** The live session at this row, if it carries `uid`. */
  private async sessionAt(pk: string, rk: string, uid: string): Promise<Payload | undefined> {
    const payload = this.live(await this.read(pk, rk), '');
    if (!payload || payload.uid !== uid) return undefined;
    // The session's id is never stored; the provider only needs it to save the session again, which
    // it does under the id from the session cookie. Without it this lookup serves logout/interaction
    // checks (accountId, uid), which is all the provider uses findByUid for.
    delete payload.jti;
    return payload;
  }

  async findByUserCode(_userCode: string): Promise<Payload | undefined> {
    return undefined; // device flow is off
  }

  async consume(id: string): Promise<void> {
    const { pk, rk } = this.store.location(this.model, id);
    this.store.forgetIssued(pk, rk);
    const known = this.store.recall<Row>(pk, rk);
    if (known?.etag && this.store.holding()) {
      // Read (not written) by this request: its etag is the stored one; the consume joins the
      // request's held writes.
      const payload = JSON.parse(withId(known.payload, id)) as Payload;
      const grantId = typeof payload.grantId === 'string' ? payload.grantId : undefined;
      if (payload.consumed) return this.store.raceLost(grantId);
      payload.consumed = Math.floor(this.store.now() / 1000);
      const updated = withoutId(JSON.stringify(payload), id);
      this.store.holdConsume(pk, rk, known.etag, updated, grantId);
      this.store.remember(pk, rk, { ...known, payload: updated, etag: '' });
      return;
    }
    await this.store.applyHeld(); // the conditional write needs the stored row's etag
    const row = await this.read(pk, rk);
    if (!row) return this.store.raceLost(undefined);
    const payload = JSON.parse(withId(row.payload, id)) as Payload;
    const lost = () => this.store.raceLost(typeof payload.grantId === 'string' ? payload.grantId : undefined);
    if (payload.consumed) return lost();
    payload.consumed = Math.floor(this.store.now() / 1000);
    try {
      const updated = withoutId(JSON.stringify(payload), id);
      const res = await this.table.updateEntity({ partitionKey: pk, rowKey: rk, payload: updated }, 'Merge', {
        etag: row.etag,
      });
      this.store.remember(pk, rk, { ...row, payload: updated, etag: res.etag ?? '' });
    } catch (err) {
      this.store.forget(pk, rk); // unknown now: read again if asked
      if (isPreconditionFailed(err) || isNotFound(err)) return lost();
      throw err;
    }
  }

  /**
   * The OP session saved with the content this request read and an expiry less than
   * SESSION_REWRITE_SLACK_MS later than the stored one: nothing to write.
   */
  private sessionUnchanged(pk: string, rk: string, payload: string, expiresAt: number): boolean {
    const before = this.store.recall<Row>(pk, rk);
    if (!before?.etag || !before.expiresAt || !expiresAt) return false;
    if (expiresAt < before.expiresAt || expiresAt - before.expiresAt >= SESSION_REWRITE_SLACK_MS)
      return false;
    return sessionContent(before.payload) === sessionContent(payload);
  }

  async destroy(id: string): Promise<void> {
    const { pk, rk } = this.store.location(this.model, id);
    this.store.forgetIssued(pk, rk);
    if (this.model === 'Session') this.store.sessionGrants.delete(memoKey(pk, rk));
    await this.deleteRow(pk, rk);
  }

  private deleteRow(pk: string, rk: string): Promise<void> {
    return this.store.deleteRow(pk, rk);
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    // Codes and access tokens have no index rows: the grant's deletion is what refuses them.
    if (UNINDEXED_MODELS.has(this.model)) return;
    await this.store.applyHeld(); // the query must see this request's index rows
    const gpk = `g:${hashId(grantId)}`;
    // Only this model's index rows: the provider calls this once per token model.
    const filter = `PartitionKey eq ${odataString(gpk)} and RowKey ge ${odataString(`${this.model}:`)} and RowKey lt ${odataString(`${this.model};`)}`;
    const rows = this.table.listEntities<IndexRow>({ queryOptions: { filter } });
    const deletes: Promise<void>[] = [];
    for await (const idx of rows) {
      deletes.push(
        this.deleteRow(idx.targetPk, idx.targetRk).then(() => this.deleteRow(gpk, idx.rowKey as string)),
      );
    }
    await Promise.all(deletes);
  }
}
