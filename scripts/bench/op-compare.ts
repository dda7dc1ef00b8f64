/**
 * Application sign-in with a session (authorize → code → token, single sign-on, no page), the broker's
 * OpenID Provider beside a plain `oidc-provider` with its in-memory adapter (plain-op-app.ts): the
 * same client, the same `appSignIn` flow, interleaved samples (broker, plain, broker, …). The ratio is
 * what the broker's storage and checks add to the library's own floor.
 */
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
}

export async function measureOpCompare(
  broker: OpSide,
  plain: OpSide,
  samples: number,
  warmUp: () => Promise<void> = async () => {},
): Promise<OpCompare> {
  const sides = [broker, plain];
  // Provider, keys, caches and the JIT on both; the plain OP's one interaction makes its session and grant.
  for (let i = 0; i < 10; i++) for (const s of sides) await appSignIn(s.url, s.jar, s.client);
  await warmUp();
  const lat: [number[], number[]] = [[], []];
  for (let i = 0; i < samples; i++) {
    for (const k of i % 2 === 0 ? [0, 1] : [1, 0]) {
      const s = sides[k] as OpSide;
      lat[k]?.push((await appSignIn(s.url, s.jar, s.client)).ms);
    }
  }
  const stats = (v: number[]) => ({ p50: pct(v, 50), p95: pct(v, 95) });
  return { samples, broker: stats(lat[0]), plain: stats(lat[1]) };
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
}
