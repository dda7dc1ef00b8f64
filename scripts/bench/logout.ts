/**
 * Sign-out latency with back-channel logout: a broker session with grants in 1 application vs in 20,
 * each registered with a `backchannelLogoutUri` at a local receiver that answers slowly. The user's
 * `POST /api/auth/logout` must not wait for any application, so its latency must not grow with the
 * number of apps; the receiver counts the logout tokens that do arrive (after the sign-out answered).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Services } from '../../shared/web/services.ts';
import { appSignIn, type BenchClient, ms, passwordSession, pct } from './flows.ts';

export interface SlowReceiver {
  url: string;
  /** Logout tokens received so far. */
  received(): number;
  close(): Promise<void>;
}

/** A back-channel logout endpoint that answers 200 after `delayMs` (a slow application). */
export async function startSlowReceiver(delayMs: number): Promise<SlowReceiver> {
  let received = 0;
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      if (new URLSearchParams(body).get('logout_token')) received++;
      setTimeout(() => res.writeHead(200).end(), delayMs).unref();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received: () => received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** `count` confidential applications whose back-channel logout goes to the receiver. */
export async function createLogoutApps(
  services: Services,
  receiverUrl: string,
  redirectUri: string,
  count: number,
): Promise<BenchClient[]> {
  const out: BenchClient[] = [];
  for (let i = 0; i < count; i++) {
    const app = await services.applications.create(
      {
        name: `Bench logout app ${i}`,
        type: 'confidential',
        redirectUris: [redirectUri],
        idTokenSignedResponseAlg: 'RS256',
        backchannelLogoutUri: `${receiverUrl}/logout/${i}`,
      },
      'bench',
      { correlationId: 'bench' },
    );
    out.push({ clientId: app.clientId, clientSecret: app.clientSecretValue ?? '', redirectUri });
  }
  return out;
}

export interface LogoutResult {
  samples: number;
  byApps: { apps: number; p50: number; p95: number }[];
  expected: number;
  delivered: number;
}

export interface LogoutSetup {
  base: string;
  origin: string;
  users: string[];
  password: string;
  clients: BenchClient[];
  receiver: SlowReceiver;
}

/**
 * Interleaved (1 app, 20 apps, 1, …): a fresh broker session, one application sign-in per app, then
 * the timed sign-out. Afterwards waits a little for the deliveries and reports how many arrived.
 */
export async function measureLogout(
  s: LogoutSetup,
  samples: number,
  appCounts = [1, 20],
): Promise<LogoutResult> {
  const lat = new Map<number, number[]>(appCounts.map((k) => [k, []]));
  let next = 0;
  const once = async (apps: number) => {
    const jar = await passwordSession(
      s.base,
      s.origin,
      s.users[next++ % s.users.length] as string,
      s.password,
    );
    for (const client of s.clients.slice(0, apps)) await appSignIn(s.base, jar, client);
    const t = performance.now();
    const res = await fetch(`${s.base}/api/auth/logout`, {
      method: 'POST',
      redirect: 'manual',
      headers: { origin: s.origin, cookie: jar.header },
    });
    await res.arrayBuffer();
    const took = ms(t);
    if (res.status !== 303) throw new Error(`sign-out answered ${res.status}`);
    return took;
  };
  const r0 = s.receiver.received();
  for (const k of appCounts) await once(k); // warm-up
  for (let i = 0; i < samples; i++) {
    for (const k of i % 2 === 0 ? appCounts : [...appCounts].reverse()) lat.get(k)?.push(await once(k));
  }
  // The warm-up's sign-outs owe their logouts too.
  const expected = (samples + 1) * appCounts.reduce((a, b) => a + b, 0);
  for (let waited = 0; waited < 15_000 && s.receiver.received() - r0 < expected; waited += 250)
    await new Promise((r) => setTimeout(r, 250));
  return {
    samples,
    byApps: appCounts.map((apps) => ({
      apps,
      p50: pct(lat.get(apps) ?? [], 50),
      p95: pct(lat.get(apps) ?? [], 95),
    })),
    expected,
    delivered: s.receiver.received() - r0,
  };
}

export function printLogout(r: LogoutResult, delayMs: number, storageRtt: number): void {
  const f = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : 'n/a');
  console.log(
    `\nSign-out (POST /api/auth/logout) of a broker session with grants in N apps, each with a back-channel logout ` +
      `receiver answering after ${delayMs} ms; ${r.samples} interleaved samples each, storage RTT +${storageRtt} ms`,
  );
  for (const b of r.byApps)
    console.log(`  ${String(b.apps).padStart(2)} app(s): p50 ${f(b.p50)} ms, p95 ${f(b.p95)} ms`);
  console.log(`  Logout tokens received by the apps afterwards: ${r.delivered} of ${r.expected}`);
}
