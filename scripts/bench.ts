/**
 * `npm run bench`: sign-in benchmark against a local stack it starts itself on free ports (Azurite in
 * memory, the Key Vault stand-in, the Entra ID stand-in in a child process so its memory is not
 * counted, the app on the local host). Prints sign-in start and callback latency (p50/p95) and
 * throughput, Table Storage operations and Key Vault calls per warm sign-in, password sign-ins per
 * second, and heap growth over 2,000 sign-ins by distinct users. A script, not a test: bounded loops,
 * everything on 127.0.0.1, stops by itself.
 *
 * Rate limits: every request comes from 127.0.0.1, so the per-address limits on sign-in start (30 per
 * 10 min) and callback (60) would stop the bench at once. The sign-in service is built with a
 * Throttle whose rate limits are raised; it still reads and writes its counter rows, so the Table
 * Storage counts are those of production.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { systemClock } from '../shared/clock.ts';
import { loadConfig } from '../shared/config.ts';
import { setLogSink } from '../shared/log.ts';
import { setServices } from '../shared/runtime.ts';
import { createAzureCredential } from '../shared/secrets/client.ts';
import { createServices } from '../shared/services.ts';
import { type RatePolicy, Throttle, type ThrottleState } from '../shared/signin/throttle.ts';
import { createTables, ensureTables } from '../shared/storage/tables.ts';
import { loadApp, startLocalHost } from './host/local-host.ts';
import { freePort, startAzuriteTables } from './standins/azurite.ts';
import { ensureLocalCa } from './standins/ca.ts';
import { DEMO_ENTRA, demoTenant, startEntraStandIn } from './standins/entra.ts';
import { startKeyVaultStandIn } from './standins/keyvault.ts';

const CHILD_FLAG = '--entra-stand-in-child';
const HEAP_SIGN_INS = 2000;
const START_SAMPLES = 300;
const START_THROUGHPUT = 400;
const CALLBACK_USERS = 60;
const WARM_SAMPLES = 20;
const PASSWORD_SIGN_INS = 120;
const PASSWORD_USERS = 16;
const CONCURRENCY = 8;
const PASSWORD = 'Bench-Password-Correct-42!';

// ---------------------------------------------------------------- process set-up

const ca = ensureLocalCa();
const gc = (globalThis as { gc?: () => void }).gc;

if (process.argv.includes(CHILD_FLAG)) {
  runStandInChild().catch((err) => {
    console.error(`entra stand-in child failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
} else if (process.env.NODE_EXTRA_CA_CERTS !== ca.bundlePath || !gc) {
  // Node reads NODE_EXTRA_CA_CERTS only at start-up, and global.gc needs --expose-gc: run again.
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
      console.error(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      process.exit(1);
    },
  );
}

/** The Entra stand-in in its own process; answers `requests` over IPC with its request count. */
async function runStandInChild() {
  const standIn = await startEntraStandIn({ tenants: [demoTenant()] });
  process.on('message', (m: { type?: string }) => {
    if (m?.type === 'count') {
      const byPath: Record<string, number> = {};
      for (const r of standIn.requests) {
        const kind = r.path.endsWith('/token') ? 'token' : r.path.includes('/keys') ? 'jwks' : 'other';
        byPath[kind] = (byPath[kind] ?? 0) + 1;
      }
      process.send?.({ type: 'count', total: standIn.requests.length, byPath });
    }
  });
  process.on('disconnect', () => {
    standIn.close().finally(() => process.exit(0));
  });
  process.send?.({ type: 'ready', host: standIn.host });
}

interface StandInHandle {
  host: string;
  counts(): Promise<{ total: number; byPath: Record<string, number> }>;
  close(): Promise<void>;
}

