/**
 * `npm run soak -- --minutes M --rate R`: mixed traffic against a local stack this script starts on
 * free ports (Azurite in memory, the Key Vault stand-in, the Entra stand-in in a child process so its
 * memory is not counted, the app on the local host) — Entra sign-ins, password sign-ins, session
 * checks, admin reads and writes — at R operations per second (open loop) for M minutes. Prints, per
 * minute, operations, errors by status, p50/p95 latency and the heap after GC; at the end, errors by
 * operation and status. Exit code 1 if any operation failed.
 *
 * `npm run soak -- --capacity 30` instead runs a closed loop (16 workers) for 30 s and prints the
 * operations per second the stack sustained: run the soak at about half of it.
 *
 * A script, not a test: bounded (at most 60 minutes, 200 operations/s, 64 in flight), loopback only.
 * Each simulated client has its own address: requests to the broker leave from a distinct loopback
 * source address (127.x.y.z; the local host records it in X-Forwarded-For as Azure's front end does),
 * so per-address limits act as in production; nothing is raised.
 */
import { spawn } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { parseArgs } from 'node:util';
import { loadConfig } from '../shared/core/config.ts';
import { setLogSink } from '../shared/core/log.ts';
import { ensureTables } from '../shared/storage/tables.ts';
import { setServices } from '../shared/web/runtime.ts';
import { createServices } from '../shared/web/services.ts';
import { ENTRA_CHILD_FLAG, runEntraStandInChild, startEntraStandInChild } from './bench/entra-child.ts';
import { Jar, pct, standInLogin as standInLoginAt } from './bench/flows.ts';
import { loadApp, startLocalHost } from './host/local-host.ts';
import { freePort, startAzuriteTables } from './standins/azurite.ts';
import { ensureLocalCa } from './standins/ca.ts';
import { DEMO_ENTRA } from './standins/entra.ts';
import { startKeyVaultStandIn } from './standins/keyvault.ts';

const PASSWORD = 'Soak-Password-Correct-42!';
const ENTRA_USERS = 60;
const PASSWORD_USERS = 60;
const ADMIN_TARGETS = 20;
const MAX_IN_FLIGHT = 64;
const SESSION_RING = 200;

const ca = ensureLocalCa();
const gc = (globalThis as { gc?: () => void }).gc;

if (process.argv.includes(ENTRA_CHILD_FLAG)) {
  runEntraStandInChild().catch((err: unknown) => {
    console.error(`entra stand-in child failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
} else if (process.env.NODE_EXTRA_CA_CERTS !== ca.bundlePath || !gc) {
  const child = spawn(process.execPath, ['--expose-gc', ...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, NODE_EXTRA_CA_CERTS: ca.bundlePath },
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
  child.on('exit', (code) => process.exit(code ?? 1));
} else {
  main().then(
    () => process.exit(process.exitCode ?? 0),
    (err) => {
      console.error(`soak failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      process.exit(1);
    },
  );
}

/** fetch-like request to the broker from a given loopback source address (node:http, no keep-alive). */
function fromAddress(
  localAddress: string,
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      { method: init.method ?? 'GET', headers: init.headers ?? {}, localAddress, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const headers = new Headers();
          for (const [k, v] of Object.entries(res.headers)) {
            for (const one of Array.isArray(v) ? v : v === undefined ? [] : [v]) headers.append(k, one);
          }
          resolve(new Response(Buffer.concat(chunks), { status: res.statusCode ?? 0, headers }));
        });
      },
    );
    req.on('error', reject);
    req.end(init.body);
  });
}

/** An unexpected answer: counted by operation and status. */
class OpError extends Error {
  constructor(
    readonly op: string,
    readonly status: number | string,
  ) {
    super(`${op} answered ${status}`);
  }
}

type OpName = 'entra-sign-in' | 'password-sign-in' | 'session-check' | 'admin-read' | 'admin-write';
/** The mix: weights per operation. */
const MIX: [OpName, number][] = [
  ['entra-sign-in', 20],
  ['password-sign-in', 20],
  ['session-check', 35],
  ['admin-read', 15],
  ['admin-write', 10],
];

