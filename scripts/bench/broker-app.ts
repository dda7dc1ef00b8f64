/**
 * The broker as the bench runs it, in its own process: the real app on the local host, its Table
 * clients pointed at the counting proxy. Rate limits are raised (every bench request comes from
 * 127.0.0.1, so the per-address limits would stop the bench at once); the Throttle still reads and
 * writes its counter rows, so the Table Storage counts are those of production.
 */
import type { PipelinePolicy } from '@azure/core-rest-pipeline';
import { systemClock } from '../../shared/core/clock.ts';
import { loadConfig } from '../../shared/core/config.ts';
import { setLogSink } from '../../shared/core/log.ts';
import { SlotLimiter } from '../../shared/limits/slots.ts';
import { type RatePolicy, Throttle, type ThrottleState } from '../../shared/limits/throttle.ts';
import { createAzureCredential } from '../../shared/secrets/client.ts';
import { createTables } from '../../shared/storage/tables.ts';
import { setServices } from '../../shared/web/runtime.ts';
import { createServices } from '../../shared/web/services.ts';
import { loadApp, startLocalHost } from '../host/local-host.ts';

/** Rate limits raised for the bench only (see the header comment). */
export class BenchThrottle extends Throttle {
  override hit(kind: string, value: string, policy: RatePolicy): Promise<ThrottleState> {
    return super.hit(kind, value, { ...policy, limit: Number.MAX_SAFE_INTEGER });
  }
}

/**
 * The slot limits (start, callback, password address) raised for the bench: each attempt still takes
 * (writes) one slot row, and a password sign-in gives its slot back, as in production.
 */
export class BenchSlots extends SlotLimiter {
  override take(kind: string, value: string, policy: RatePolicy): ReturnType<SlotLimiter['take']> {
    return super.take(kind, value, { ...policy, limit: 1_000_000 });
  }
}

export interface BrokerAppOptions {
  port: number;
  env: Record<string, string>;
  /**
   * Tables straight to Azurite, and the storage round-trip time added in this process (a timer before
   * each attempt goes out, set with `setStorageRtt`) instead of by the counting proxy: the op phase's
   * broker, measured without the proxy's extra hop and the CPU it takes on the same two cores.
   */
  storageRttInProcess?: boolean;
}

/**
 * How long at least one Table request was in flight (ms, from this process's start): the union of the
 * requests' intervals, so parallel requests count once.
 */
export class InFlightClock {
  private inFlight = 0;
  private since = 0;
  private total = 0;

  begin(): void {
    if (this.inFlight++ === 0) this.since = performance.now();
  }

  end(): void {
    if (--this.inFlight === 0) this.total += performance.now() - this.since;
  }

  /** The total so far, counting a period still open up to now. */
  ms(): number {
    return this.total + (this.inFlight > 0 ? performance.now() - this.since : 0);
  }
}

/**
 * Holds each Table request `rttMs()` before it goes out (closest to the wire: after signing), and
 * times it on `clock` from there to its parsed response (the delay, the HTTP exchange, the emulator's
 * work and the response's parsing).
 */
export function storageDelayPolicy(rttMs: () => number, clock?: InFlightClock): PipelinePolicy {
  return {
    name: 'bench-storage-rtt',
    async sendRequest(request, next) {
      clock?.begin();
      try {
        const ms = rttMs();
        if (ms > 0) await new Promise((r) => setTimeout(r, ms));
        return await next(request);
      } finally {
        clock?.end();
      }
    },
  };
}

export async function startBrokerApp(o: BrokerAppOptions) {
  setLogSink(() => {}); // audit lines would drown the output
  const config = loadConfig(o.env);
  const tables = createTables(config, createAzureCredential(config));
  let storageRttMs = 0;
  const inFlight = new InFlightClock();
  if (o.storageRttInProcess) {
    const delay = storageDelayPolicy(() => storageRttMs, inFlight);
    for (const table of Object.values(tables)) table.pipeline.addPolicy(delay, { afterPhase: 'Sign' });
  }
  const services = createServices(config, {
    tables,
    throttle: new BenchThrottle(tables.throttle, systemClock),
    slots: new BenchSlots(tables.throttle, systemClock),
  });
  setServices(services);
  const host = await startLocalHost({ routes: await loadApp(), port: o.port });
  return {
    url: host.url,
    close: host.close,
    setStorageRtt: (ms: number) => {
      if (!o.storageRttInProcess)
        throw new Error('this broker adds no storage RTT itself (storageRttInProcess)');
      storageRttMs = ms;
    },
    ...(o.storageRttInProcess ? { tableInFlightMs: () => inFlight.ms() } : {}),
    extra: async () => ({
      msalAccounts: await services.entraClients.cachedAccounts(),
      msalClients: services.entraClients.size,
    }),
  };
}