async function startStandInChild(): Promise<StandInHandle> {
  const child: ChildProcess = spawn(
    process.execPath,
    [...process.execArgv, process.argv[1] ?? '', CHILD_FLAG],
    {
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      env: process.env,
    },
  );
  const host = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('Entra stand-in did not start within 20 s')), 20_000);
    child.once('exit', (code) => reject(new Error(`Entra stand-in exited with ${code}`)));
    child.on('message', (m: { type?: string; host?: string }) => {
      if (m?.type === 'ready' && m.host) {
        clearTimeout(timer);
        resolve(m.host);
      }
    });
  });
  return {
    host,
    counts: () =>
      new Promise((resolve) => {
        const on = (m: { type?: string; total?: number; byPath?: Record<string, number> }) => {
          if (m?.type !== 'count') return;
          child.off('message', on);
          resolve({ total: m.total ?? 0, byPath: m.byPath ?? {} });
        };
        child.on('message', on);
        child.send({ type: 'count' });
      }),
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.removeAllListeners('exit');
        child.once('exit', () => resolve());
        child.disconnect();
        setTimeout(() => child.kill('SIGKILL'), 3000).unref();
      }),
  };
}

// ---------------------------------------------------------------- helpers

/** Rate limits raised for the bench only (see the header comment). */
class BenchThrottle extends Throttle {
  override hit(kind: string, value: string, policy: RatePolicy): Promise<ThrottleState> {
    return super.hit(kind, value, { ...policy, limit: Number.MAX_SAFE_INTEGER });
  }
}

