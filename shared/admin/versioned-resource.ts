import type { AuditEventInput, AuditLog, ChangeContext } from '../audit/log.ts';
import type { Clock } from '../core/clock.ts';
import { PreconditionFailedError } from '../core/errors.ts';
import type { Caller } from './caller.ts';
import { requireRecentSignIn } from './fresh-sign-in.ts';

/**
 * The one way an admin changes a versioned resource (an integration, an application, a user):
 * read the row → check `If-Match` (412) → decide the change → write it conditional on the etag read
 * (so a concurrent change also answers 412) → audit the names of the changed fields → answer the
 * view. The resource keeps what is its own (its rows, side writes, caches); this keeps the order.
 */

/** A row as read: the etag is what every write of it is conditional on. */
export interface Versioned {
  etag: string;
}

/** 412 unless `ifMatch` is absent or `*` ("the current version") or names the version read. */
export function checkIfMatch(current: Versioned, ifMatch: string | undefined): void {
  if (ifMatch !== undefined && ifMatch !== '*' && ifMatch !== current.etag)
    throw new PreconditionFailedError();
}

/** Timestamps of rows (createdAt, updatedAt, lastTest.at): ISO 8601, UTC. */
export const isoTime = (ms: number): string => new Date(ms).toISOString();

/** Who asks for a change and on which version: the request side of every change. */
export interface ChangeRequest {
  /** The `If-Match` header; undefined or `*` for "whatever version is current". */
  ifMatch: string | undefined;
  /** The audit actor. */
  actor: string;
  ctx?: ChangeContext;
  /** For the fresh-sign-in rule (docs/security.md AD5); undefined is not a browser session. */
  caller?: Caller | undefined;
}

/**
 * Whether a change needs a recent sign-in (docs/security.md AD5). `before`: decided from the request alone, checked
 * before the row is read (401 even for a row that does not exist); `of`: decided from the row read,
 * checked before `If-Match`.
 */
export interface FreshSignInRule<S> {
  before?: boolean;
  of?: (current: S) => boolean;
}

/** The audit event of one change; the skeleton adds type prefix, actor, target and request context. */
export type ChangeEvent = Omit<
  AuditEventInput,
  'type' | 'actor' | 'target' | 'correlationId' | 'clientAddress'
> & {
  /** The last part of the event type: `updated` becomes `admin.<kind>.updated`. */
  event: string;
};

type AuditDetails = NonNullable<AuditEventInput['details']>;

/** What a change does to the row it read. */
export interface PlannedChange<S extends Versioned> {
  next: Omit<S, 'etag'>;
  audit: ChangeEvent;
}

export interface ChangeSteps<S extends Versioned> {
  fresh?: FreshSignInRule<S>;
  /** The new row and its audit event; undefined when nothing changes (no write, no event). */
  plan(current: S): PlannedChange<S> | undefined | Promise<PlannedChange<S> | undefined>;
  /**
   * Writes `next` conditional on `current.etag`, with whatever must happen around that write (an
   * index row claimed before, a Key Vault version disabled when it fails). Default: `replace`.
   */
  write?(next: Omit<S, 'etag'>, current: S): Promise<S>;
  /**
   * After a successful write, before the audit event (refresh a cache, revoke sessions); details
   * it answers (e.g. how many sessions it revoked) are added to the event's.
   */
  written?(stored: S, current: S): AuditDetails | undefined | Promise<AuditDetails | undefined>;
}

export interface VersionedResourceDeps<S extends Versioned, V> {
  /** Names the audit events (`admin.<kind>.<event>`) and their targets (`<kind>:<key>`). */
  kind: string;
  /** The row of `id`, or a NotFoundError. */
  load(id: string): Promise<S>;
  /** The row's id as audit targets name it. */
  key(row: Omit<S, 'etag'>): string;
  /** Writes the row if it still has `etag` (412 otherwise). */
  replace(next: Omit<S, 'etag'>, etag: string): Promise<S>;
  view(row: S): V | Promise<V>;
  audit: AuditLog;
  clock: Clock;
}

export class VersionedResource<S extends Versioned, V> {
  constructor(private readonly deps: VersionedResourceDeps<S, V>) {}

  /** The row a change starts from: fresh sign-in `before` (401), the row (404), `of` (401), If-Match (412). */
  async open(id: string, req: ChangeRequest, fresh?: FreshSignInRule<S>): Promise<S> {
    if (fresh?.before) requireRecentSignIn(req.caller, this.deps.clock);
    const current = await this.deps.load(id);
    if (fresh?.of?.(current)) requireRecentSignIn(req.caller, this.deps.clock);
    checkIfMatch(current, req.ifMatch);
    return current;
  }

  /** The whole skeleton; answers the view of the row as now stored (as read when nothing changed). */
  async change(id: string, req: ChangeRequest, steps: ChangeSteps<S>): Promise<V> {
    return this.deps.view(await this.changeRow(id, req, steps));
  }

  /** As `change`, answering the row itself (for answers that are not the view, e.g. only the etag). */
  async changeRow(id: string, req: ChangeRequest, steps: ChangeSteps<S>): Promise<S> {
    const current = await this.open(id, req, steps.fresh);
    const planned = await steps.plan(current);
    if (!planned) return current;
    const stored = steps.write
      ? await steps.write(planned.next, current)
      : await this.deps.replace(planned.next, current.etag);
    const more = await steps.written?.(stored, current);
    const event = more ? { ...planned.audit, details: { ...planned.audit.details, ...more } } : planned.audit;
    await this.record(stored, req, event);
    return stored;
  }

  /** Records a change of `row` (for the steps that are not a replace: create, delete). */
  async record(row: S | Omit<S, 'etag'>, req: Pick<ChangeRequest, 'actor' | 'ctx'>, e: ChangeEvent) {
    const { event, ...fields } = e;
    await this.deps.audit.record({
      type: `admin.${this.deps.kind}.${event}`,
      actor: req.actor,
      target: `${this.deps.kind}:${this.deps.key(row)}`,
      ...fields,
      ...req.ctx,
    });
  }

  /** The current time as rows record it. */
  now(): string {
    return isoTime(this.deps.clock.now());
  }
}