async function main() {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string', default: '5' },
      rate: { type: 'string', default: '5' },
      capacity: { type: 'string' },
    },
  });
  const minutes = Math.min(60, Math.max(0.1, Number(values.minutes)));
  const rate = Math.min(200, Math.max(0.1, Number(values.rate)));
  const capacitySeconds = values.capacity ? Math.min(300, Math.max(5, Number(values.capacity))) : undefined;
  if (!Number.isFinite(minutes) || !Number.isFinite(rate))
    throw new Error('--minutes and --rate take numbers');

  setLogSink(() => {});
  const closers: (() => Promise<void>)[] = [];
  try {
    // One after the other, each registered for closing as soon as it runs (nothing is left behind).
    const azurite = await startAzuriteTables();
    closers.push(azurite.close);
    const keyVault = await startKeyVaultStandIn();
    closers.push(keyVault.close);
    const entra = await startEntraStandInChild({ timeoutMs: 60_000 });
    closers.push(entra.close);
    const port = await freePort();
    const base = `http://localhost:${port}`;
    const config = loadConfig({
      BROKER_PUBLIC_BASE_URL: base,
      BROKER_TABLE_ENDPOINT: azurite.endpoint,
      BROKER_KEY_VAULT_URI: keyVault.url,
      BROKER_DEV_CREDENTIALS: 'true',
      BROKER_ENTRA_PUBLIC_AUTHORITY_HOST: entra.host,
    });
    const services = createServices(config);
    await ensureTables(services.tables);
    setServices(services);
    const host = await startLocalHost({ routes: await loadApp(), port });
    closers.unshift(host.close);

    // ---- seed
    const actor = { actor: 'soak' };
    const integration = await services.integrations.create(
      {
        kind: 'azure-ad',
        title: 'Soak Entra',
        applicationId: DEMO_ENTRA.clientId,
        tenant: DEMO_ENTRA.tenantId,
        clientSecret: DEMO_ENTRA.clientSecret,
        cloud: 'public',
        matchClaim: 'preferred_username',
      },
      'soak',
    );
    await services.integrations.activate(integration.id, undefined, 'soak');
    const names = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
    const entraUsers = names('e', ENTRA_USERS);
    const passwordUsers = names('p', PASSWORD_USERS);
    const adminTargets = names('a', ADMIN_TARGETS);
    for (const u of entraUsers) {
      await services.users.create(
        { username: u, email: `${u}@${DEMO_ENTRA.domain}`, verifyType: { integrationId: integration.id } },
        actor,
      );
    }
    for (const u of [...passwordUsers, ...adminTargets]) {
      await services.users.create({ username: u, verifyType: 'password', password: PASSWORD }, actor);
    }
    const { token } = await services.adminTokens.create({ name: 'soak' }, 'soak');

    // ---- operations
    let addressSeq = 0;
    const nextAddress = () => {
      addressSeq++;
      return `127.${1 + ((addressSeq >> 16) % 250)}.${(addressSeq >> 8) & 255}.${1 + (addressSeq % 250)}`;
    };
    const ADMIN_ADDRESS = '127.254.0.1';
    const sessions: Jar[] = [];
    const keepSession = (jar: Jar) => {
      sessions.push(jar);
      if (sessions.length > SESSION_RING) sessions.shift();
    };
    const pick = <T>(xs: T[]) => xs[Math.floor(Math.random() * xs.length)] as T;
    const expect = async (op: string, res: Response, status: number) => {
      await res.arrayBuffer();
      if (res.status !== status) throw new OpError(op, res.status);
    };
    const form = (jar?: Jar) => ({
      origin: base,
      'content-type': 'application/x-www-form-urlencoded',
      ...(jar?.header ? { cookie: jar.header } : {}),
    });

    // The Entra stand-in's login form (shared with the bench); failures count as an Entra sign-in error.
    const standInLogin = (authorizeUrl: string, account: string): Promise<string> =>
      standInLoginAt(authorizeUrl, account, `${base}/api/auth/callback`).catch((err: unknown) => {
        throw new OpError('entra-sign-in', err instanceof Error ? err.message : 'stand-in');
      });

    const ops: Record<OpName, () => Promise<void>> = {
      'entra-sign-in': async () => {
        const jar = new Jar();
        const address = nextAddress();
        const user = pick(entraUsers);
        const start = await fromAddress(address, `${base}/api/auth/login`, {
          method: 'POST',
          headers: form(jar),
          body: new URLSearchParams({ username: user }).toString(),
        });
        await expect('entra-sign-in start', start, 302);
        jar.store(start);
        const callbackUrl = await standInLogin(start.headers.get('location') as string, user);
        const cb = await fromAddress(address, callbackUrl, { headers: { cookie: jar.header } });
        jar.store(cb);
        await expect('entra-sign-in callback', cb, 302);
        keepSession(jar);
      },
      'password-sign-in': async () => {
        const jar = new Jar();
        const res = await fromAddress(nextAddress(), `${base}/api/auth/password`, {
          method: 'POST',
          headers: form(),
          body: new URLSearchParams({ username: pick(passwordUsers), password: PASSWORD }).toString(),
        });
        jar.store(res);
        await expect('password-sign-in', res, 303);
        keepSession(jar);
      },
      'session-check': async () => {
        const jar = sessions.length ? pick(sessions) : undefined;
        if (!jar) return;
        const res = await fromAddress(nextAddress(), `${base}/api/auth/session`, {
          headers: { cookie: jar.header },
        });
        jar.store(res);
        await expect('session-check', res, 200);
      },
      'admin-read': async () => {
        const path =
          Math.random() < 0.5 ? '/api/manage/users?limit=20' : `/api/manage/users/${pick(adminTargets)}`;
        const res = await fromAddress(ADMIN_ADDRESS, `${base}${path}`, {
          headers: { authorization: `Bearer ${token}` },
        });
        await expect('admin-read', res, 200);
      },
      'admin-write': async () => {
        const res = await fromAddress(ADMIN_ADDRESS, `${base}/api/manage/users/${pick(adminTargets)}`, {
          method: 'PATCH',
          headers: {
            authorization: `Bearer ${token}`,
            'content-type': 'application/json',
          },
          body: JSON.stringify({ displayName: `Soak ${Math.floor(Math.random() * 1e6)}` }),
        });
        await expect('admin-write', res, 200);
      },
    };
    const total = MIX.reduce((s, [, w]) => s + w, 0);
    const chooseOp = (): OpName => {
      let r = Math.random() * total;
      for (const [name, w] of MIX) {
        r -= w;
        if (r < 0) return name;
      }
      return 'session-check';
    };

    // ---- measurement
    interface Minute {
      ops: number;
      latencies: number[];
      errors: Map<string, number>;
    }
    const newMinute = (): Minute => ({ ops: 0, latencies: [], errors: new Map() });
    let minute = newMinute();
    const allErrors = new Map<string, number>();
    let inFlight = 0;
    let skipped = 0;
    const run = async () => {
      const op = chooseOp();
      inFlight++;
      const t = performance.now();
      try {
        await ops[op]();
        minute.latencies.push(performance.now() - t);
      } catch (err) {
        const key =
          err instanceof OpError
            ? `${err.op} ${err.status}`
            : `${op} ${err instanceof Error ? err.name : 'error'}`;
        minute.errors.set(key, (minute.errors.get(key) ?? 0) + 1);
        allErrors.set(key, (allErrors.get(key) ?? 0) + 1);
      } finally {
        minute.ops++;
        inFlight--;
      }
    };
    const heapMb = () => {
      for (let i = 0; i < 3; i++) gc?.();
      return process.memoryUsage().heapUsed / 1024 / 1024;
    };

    // Warm up (session signing key, JWKS, MSAL client) before anything is measured.
    for (let i = 0; i < 3; i++) await ops['entra-sign-in']();
    await ops['password-sign-in']();

    if (capacitySeconds) {
      const until = performance.now() + capacitySeconds * 1000;
      let done = 0;
      const worker = async () => {
        while (performance.now() < until) {
          await run();
          done++;
        }
      };
      await Promise.all(Array.from({ length: 16 }, worker));
      const lat = minute.latencies;
      console.log(
        `Capacity (closed loop, 16 workers, ${capacitySeconds} s, mixed operations): ${(done / capacitySeconds).toFixed(1)} ops/s; ` +
          `p50 ${pct(lat, 50).toFixed(0)} ms, p95 ${pct(lat, 95).toFixed(0)} ms; errors: ${
            allErrors.size ? JSON.stringify(Object.fromEntries(allErrors)) : 'none'
          }`,
      );
      if (allErrors.size) process.exitCode = 1;
      return;
    }

    console.log(
      `Soak: ${minutes} min at ${rate} ops/s (mix ${MIX.map(([n, w]) => `${n} ${w}%`).join(', ')}), broker ${base}`,
    );
    console.log(`heap at start (after GC): ${heapMb().toFixed(1)} MB`);
    console.log('minute  ops  errors                         p50 ms  p95 ms  heap MB  in flight');
    const endAt = performance.now() + minutes * 60_000;
    const interval = 1000 / rate;
    let nextAt = performance.now();
    let minuteEnds = performance.now() + 60_000;
    let index = 0;
    const report = () => {
      index++;
      const m = minute;
      minute = newMinute();
      const errors = m.errors.size ? JSON.stringify(Object.fromEntries(m.errors)) : '0';
      console.log(
        `${String(index).padStart(6)}  ${String(m.ops).padStart(4)}  ${errors.padEnd(30)} ${pct(
          m.latencies,
          50,
        )
          .toFixed(0)
          .padStart(
            6,
          )}  ${pct(m.latencies, 95).toFixed(0).padStart(6)}  ${heapMb().toFixed(1).padStart(7)}  ${String(inFlight).padStart(9)}`,
      );
    };
    const pending = new Set<Promise<void>>();
    while (performance.now() < endAt) {
      const now = performance.now();
      if (now >= minuteEnds) {
        report();
        minuteEnds += 60_000;
      }
      if (now >= nextAt) {
        nextAt += interval;
        if (inFlight >= MAX_IN_FLIGHT) skipped++;
        else {
          const p = run();
          pending.add(p);
          void p.finally(() => pending.delete(p));
        }
        continue;
      }
      await new Promise((r) => setTimeout(r, Math.max(1, Math.min(nextAt, minuteEnds) - now)));
    }
    await Promise.all(pending);
    if (minute.ops) report();
    const errorTotal = [...allErrors.values()].reduce((s, n) => s + n, 0);
    console.log(
      `\nErrors: ${errorTotal}${errorTotal ? ` ${JSON.stringify(Object.fromEntries(allErrors))}` : ''}; operations not started because ${MAX_IN_FLIGHT} were in flight: ${skipped}`,
    );
    if (errorTotal || skipped) process.exitCode = 1;
  } finally {
    await Promise.allSettled(closers.map((c) => c()));
  }
}