class Jar {
  private readonly cookies = new Map<string, string>();
  store(res: Response) {
    for (const line of res.headers.getSetCookie()) {
      const pair = line.split(';')[0] ?? '';
      const i = pair.indexOf('=');
      const value = pair.slice(i + 1).trim();
      if (value === '' || /max-age=0/i.test(line)) this.cookies.delete(pair.slice(0, i).trim());
      else this.cookies.set(pair.slice(0, i).trim(), value);
    }
  }
  get header() {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

const ms = (t0: number) => performance.now() - t0;

function pct(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

/** Runs `count` jobs with at most `limit` at once. */
async function pool(count: number, limit: number, job: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      await job(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
}

interface Pending {
  callbackUrl: string;
  jar: Jar;
}

// ---------------------------------------------------------------- main

async function main() {
  setLogSink(() => {}); // audit lines would drown the table
  const t0 = performance.now();
  const [azurite, keyVault, entra, port] = await Promise.all([
    startAzuriteTables(),
    startKeyVaultStandIn(),
    startStandInChild(),
    freePort(),
  ]);
  const closers: (() => Promise<void>)[] = [azurite.close, keyVault.close, entra.close];
  try {
    const base = `http://localhost:${port}`;
    const config = loadConfig({
      BROKER_PUBLIC_BASE_URL: base,
      BROKER_TABLE_ENDPOINT: azurite.endpoint,
      BROKER_KEY_VAULT_URI: keyVault.url,
      BROKER_DEV_CREDENTIALS: 'true',
      BROKER_ENTRA_PUBLIC_AUTHORITY_HOST: entra.host,
    });
    const tables = createTables(config, createAzureCredential(config));
    const services = createServices(config, {
      tables,
      throttle: new BenchThrottle(tables.throttle, systemClock),
    });
    await ensureTables(services.tables);
    let tableOps = 0;
    for (const table of Object.values(services.tables)) {
      table.pipeline.addPolicy({
        name: 'bench-count',
        sendRequest: (req, next) => {
          tableOps++;
          return next(req);
        },
      });
    }
    setServices(services);
    const host = await startLocalHost({ routes: await loadApp(), port });
    closers.unshift(host.close);
    console.log(
      `Local stack up in ${(ms(t0) / 1000).toFixed(1)} s (broker ${base}, Entra stand-in ${entra.host}).`,
    );

    // ---- seed
    const actor = { actor: 'bench' };
    const created = await services.integrations.create(
      {
        kind: 'azure-ad',
        title: 'Bench Entra',
        applicationId: DEMO_ENTRA.clientId,
        tenant: DEMO_ENTRA.tenantId,
        clientSecret: DEMO_ENTRA.clientSecret,
        cloud: 'public',
        matchClaim: 'preferred_username',
      },
      'bench',
    );
    await services.integrations.activate(created.id, undefined, 'bench');
    const integrationUser = (name: string) =>
      services.users.create(
        { username: name, email: `${name}@${DEMO_ENTRA.domain}`, verifyType: { integrationId: created.id } },
        actor,
      );
    const t1 = performance.now();
    await integrationUser('starter');
    // Several password users: one account's concurrent attempts are capped by its throttle (each attempt
    // is reserved before the check), so the throughput test spreads over accounts like real traffic.
    for (let i = 0; i < PASSWORD_USERS; i++) {
      await services.users.create({ username: `pw${i}`, verifyType: 'password', password: PASSWORD }, actor);
    }
    const cbUsers = Array.from({ length: CALLBACK_USERS }, (_, i) => `cb${String(i).padStart(4, '0')}`);
    const heapUsers = Array.from({ length: HEAP_SIGN_INS }, (_, i) => `h${String(i).padStart(5, '0')}`);
    await pool(cbUsers.length + heapUsers.length, 32, async (i) => {
      await integrationUser(cbUsers[i] ?? (heapUsers[i - cbUsers.length] as string));
    });
    console.log(
      `Seeded 1 active integration and ${2 + cbUsers.length + heapUsers.length} users in ${(ms(t1) / 1000).toFixed(1)} s.`,
    );

    // ---- flows
    const start = async (username: string, jar = new Jar(), tolerate429 = false) => {
      const t = performance.now();
      const res = await fetch(`${base}/api/auth/login`, {
        method: 'POST',
        redirect: 'manual',
        headers: {
          origin: base,
          'content-type': 'application/x-www-form-urlencoded',
          ...(jar.header ? { cookie: jar.header } : {}),
        },
        body: new URLSearchParams({ username }),
      });
      const elapsed = ms(t);
      await res.arrayBuffer();
      if (res.status !== 302 && !(tolerate429 && res.status === 429)) {
        throw new Error(`sign-in start for ${username} answered ${res.status}`);
      }
      jar.store(res);
      return { location: res.headers.get('location') as string, elapsed, jar, status: res.status };
    };
    /** The stand-in's login form, driven with fetch; returns the broker callback URL. */
    const standInLogin = async (authorizeUrl: string, account: string): Promise<string> => {
      const idp = new Jar();
      let url = authorizeUrl;
      for (let hop = 0; hop < 10; hop++) {
        const res = await fetch(url, { redirect: 'manual', headers: { cookie: idp.header } });
        idp.store(res);
        if (res.status === 200) {
          const action = /<form method="post" action="([^"]+)"/.exec(await res.text())?.[1];
          if (!action) throw new Error('no login form at the stand-in');
          const post = await fetch(new URL(action.replace(/&amp;/g, '&'), url), {
            method: 'POST',
            redirect: 'manual',
            headers: { cookie: idp.header, 'content-type': 'application/x-www-form-urlencoded' },
            body: new URLSearchParams({ login: account, password: 'any password' }),
          });
          await post.arrayBuffer();
          idp.store(post);
          url = new URL(post.headers.get('location') ?? '', url).href;
          continue;
        }
        await res.arrayBuffer();
        const location = res.headers.get('location');
        if (!location) throw new Error(`stand-in answered ${res.status} without a redirect`);
        url = new URL(location, url).href;
        if (url.startsWith(`${base}/api/auth/callback`)) return url;
      }
      throw new Error('too many redirects at the stand-in');
    };
    // Contention on the one rate-limit row of 127.0.0.1 can answer 429 (see the table): retried, counted.
    let retried = 0;
    const pause = () => new Promise((r) => setTimeout(r, 20 + Math.random() * 80));
    const prepare = async (username: string): Promise<Pending> => {
      let s = await start(username, new Jar(), true);
      for (let i = 0; s.status === 429 && i < 10; i++) {
        retried++;
        await pause();
        s = await start(username, new Jar(), true);
      }
      if (s.status !== 302) throw new Error(`sign-in start for ${username} answered ${s.status}`);
      return { callbackUrl: await standInLogin(s.location, username), jar: s.jar };
    };
    const callback = async (p: Pending, attempt = 0): Promise<number> => {
      const t = performance.now();
      const res = await fetch(p.callbackUrl, { redirect: 'manual', headers: { cookie: p.jar.header } });
      const elapsed = ms(t);
      const body = await res.text();
      if (res.status === 429 && attempt < 10) {
        retried++;
        await pause();
        return callback(p, attempt + 1);
      }
      if (res.status !== 302) {
        const reason = /<div class="alert" role="alert"><p>([^<]*)/.exec(body)?.[1] ?? '';
        throw new Error(`callback answered ${res.status} ${reason}`);
      }
      return elapsed;
    };

    // ---- warm-up: session signing key, JWKS, MSAL client, integration secret
    await callback(await prepare('starter'));
    await callback(await prepare('starter'));

    // ---- sign-in start latency and throughput
    const startLat: number[] = [];
    for (let i = 0; i < START_SAMPLES; i++) startLat.push((await start('starter')).elapsed);
    // One client address means one hot rate-limit counter row: concurrent starts contend on it.
    const throughput = async (concurrency: number) => {
      let refused = 0;
      const t = performance.now();
      await pool(START_THROUGHPUT, concurrency, async () => {
        if ((await start('starter', new Jar(), true)).status === 429) refused++;
      });
      return { rate: START_THROUGHPUT / (ms(t) / 1000), refused };
    };
    const tp4 = await throughput(4);
    const tp16 = await throughput(16);

    // ---- callback latency: first sign-in (binds) and returning (matched by binding)
    const timeCallbacks = async (): Promise<number[]> => {
      const pending: Pending[] = [];
      await pool(cbUsers.length, CONCURRENCY, async (i) => {
        pending[i] = await prepare(cbUsers[i] as string);
      });
      const out: number[] = [];
      for (const p of pending) out.push(await callback(p));
      return out;
    };
    const firstCb = await timeCallbacks();
    const againCb = await timeCallbacks();

    // ---- per warm sign-in: Table Storage operations, Key Vault and Entra calls
    let startOps = 0;
    let callbackOps = 0;
    const kv0 = keyVault.requests.length;
    const entra0 = await entra.counts();
    let entraDuringLogin = 0;
    for (let i = 0; i < WARM_SAMPLES; i++) {
      const before = tableOps;
      const s = await start('starter');
      startOps += tableOps - before;
      const idp0 = (await entra.counts()).total;
      const url = await standInLogin(s.location, 'starter');
      entraDuringLogin += (await entra.counts()).total - idp0;
      const mid = tableOps;
      await callback({ callbackUrl: url, jar: s.jar });
      callbackOps += tableOps - mid;
    }
    const kvCalls = keyVault.requests.length - kv0;
    const entra1 = await entra.counts();
    const entraBrokerCalls = entra1.total - entra0.total - entraDuringLogin;

    // ---- password sign-ins per second
    const pwLat: number[] = [];
    const pw0 = performance.now();
    let pwNext = 0;
    await pool(PASSWORD_SIGN_INS, CONCURRENCY, async () => {
      const username = `pw${pwNext++ % PASSWORD_USERS}`;
      const t = performance.now();
      const res = await fetch(`${base}/api/auth/password`, {
        method: 'POST',
        redirect: 'manual',
        headers: { origin: base, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ username, password: PASSWORD }),
      });
      await res.arrayBuffer();
      if (res.status !== 303) throw new Error(`password sign-in answered ${res.status}`);
      pwLat.push(ms(t));
    });
    const pwRate = PASSWORD_SIGN_INS / (ms(pw0) / 1000);

    console.log(`Latency, throughput and password phases done at ${(ms(t0) / 1000).toFixed(0)} s.`);
    // ---- heap growth over 2,000 sign-ins by distinct users (16 at once)
    const collect = () => {
      for (let i = 0; i < 3; i++) gc?.();
    };
    collect();
    const heapBefore = process.memoryUsage().heapUsed;
    const h0 = performance.now();
    let done = 0;
    await pool(heapUsers.length, 16, async (i) => {
      await callback(await prepare(heapUsers[i] as string));
      done++;
      if (done % 500 === 0) console.log(`  … ${done} sign-ins (${(ms(h0) / 1000).toFixed(0)} s)`);
    });
    const heapSeconds = ms(h0) / 1000;
    collect();
    const heapAfter = process.memoryUsage().heapUsed;
    const cachedAccounts = await services.entraClients.cachedAccounts();

    // ---- report
    const f = (n: number) => n.toFixed(1);
    const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;
    const rows: [string, string][] = [
      [
        `Sign-in start (POST /api/auth/login → 302), ${START_SAMPLES} sequential`,
        `p50 ${f(pct(startLat, 50))} ms, p95 ${f(pct(startLat, 95))} ms`,
      ],
      [
        `Sign-in start throughput (${START_THROUGHPUT} requests, 4 at once)`,
        `${f(tp4.rate)} /s (${tp4.refused} refused with 429)`,
      ],
      [
        `Sign-in start throughput (${START_THROUGHPUT} requests, 16 at once)`,
        `${f(tp16.rate)} /s (${tp16.refused} refused with 429)`,
      ],
      [
        `Callback, first sign-in (binds), ${CALLBACK_USERS} users`,
        `p50 ${f(pct(firstCb, 50))} ms, p95 ${f(pct(firstCb, 95))} ms`,
      ],
      [
        `Callback, returning user (bound), ${CALLBACK_USERS} users`,
        `p50 ${f(pct(againCb, 50))} ms, p95 ${f(pct(againCb, 95))} ms`,
      ],
      [
        `Table Storage operations per warm sign-in (start + callback)`,
        `${f((startOps + callbackOps) / WARM_SAMPLES)} (start ${f(startOps / WARM_SAMPLES)}, callback ${f(callbackOps / WARM_SAMPLES)})`,
      ],
      [`Key Vault calls per warm sign-in`, `${f(kvCalls / WARM_SAMPLES)}`],
      [
        `Entra calls by the broker per warm sign-in`,
        `${f(entraBrokerCalls / WARM_SAMPLES)} (token endpoint)`,
      ],
      [
        `Password sign-ins (POST /api/auth/password → 303), ${CONCURRENCY} at once`,
        `${f(pwRate)} /s (p50 ${f(pct(pwLat, 50))} ms, p95 ${f(pct(pwLat, 95))} ms)`,
      ],
      [
        `Heap over ${HEAP_SIGN_INS} sign-ins by distinct users, 16 at once (after GC)`,
        `${mb(heapBefore)} → ${mb(heapAfter)} (${heapAfter >= heapBefore ? '+' : ''}${mb(heapAfter - heapBefore)}), ${f(HEAP_SIGN_INS / heapSeconds)} full sign-ins/s`,
      ],
      [
        `MSAL accounts cached after them`,
        `${cachedAccounts} (clients cached: ${services.entraClients.size})`,
      ],
      [`Requests retried after a contention 429 (heap phase)`, `${retried}`],
    ];
    const width = Math.max(...rows.map(([k]) => k.length));
    console.log(
      `\nSign-in benchmark — local stack, Node ${process.version}, everything on 127.0.0.1 (one process for app + client; Entra stand-in in its own)`,
    );
    console.log(`${'Measure'.padEnd(width)}  Result`);
    console.log(`${'-'.repeat(width)}  ${'-'.repeat(40)}`);
    for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
    console.log(
      `\nNote: the per-address rate limits on sign-in start and callback were raised for the bench (all requests come from 127.0.0.1); their counter rows are still read and written. Total ${(ms(t0) / 1000).toFixed(0)} s.`,
    );
    if (cachedAccounts !== 0) {
      console.error(`MSAL token cache grew: ${cachedAccounts} accounts held`);
      process.exitCode = 1;
    }
  } finally {
    await Promise.allSettled(closers.map((c) => c()));
  }
}
