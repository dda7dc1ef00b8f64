/**
 * Application sign-in with a session (authorize → code → token, single sign-on, no page), the broker's
 * OpenID Provider beside a plain `oidc-provider` with its in-memory adapter (plain-op-app.ts): the
 * same client, the same `appSignIn` flow, interleaved samples (broker, plain, broker, …). The ratio is
 * what the broker's storage and checks add to the library's own floor.
 */
import { readFileSync } from 'node:fs';
import { appSignIn, type BenchClient, type Jar, pct } from './flows.ts';

export interface OpSide {
  url: string;
  jar: Jar;
  client: BenchClient;
}

export interface OpCompare {
  samples: number;
  broker: { p50: number; p95: number };
  plain: { p50: number; p95: number };
  /** CPU per sign-in (ms) of each process, over the interleaved samples. */
  cpuMs?: { broker: number; plain: number; storage: number };
  /**
   * The broker's sign-ins split, per sample: the time at least one of its Table requests was in flight
   * (from after signing to the parsed response), and the rest of the sign-in (its own work, the HTTP
   * exchanges with the client and the client's). A diagnostic beside the ratio, not a replacement.
   */
  brokerSplit?: { tableInFlight: { p50: number; p95: number }; rest: { p50: number; p95: number } };
}

/** CPU time (µs, user + system) of the broker, the plain OP and the storage emulator processes. */
export interface OpCpu {
  broker(): Promise<number>;
  plain(): Promise<number>;
  storage(): number;
}

/** A process's CPU time in µs from /proc (Linux; NaN elsewhere). */
export function procCpuMicros(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime
    return (ticks * 1e6) / 100; // USER_HZ is 100 on Linux
  } catch {
    return Number.NaN;
  }
}

export async function measureOpCompare(
  broker: OpSide,
  plain: OpSide,
  samples: number,
  warmUp: () => Promise<void> = async () => {},
  cpu?: OpCpu,
  profile: (what: 'start' | 'stop') => Promise<void> = async () => {},
  /** The broker's `tableInFlightMs` (child.ts), read between samples. */
  tableInFlightMs?: () => Promise<number>,
): Promise<OpCompare> {
  const sides = [broker, plain];
  // Provider, keys, caches and the JIT on both; the plain OP's one interaction makes its session and grant.
  for (let i = 0; i < 10; i++) for (const s of sides) await appSignIn(s.url, s.jar, s.client);
  await warmUp();
  const lat: [number[], number[]] = [[], []];
  await profile('start');
  const before = cpu && { broker: await cpu.broker(), plain: await cpu.plain(), storage: cpu.storage() };
  const inFlight: number[] = [];
  const rest: number[] = [];
  for (let i = 0; i < samples; i++) {
    for (const k of i % 2 === 0 ? [0, 1] : [1, 0]) {
      const s = sides[k] as OpSide;
      const flightBefore = k === 0 ? await tableInFlightMs?.() : undefined;
      const took = (await appSignIn(s.url, s.jar, s.client)).ms;
      lat[k]?.push(took);
      if (flightBefore !== undefined && tableInFlightMs) {
        const flight = (await tableInFlightMs()) - flightBefore;
        inFlight.push(flight);
        rest.push(took - flight);
      }
    }
  }
  await profile('stop');
  const cpuMs =
    cpu && before
      ? {
          broker: (await cpu.broker()) - before.broker,
          plain: (await cpu.plain()) - before.plain,
          // The emulator serves both sides' storage only for the broker (the plain OP keeps memory).
          storage: cpu.storage() - before.storage,
        }
      : undefined;
  const stats = (v: number[]) => ({ p50: pct(v, 50), p95: pct(v, 95) });
  return {
    samples,
    broker: stats(lat[0]),
    plain: stats(lat[1]),
    ...(inFlight.length > 0 && inFlight.every(Number.isFinite)
      ? { brokerSplit: { tableInFlight: stats(inFlight), rest: stats(rest) } }
      : {}),
    ...(cpuMs
      ? {
          cpuMs: {
            broker: cpuMs.broker / 1000 / samples,
            plain: cpuMs.plain / 1000 / samples,
            storage: cpuMs.storage / 1000 / samples,
          },
        }
      : {}),
  };
}

export function printOpCompare(r: OpCompare, storageRtt: number): void {
  const f = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : 'n/a');
  const ratio = (a: number, b: number) => (b > 0 ? (a / b).toFixed(2) : 'n/a');
  console.log(
    `\nApplication sign-in with a session (authorize → code → token, SSO, no page), broker OP vs plain oidc-provider ` +
      `(in-memory adapter, same client configuration), ${r.samples} interleaved samples each, storage RTT +${storageRtt} ms`,
  );
  for (const q of ['p50', 'p95'] as const)
    console.log(
      `  ${q} ms: broker ${f(r.broker[q]).padStart(7)}, plain ${f(r.plain[q]).padStart(7)}, ratio broker/plain ${ratio(r.broker[q], r.plain[q])}`,
    );
  if (r.brokerSplit)
    console.log(
      `  broker, per sign-in: a Table request in flight p50 ${f(r.brokerSplit.tableInFlight.p50)} ms, the rest p50 ` +
        `${f(r.brokerSplit.rest.p50)} ms (ratio of the rest to plain ${ratio(r.brokerSplit.rest.p50, r.plain.p50)}; a diagnostic, not the target's measure)`,
    );
  if (r.cpuMs)
    console.log(
      `  CPU ms per sign-in: broker ${f(r.cpuMs.broker)}, plain ${f(r.cpuMs.plain)}, Table Storage emulator (Azurite) for the broker ${f(r.cpuMs.storage)}`,
    );
}
