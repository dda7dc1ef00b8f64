/**
 * OIDC Back-Channel Logout 1.0 deliveries (docs/security.md OP13): for each ended broker session in
 * the queue (logout-queue.ts), every application with a grant in that session (session-grants.ts)
 * and a registered `backchannelLogoutUri` gets a logout token, POSTed as `logout_token`. An attempt
 * has a few seconds; a failed one (no answer, not 2xx) is retried with backoff until the queue row's
 * window ends; every attempt is audited. Never on a request's critical path: the request that ended
 * the session only wrote the queue row; this runs after it answered, and from the maintenance timer.
 */
import type { JWK } from 'jose';
import type { Clock } from '../core/clock.ts';
import type { Logger } from '../core/log.ts';
import { LOGOUT_WINDOW_MS, type LogoutQueue, type PendingLogout, type QueuedLogout } from './logout-queue.ts';
import { signLogoutToken } from './logout-token.ts';
import type { AuditRecorder, ProviderClientSource } from './ports.ts';
import { grantsOf } from './session-grants.ts';
import type { OidcTableStore } from './store.ts';

/** One attempt's time limit. */
export const DELIVERY_TIMEOUT_MS = 5_000;
/** Waits before the 2nd, 3rd, … attempt; the last one repeats until the window ends. */
export const RETRY_BACKOFF_MS = [2_000, 10_000, 60_000, 5 * 60_000, 30 * 60_000, 2 * 3600_000];
/** Rows one drain works on. */
const DRAIN_BATCH = 50;

export interface LogoutDeliveryDeps {
  queue: LogoutQueue;
  store: OidcTableStore;
  applications: ProviderClientSource;
  record: AuditRecorder;
  clock: Clock;
  log: Logger;
  issuer: string;
  /** The OP's current private signing key for `alg`. */
  signingKey(alg: string): Promise<JWK | undefined>;
  fetch?: typeof fetch;
}

export class LogoutDelivery {
  private draining?: Promise<void>;
  private again = false;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(private readonly d: LogoutDeliveryDeps) {
    d.queue.whenEnqueued(() => this.kick());
  }

  /** Drains soon, outside the caller's request (its answer never waits for an application). */
  kick(delayMs = 0): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.drain().catch((err: unknown) => this.d.log.error('oidc.logout.drain_failed', { error: err }));
    }, delayMs);
    t.unref();
    this.timers.add(t);
  }

  /** Drains scheduled in this process and not yet started. */
  get scheduled(): number {
    return this.timers.size;
  }

  /** Stops the in-process retry timers (the queue keeps the work for the timer). */
  stop(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  /** Works on every due row; one drain at a time per instance (a second call waits for it and runs again). */
  drain(): Promise<void> {
    if (this.draining) {
      this.again = true;
      return this.draining;
    }
    this.draining = (async () => {
      try {
        do {
          this.again = false;
          const rows = await this.d.queue.claimDue(DRAIN_BATCH);
          await Promise.all(rows.map((q) => this.work(q)));
          if (rows.length === DRAIN_BATCH) this.again = true;
        } while (this.again);
      } finally {
        this.draining = undefined;
      }
    })();
    return this.draining;
  }

  private async work(q: QueuedLogout): Promise<void> {
    const pending = q.pending ?? (await this.expand(q));
    const attempt = q.attempts + 1;
    const results = await Promise.all(pending.map((p) => this.deliver(p, attempt)));
    const left = pending.filter((_, i) => !results[i]);
    if (left.length === 0) return this.d.queue.remove(q);
    const now = this.d.clock.now();
    const wait = RETRY_BACKOFF_MS[Math.min(q.attempts, RETRY_BACKOFF_MS.length - 1)] ?? 60_000;
    if (now + wait > q.createdAt + LOGOUT_WINDOW_MS) {
      for (const p of left) {
        await this.d.record({
          type: 'oidc.logout.abandoned',
          actor: 'system',
          target: `application:${p.clientId}`,
          outcome: 'failure',
          reason: 'retries_exhausted',
          details: { clientId: p.clientId, userId: p.sub, attempts: attempt },
        });
      }
      return this.d.queue.remove(q);
    }
    await this.d.queue.retryLater(q, left, now + wait);
    this.kick(wait);
  }

  /** The logouts an ended session owes: its grants' applications that registered a back-channel URI. */
  private async expand(q: QueuedLogout): Promise<PendingLogout[]> {
    const grants = await grantsOf(this.d.store, { u: q.username, s: q.sessionId });
    const seen = new Set<string>();
    const out: PendingLogout[] = [];
    for (const g of grants) {
      const key = `${g.clientId}\n${g.sub}\n${g.sid}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const app = await this.d.applications.clientForProvider(g.clientId);
      if (app?.backchannelLogoutUri) out.push(g);
    }
    return out;
  }

  /** One attempt at one application; true when it answered 2xx. Audited either way. */
  private async deliver(p: PendingLogout, attempt: number): Promise<boolean> {
    const app = await this.d.applications.clientForProvider(p.clientId);
    const uri = app?.backchannelLogoutUri;
    if (!app || !uri) return true; // deleted, or no longer listening: nothing owed
    let reason: string | undefined;
    let status: number | undefined;
    try {
      const alg = app.id_token_signed_response_alg ?? 'RS256';
      const key = await this.d.signingKey(alg);
      if (!key) throw new Error(`no ${alg} signing key`);
      const token = await signLogoutToken(key, {
        issuer: this.d.issuer,
        audience: p.clientId,
        sub: p.sub,
        sid: p.sid,
        now: this.d.clock.now(),
      });
      const res = await (this.d.fetch ?? fetch)(uri, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ logout_token: token }),
        redirect: 'manual',
        signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
      });
      status = res.status;
      await res.body?.cancel().catch(() => {});
      if (res.status < 200 || res.status >= 300) reason = `http_${res.status}`;
    } catch (err) {
      reason = (err as Error)?.name === 'TimeoutError' ? 'timeout' : 'unreachable';
    }
    await this.d.record({
      type: 'oidc.logout.delivery',
      actor: 'system',
      target: `application:${p.clientId}`,
      outcome: reason ? 'failure' : 'success',
      ...(reason ? { reason } : {}),
      details: { clientId: p.clientId, userId: p.sub, attempt, status: status ?? null },
    });
    return !reason;
  }
}
