/**
 * `npm run bench [-- --storage-rtt MS] [--idp-rtt MS] [--json FILE] [--only PHASES]`: the broker side by side with Auth.js on the same
 * Entra stand-in, on a local stack the bench starts itself on free ports (loopback only, stops by
 * itself, a few minutes):
 *   - Azurite (in memory) behind a counting TCP proxy (scripts/standins/table-proxy.ts) that can add
 *     `--storage-rtt MS` to every Table request; the Key Vault stand-in; the Entra stand-in in its own
 *     process (`--idp-rtt MS` delays its back channel: discovery, keys and token requests, the calls a
 *     server makes to Entra, which Auth.js makes more of; the browser's pages are not delayed);
 *   - the broker (the real app on the local host) and the Auth.js app (scripts/bench/authjs-app.ts:
 *     `@auth/core` + its Microsoft Entra ID provider, PKCE + state + nonce, JWT sessions), each in its
 *     own process so its CPU (process.cpuUsage) and heap are its own.
 * Prints, for a returning Entra user: start, callback and full sign-in (page + start + IdP + callback)
 * p50/p95 from interleaved samples (broker, Auth.js, broker, …), full sign-ins/s at concurrency 1/4/16,
 * server CPU per sign-in and the ratio broker/Auth.js; Table requests and sequential round trips per
 * leg (at the proxy), Key Vault and IdP calls per sign-in; password sign-ins/s; heap over many sign-ins
 * by distinct users; bundle size, `require` time and cold start. `--json FILE` writes the same figures.
 * Two more phases: `op`, an application sign-in with a session at the broker's OP beside a plain
 * `oidc-provider` (scripts/bench/plain-op-app.ts, its own process) and the ratio (that broker runs in
 * a process of its own whose tables go straight to Azurite, `--storage-rtt` added in its own Table
 * pipeline: no proxy hop, as in production); `logout`, the
 * sign-out's latency with back-channel logout to 1 vs 20 slow apps (scripts/bench/logout.ts).
 * `--only op,logout` runs just those (`signin` names all the others).
 * `--timeline` (with the op phase) prints three app sign-ins' HTTP exchanges beside their Table requests, timed.
 *
 * Rate limits: every request comes from 127.0.0.1, so the broker's per-address limits are raised for
 * the bench (scripts/bench/broker-app.ts); its counter rows are still read and written.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { loadConfig } from '../../shared/core/config.ts';
import { setLogSink } from '../../shared/core/log.ts';
import { createAzureCredential } from '../../shared/secrets/client.ts';
import { createTables, ensureTables } from '../../shared/storage/tables.ts';
import { createServices } from '../../shared/web/services.ts';
import { registerDemoFederatedCredential } from '../demo.ts';
import { freePort, startAzuriteTables } from '../standins/azurite.ts';
import { ensureLocalCa } from '../standins/ca.ts';
import { DEMO_ENTRA } from '../standins/entra.ts';
import { startKeyVaultStandIn } from '../standins/keyvault.ts';
import { type LegStats, startTableProxy } from '../standins/table-proxy.ts';
import { startAuthJsApp } from './authjs-app.ts';
import { startBrokerApp } from './broker-app.ts';
import { measureBundles } from './bundle.ts';
import { APP_CHILD_FLAG, type AppHandle, runAppChild, spawnApp } from './child.ts';
import { ENTRA_CHILD_FLAG, runEntraStandInChild, startEntraStandInChild } from './entra-child.ts';
import {
  appSignIn,
  authJsSignIn,
  type BenchClient,
  brokerSignIn,
  Jar,
  type LegHook,
  ms,
  passwordSession,
  pct,
  pool,
  retries,
  type SignInTiming,
} from './flows.ts';
import {
  createLogoutApps,
  type LogoutResult,
  measureLogout,
  printLogout,
  startSlowReceiver,
} from './logout.ts';
import { measureOpCompare, type OpCompare, printOpCompare, procCpuMicros } from './op-compare.ts';
import { startPlainOpApp } from './plain-op-app.ts';
import { createBenchIntegration } from './seed.ts';

// `--quick`: a smoke run of every phase with a tenth of the samples (not for figures).
const SCALE = process.argv.includes('--quick') ? 0.1 : 1;
const n = (count: number) => Math.max(2, Math.round(count * SCALE));
const WARM_UP = 3;
const LATENCY_SAMPLES = n(40); // per app, interleaved
const THROUGHPUT = [
  { concurrency: 1, count: n(16) },
  { concurrency: 4, count: n(32) },
  { concurrency: 16, count: n(48) },
];
const THROUGHPUT_USERS = 16;
const LEG_SAMPLES = n(10);
const FIRST_SIGN_INS = 5;
const PASSWORD_SIGN_INS = n(64);
const PASSWORD_USERS = 16;
const PASSWORD_CONCURRENCY = 8;
const HEAP_SIGN_INS = n(300);
const PASSWORD = 'Bench-Password-Correct-42!';
const APP_SAMPLES = n(20);
/** The bench application's redirect URI: read from Location headers, never fetched. */
const APP_REDIRECT_URI = 'http://127.0.0.1:9/bench-app/callback';
const OP_SAMPLES = n(40); // per OP, interleaved
const LOGOUT_SAMPLES = n(20); // per app count, interleaved
const LOGOUT_APPS = 20;
/** How long each application's back-channel logout endpoint takes to answer. */
const LOGOUT_RECEIVER_DELAY_MS = 2000;
const PHASES = ['signin', 'op', 'logout'] as const;

/** CPU time (user + system, ms) a process has used so far, from /proc (NaN where there is none). */
function processCpuMs(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of stat(5), in clock ticks (100 per second on Linux).
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return Number.NaN;
  }
}

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

// ---------------------------------------------------------------- process set-up

const ca = ensureLocalCa();

if (process.argv.includes(ENTRA_CHILD_FLAG)) {
  runEntraStandInChild({ backChannelDelayMs: Number(process.env.BENCH_IDP_RTT ?? 0) }).catch(
    fail('entra stand-in child'),
  );
} else if (process.argv.includes(APP_CHILD_FLAG)) {
  const kind = process.argv[process.argv.indexOf(APP_CHILD_FLAG) + 1];
  const options = JSON.parse(process.env.BENCH_APP_OPTIONS ?? '{}');
  runAppChild(() =>
    kind === 'broker'
      ? startBrokerApp(options)
      : kind === 'plain-op'
        ? startPlainOpApp(options)
        : startAuthJsApp(options),
  ).catch(fail(`${kind} app`));
} else if (process.env.NODE_EXTRA_CA_CERTS !== ca.bundlePath) {
  // Node reads NODE_EXTRA_CA_CERTS only at start-up (the stand-ins' TLS, for both apps): run again.
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, NODE_EXTRA_CA_CERTS: ca.bundlePath },
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
  child.on('exit', (code) => process.exit(code ?? 1));
} else {
  main().then(() => process.exit(process.exitCode ?? 0), fail('bench'));
}

function fail(what: string) {
  return (err: unknown) => {
    console.error(`${what} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  };
}

// ---------------------------------------------------------------- main

/** Azurite, tried up to three times (its start can exceed the 15 s wait on a busy shared machine). */
async function startAzurite() {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startAzuriteTables({ port: await freePort() });
    } catch (err) {
      if (attempt >= 3) throw err;
      console.error(`Azurite did not start (attempt ${attempt}), trying again.`);
    }
  }
}

type Kind = 'broker' | 'authjs';
const KINDS: Kind[] = ['broker', 'authjs'];

async function main() {
  setLogSink(() => {});
  const storageRtt = Number(flag('--storage-rtt') ?? 0);
  const idpRtt = Number(flag('--idp-rtt') ?? 0);
  const jsonFile = flag('--json');
  const only = flag('--only')?.split(',');
  for (const phase of only ?? []) {
    if (!(PHASES as readonly string[]).includes(phase))
      throw new Error(`--only: unknown phase ${phase} (phases: ${PHASES.join(', ')})`);
  }
  const runs = (phase: (typeof PHASES)[number]) => !only || only.includes(phase);
  const t0 = performance.now();
  // One after another: on a loaded machine, starting them together can miss Azurite's 15 s start window.
  const azurite = await startAzurite();
  const keyVault = await startKeyVaultStandIn();
  const entra = await startEntraStandInChild({ env: { BENCH_IDP_RTT: String(idpRtt) } });
  const brokerPort = await freePort();
  const closers: (() => Promise<void>)[] = [azurite.close, keyVault.close, entra.close];
  try {
    const proxy = await startTableProxy({ target: azurite.endpoint });
    closers.unshift(proxy.close);
    const brokerBase = `http://localhost:${brokerPort}`;
    const brokerEnv = (tableEndpoint: string, base = brokerBase) => ({
      BROKER_PUBLIC_BASE_URL: base,
      BROKER_TABLE_ENDPOINT: tableEndpoint,
      BROKER_KEY_VAULT_URI: keyVault.url,
      BROKER_DEV_CREDENTIALS: 'true',
      BROKER_ENTRA_PUBLIC_AUTHORITY_HOST: entra.host,
    });

    // ---- seed, straight to Azurite (not through the proxy)
    const config = loadConfig(brokerEnv(azurite.endpoint));
    const seed = createServices(config, { tables: createTables(config, createAzureCredential(config)) });
    await ensureTables(seed.tables);
    const actor = { actor: 'bench' };
    const created = await createBenchIntegration(seed);
    const tpUsers = Array.from({ length: THROUGHPUT_USERS }, (_, i) => `tp${i}`);
    const firstUsers = Array.from({ length: FIRST_SIGN_INS }, (_, i) => `first${i}`);
    const heapUsers = Array.from({ length: HEAP_SIGN_INS }, (_, i) => `h${String(i).padStart(5, '0')}`);
    // The sign-in phases' users (the op and logout phases use the password users only).
    const entraUsers = runs('signin') ? ['starter', ...tpUsers, ...firstUsers, ...heapUsers] : [];
    await pool(entraUsers.length, 32, async (i) => {
      const name = entraUsers[i] as string;
      await seed.users.create(
        { username: name, email: `${name}@${DEMO_ENTRA.domain}`, verifyType: { integrationId: created.id } },
        actor,
      );
    });
    for (let i = 0; i < PASSWORD_USERS; i++) {
      await seed.users.create({ username: `pw${i}`, verifyType: 'password', password: PASSWORD }, actor);
    }
    // An application of the broker's OpenID Provider (its redirect URI is never fetched).
    const benchApp = await seed.applications.create(
      {
        name: 'Bench app',
        type: 'confidential',
        redirectUris: [APP_REDIRECT_URI],
        idTokenSignedResponseAlg: 'RS256',
      },
      'bench',
      { correlationId: 'bench' },
    );
    const benchClient: BenchClient = {
      clientId: benchApp.clientId,
      clientSecret: benchApp.clientSecretValue ?? '',
      redirectUri: APP_REDIRECT_URI,
    };
    // Applications with a back-channel logout endpoint that answers slowly (the logout phase).
    const receiver = await startSlowReceiver(LOGOUT_RECEIVER_DELAY_MS);
    closers.unshift(receiver.close);
    const logoutClients = runs('logout')
      ? await createLogoutApps(seed, receiver.url, APP_REDIRECT_URI, LOGOUT_APPS)
      : [];

    // ---- the two apps, each in its own process; the broker's tables through the proxy
    const apps: Record<Kind, AppHandle> = {
      broker: await spawnApp('broker', { port: brokerPort, env: brokerEnv(proxy.endpoint) }),
      authjs: await spawnApp('authjs', {
        entraHost: entra.host,
        tenantId: DEMO_ENTRA.tenantId,
        clientId: DEMO_ENTRA.clientId,
        clientSecret: DEMO_ENTRA.clientSecret,
      }),
    };
    closers.unshift(apps.broker.close, apps.authjs.close);
    // The library's floor: a plain oidc-provider with the same client, in its own process.
    const plainOp = runs('op') ? await spawnApp('plain-op', benchClient) : undefined;
    if (plainOp) closers.unshift(plainOp.close);
    // The op phase's broker: its tables straight to Azurite, the storage RTT added by a timer in its own
    // pipeline. Production has no proxy between the broker and Table Storage; through the counting
    // proxy (a userland hop in this process, on the same two cores) each sign-in pays ~18 extra hops.
    // The Table requests it makes are the same (pinned in test/integration/roundtrips.test.ts).
    const opBrokerPort = plainOp ? await freePort() : 0;
    const opBrokerBase = `http://localhost:${opBrokerPort}`;
    const opBroker = plainOp
      ? await spawnApp('broker', {
          port: opBrokerPort,
          env: brokerEnv(azurite.endpoint, opBrokerBase),
          storageRttInProcess: true,
        })
      : undefined;
    if (opBroker) closers.unshift(opBroker.close);
    const signIn = (kind: Kind, user: string, hook?: LegHook) =>
      kind === 'broker' ? brokerSignIn(apps.broker.url, user, hook) : authJsSignIn(apps.authjs.url, user);
    console.log(
      `Stack up and ${entraUsers.length + PASSWORD_USERS} users seeded in ${(ms(t0) / 1000).toFixed(1)} s ` +
        `(broker ${apps.broker.url}, Auth.js ${apps.authjs.url}, Entra stand-in ${entra.host}; storage RTT +${storageRtt} ms, IdP back-channel RTT +${idpRtt} ms).`,
    );

    // ---- application sign-in with a session: the broker's OP beside a plain oidc-provider
    let opCompare: OpCompare | undefined;
    if (plainOp && opBroker) {
      opCompare = await measureOpCompare(
        {
          url: opBroker.url,
          jar: await passwordSession(opBroker.url, opBrokerBase, 'pw0', PASSWORD),
          client: benchClient,
        },
        { url: plainOp.url, jar: new Jar(), client: benchClient },
        OP_SAMPLES,
        () => opBroker.storageRtt(storageRtt),
        {
          broker: () => opBroker.cpu(),
          plain: () => plainOp.cpu(),
          storage: () => procCpuMicros(azurite.pid),
        },
        (what) => Promise.all([opBroker.profile(what), plainOp.profile(what)]).then(() => {}),
        () => opBroker.tableInFlightMs(),
      );
      await opBroker.close();
      if (process.argv.includes('--timeline')) {
        // Through the counting proxy (the main broker), which adds the RTT there.
        proxy.rttMs = storageRtt;
        // Where one sign-in's time goes: its HTTP exchanges beside the Table requests they made.
        const jar = await passwordSession(apps.broker.url, brokerBase, 'pw0', PASSWORD);
        // This broker's caches (the application, keys) warmed first, as the measured one's were.
        for (let i = 0; i < 5; i++) await appSignIn(apps.broker.url, jar, benchClient);
        for (let i = 0; i < 3; i++) {
          await proxy.idle();
          proxy.reset();
          const marks: string[] = [];
          const t = performance.now();
          await appSignIn(apps.broker.url, jar, benchClient, marks);
          const took = ms(t);
          await proxy.idle();
          const snap = proxy.snapshot(t);
          console.log(
            `\nsign-in ${i + 1}: ${took.toFixed(1)} ms, ${snap.requests} Table requests in ${snap.rounds} rounds`,
          );
          for (const line of marks) console.log(`  app   ${line}`);
          for (const line of snap.timeline) console.log(`  table ${line}`);
        }
      }
      proxy.rttMs = 0;
      if (!runs('signin')) printOpCompare(opCompare, storageRtt);
    }

    // ---- sign-out with back-channel logout: 1 app vs 20 slow apps
    let logout: LogoutResult | undefined;
    if (runs('logout')) {
      proxy.rttMs = storageRtt;
      logout = await measureLogout(
        {
          base: apps.broker.url,
          origin: brokerBase,
          users: Array.from({ length: PASSWORD_USERS }, (_, i) => `pw${i}`),
          password: PASSWORD,
          clients: logoutClients,
          receiver,
        },
        LOGOUT_SAMPLES,
        [1, LOGOUT_APPS],
      );
      proxy.rttMs = 0;
      if (!runs('signin')) printLogout(logout, LOGOUT_RECEIVER_DELAY_MS, storageRtt);
    }
    if (!runs('signin')) {
      if (jsonFile) {
        writeFileSync(
          jsonFile,
          `${JSON.stringify({ node: process.version, storageRttMs: storageRtt, opCompare, logout }, null, 2)}\n`,
        );
        console.log(`Figures written to ${jsonFile}.`);
      }
      return;
    }

    // ---- warm-up (signing key, JWKS, MSAL client, integration secret, discovery) and first bindings
    for (let i = 0; i < WARM_UP; i++) for (const kind of KINDS) await signIn(kind, 'starter');
    // Both really sign in: each app's session endpoint knows the user afterwards.
    const authJsSession = await fetch(`${apps.authjs.url}/auth/session`, {
      headers: { cookie: (await signIn('authjs', 'starter')).jar.header },
    }).then((r) => r.json() as Promise<{ user?: { email?: string } }>);
    const brokerSession = await fetch(`${apps.broker.url}/api/auth/session`, {
      headers: { cookie: (await signIn('broker', 'starter')).jar.header },
    }).then((r) => r.json() as Promise<{ username?: string }>);
    if (
      authJsSession.user?.email !== `starter@${DEMO_ENTRA.domain}` ||
      brokerSession.username !== 'starter'
    ) {
      throw new Error(`sign-in did not give a session: ${JSON.stringify({ authJsSession, brokerSession })}`);
    }
    for (const u of tpUsers) {
      await signIn('broker', u);
      await signIn('authjs', u);
    }
    proxy.rttMs = storageRtt;

    // ---- interleaved latency: broker, Auth.js, broker, … ; CPU over the same samples
    const samples: Record<Kind, SignInTiming[]> = { broker: [], authjs: [] };
    const cpu: Record<Kind, number> = { broker: 0, authjs: 0 };
    for (const kind of KINDS) await apps[kind].profile('start');
    for (let i = 0; i < LATENCY_SAMPLES; i++) {
      for (const kind of i % 2 === 0 ? KINDS : [...KINDS].reverse()) {
        const c0 = await apps[kind].cpu();
        samples[kind].push((await signIn(kind, 'starter')).timing);
        cpu[kind] += (await apps[kind].cpu()) - c0;
      }
    }
    for (const kind of KINDS) await apps[kind].profile('stop');
    const cpuPerSignIn = (kind: Kind) => cpu[kind] / 1000 / LATENCY_SAMPLES;

    // ---- throughput at concurrency 1/4/16 (phases alternate which app goes first)
    const throughput: {
      concurrency: number;
      count: number;
      rate: Record<Kind, number>;
      cpuMs: Record<Kind, number>;
      retried: number;
      /** Azurite's CPU per broker sign-in (it runs on this machine; in Azure it is the service's). */
      storageCpuMs: number;
    }[] = [];
    for (const [phase, { concurrency, count }] of THROUGHPUT.entries()) {
      const rate = { broker: 0, authjs: 0 };
      const cpuMs = { broker: 0, authjs: 0 };
      let storageCpuMs = 0;
      const r0 = retries.count;
      for (const kind of phase % 2 === 0 ? KINDS : [...KINDS].reverse()) {
        const c0 = await apps[kind].cpu();
        const s0 = processCpuMs(azurite.pid);
        const t = performance.now();
        await pool(count, concurrency, async (i) => {
          await signIn(kind, tpUsers[i % tpUsers.length] as string);
        });
        rate[kind] = count / (ms(t) / 1000);
        cpuMs[kind] = ((await apps[kind].cpu()) - c0) / 1000 / count;
        if (kind === 'broker') storageCpuMs = (processCpuMs(azurite.pid) - s0) / count;
      }
      throughput.push({ concurrency, count, rate, cpuMs, retried: retries.count - r0, storageCpuMs });
    }

    // ---- Table requests and sequential round trips per leg (broker), Key Vault and IdP calls
    type Leg = 'page' | 'start' | 'callback';
    const legStats: Record<Leg, LegStats[]> = { page: [], start: [], callback: [] };
    const idpCalls: Record<Kind, { start: number; callback: number }> = {
      broker: { start: 0, callback: 0 },
      authjs: { start: 0, callback: 0 },
    };
    const counting: LegHook = async (leg, run) => {
      await proxy.idle();
      proxy.reset();
      const e0 = await entra.count();
      const out = await run();
      await proxy.idle();
      legStats[leg].push(proxy.snapshot());
      if (leg !== 'page') idpCalls.broker[leg] += (await entra.count()) - e0;
      return out;
    };
    const kv0 = keyVault.requests.length;
    for (let i = 0; i < LEG_SAMPLES; i++) await brokerSignIn(apps.broker.url, 'starter', counting);
    const kvPerSignIn = (keyVault.requests.length - kv0) / LEG_SAMPLES;
    const firstCallback: LegStats[] = [];
    for (const u of firstUsers) {
      await brokerSignIn(apps.broker.url, u, async (leg, run) => {
        if (leg !== 'callback') return run();
        await proxy.idle();
        proxy.reset();
        const out = await run();
        await proxy.idle();
        firstCallback.push(proxy.snapshot());
        return out;
      });
    }
    // Auth.js's own IdP calls at its legs (discovery, token, JWKS): all stand-in requests minus the
    // browser's (authorize, login form), counted by difference against a broker-free window.
    for (let i = 0; i < LEG_SAMPLES; i++) {
      const before = await entra.count();
      await authJsSignIn(apps.authjs.url, 'starter');
      idpCalls.authjs.callback += (await entra.count()) - before;
    }
    const browserIdpCalls = 4; // GET authorize, GET interaction, POST login, GET authorize (resume)
    const avg = (v: number[]) => v.reduce((a, b) => a + b, 0) / Math.max(1, v.length);
    const legRow = (v: LegStats[]) => ({
      requests: avg(v.map((s) => s.requests)),
      rounds: avg(v.map((s) => s.rounds)),
      lines: v[0]?.lines ?? [],
    });

    // ---- password sign-ins: Table requests per sign-in (sequential, counted), then per second
    const passwordPost = (username: string) =>
      fetch(`${apps.broker.url}/api/auth/password`, {
        method: 'POST',
        redirect: 'manual',
        headers: { origin: brokerBase, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ username, password: PASSWORD }),
      }).then(async (res) => {
        await res.arrayBuffer();
        if (res.status !== 303) throw new Error(`password sign-in answered ${res.status}`);
      });
    await passwordPost('pw0');
    const pwLegs: LegStats[] = [];
    for (let i = 0; i < LEG_SAMPLES; i++) {
      await proxy.idle();
      proxy.reset();
      await passwordPost(`pw${i % PASSWORD_USERS}`);
      await proxy.idle();
      pwLegs.push(proxy.snapshot());
    }
    const pwLat: number[] = [];
    const pw0 = performance.now();
    let pwNext = 0;
    await pool(PASSWORD_SIGN_INS, PASSWORD_CONCURRENCY, async () => {
      const username = `pw${pwNext++ % PASSWORD_USERS}`;
      const t = performance.now();
      await passwordPost(username);
      pwLat.push(ms(t));
    });
    const pwRate = PASSWORD_SIGN_INS / (ms(pw0) / 1000);
    const tables = {
      page: legRow(legStats.page),
      start: legRow(legStats.start),
      callback: legRow(legStats.callback),
      firstCallback: legRow(firstCallback),
      password: legRow(pwLegs),
    };
    console.log(`Latency, throughput, table and password phases done at ${(ms(t0) / 1000).toFixed(0)} s.`);

    // ---- an application's sign-in through the broker with an existing broker session (SSO)
    const appJar = new Jar();
    const pwSignIn = await fetch(`${apps.broker.url}/api/auth/password`, {
      method: 'POST',
      redirect: 'manual',
      headers: { origin: brokerBase, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ username: 'pw0', password: PASSWORD }),
    });
    await pwSignIn.arrayBuffer();
    appJar.store(pwSignIn);
    for (let i = 0; i < 3; i++) await appSignIn(apps.broker.url, appJar, benchClient); // provider, keys, caches
    const appLat: number[] = [];
    const appLegs: LegStats[] = [];
    for (let i = 0; i < APP_SAMPLES; i++) {
      await proxy.idle();
      proxy.reset();
      appLat.push((await appSignIn(apps.broker.url, appJar, benchClient)).ms);
      await proxy.idle();
      appLegs.push(proxy.snapshot());
    }
    // ---- the callback leg per credential kind: the same app registration as a federated credential
    // (the broker signs an assertion with its OP key per token request) beside the client secret.
    const federated = await seed.integrations.create(
      {
        kind: 'azure-ad',
        title: 'Bench Entra federated',
        applicationId: DEMO_ENTRA.clientId,
        tenant: DEMO_ENTRA.tenantId,
        credential: { kind: 'federated' },
        cloud: 'public',
        matchClaim: 'preferred_username',
      },
      'bench',
    );
    await registerDemoFederatedCredential(entra.host, DEMO_ENTRA.tenantId, federated);
    await seed.integrations.activate(federated.id, undefined, 'bench');
    await seed.users.create(
      {
        username: 'fedstarter',
        email: `fedstarter@${DEMO_ENTRA.domain}`,
        verifyType: { integrationId: federated.id },
      },
      actor,
    );
    const byCredential: Record<'clientSecret' | 'federated', number[]> = { clientSecret: [], federated: [] };
    const credentialUser = { clientSecret: 'starter', federated: 'fedstarter' } as const;
    const kvByCredential = { clientSecret: 0, federated: 0 };
    for (let i = 0; i < WARM_UP; i++) await brokerSignIn(apps.broker.url, 'fedstarter');
    for (let i = 0; i < LATENCY_SAMPLES; i++) {
      for (const kind of ['clientSecret', 'federated'] as const) {
        const kv = keyVault.requests.length;
        const t = await brokerSignIn(apps.broker.url, credentialUser[kind]);
        byCredential[kind].push(t.timing.callback);
        kvByCredential[kind] += keyVault.requests.length - kv;
      }
    }

    // ---- heap over many sign-ins by distinct users (16 at once), broker process
    const heapBefore = await apps.broker.heap();
    const h0 = performance.now();
    await pool(heapUsers.length, 16, async (i) => {
      await brokerSignIn(apps.broker.url, heapUsers[i] as string);
    });
    const heapRate = HEAP_SIGN_INS / (ms(h0) / 1000);
    const heapAfter = await apps.broker.heap();
    const authHeap = await apps.authjs.heap();

    // ---- bundle: size, require time, cold start (the stack still up for the first request)
    proxy.rttMs = 0;
    const bundles = await measureBundles({
      ...brokerEnv(azurite.endpoint),
      NODE_EXTRA_CA_CERTS: ca.bundlePath,
    });

    // ---- report
    const f = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : 'n/a');
    const ratio = (a: number, b: number) => (b > 0 ? (a / b).toFixed(2) : 'n/a');
    const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;
    const kib = (n: number) => `${(n / 1024).toFixed(0)} KiB`;
    const p = (kind: Kind, leg: keyof SignInTiming, q: number) =>
      pct(
        samples[kind].map((s) => s[leg]),
        q,
      );
    type Row = [string, string, string, string];
    const rows: Row[] = [];
    for (const [leg, label] of [
      ['start', 'Start leg (POST → 302 to Entra)'],
      ['callback', 'Callback leg (GET → 302 with session)'],
      ['full', 'Full sign-in (page + start + IdP + callback)'],
    ] as const) {
      for (const q of [50, 95]) {
        rows.push([
          `${label} p${q}, ms`,
          f(p('broker', leg, q)),
          f(p('authjs', leg, q)),
          ratio(p('broker', leg, q), p('authjs', leg, q)),
        ]);
      }
    }
    for (const t of throughput) {
      rows.push([
        `Full sign-ins/s at concurrency ${t.concurrency} (${t.count} each)`,
        f(t.rate.broker),
        f(t.rate.authjs),
        ratio(t.rate.broker, t.rate.authjs),
      ]);
    }
    rows.push([
      `Server CPU per sign-in, ms (sequential samples)`,
      f(cpuPerSignIn('broker')),
      f(cpuPerSignIn('authjs')),
      ratio(cpuPerSignIn('broker'), cpuPerSignIn('authjs')),
    ]);
    for (const t of throughput) {
      rows.push([
        `Server CPU per sign-in, ms (concurrency ${t.concurrency})`,
        f(t.cpuMs.broker),
        f(t.cpuMs.authjs),
        ratio(t.cpuMs.broker, t.cpuMs.authjs),
      ]);
    }
    for (const t of throughput) {
      rows.push([
        `Azurite CPU per broker sign-in, ms (concurrency ${t.concurrency}; same machine)`,
        f(t.storageCpuMs),
        '-',
        '',
      ]);
    }
    rows.push([
      'IdP calls by the server per sign-in (start + callback)',
      `${f(idpCalls.broker.start / LEG_SAMPLES)} + ${f(idpCalls.broker.callback / LEG_SAMPLES)}`,
      f(idpCalls.authjs.callback / LEG_SAMPLES - browserIdpCalls),
      '',
    ]);
    rows.push([
      'Bundle loaded at start-up (main.cjs: the registrations)',
      kib(bundles.broker.mainBytes),
      kib(bundles.authjs.bytes),
      ratio(bundles.broker.mainBytes, bundles.authjs.bytes),
    ]);
    rows.push([
      'Bundle loaded by the first request (main.cjs + app.cjs)',
      kib(bundles.broker.bytes),
      kib(bundles.authjs.bytes),
      ratio(bundles.broker.bytes, bundles.authjs.bytes),
    ]);
    rows.push([
      'require main.cjs, ms (fresh process, median of 7)',
      f(bundles.broker.requireMs),
      f(bundles.authjs.requireMs),
      ratio(bundles.broker.requireMs, bundles.authjs.requireMs),
    ]);
    rows.push([
      'require main.cjs + app.cjs, ms (fresh process, median of 7)',
      f(bundles.broker.fullRequireMs),
      f(bundles.authjs.requireMs),
      ratio(bundles.broker.fullRequireMs, bundles.authjs.requireMs),
    ]);
    rows.push([
      `Heap after ${HEAP_SIGN_INS} more sign-ins (after GC)`,
      mb(heapAfter.heapUsed),
      mb(authHeap.heapUsed),
      '',
    ]);

    const w = Math.max(...rows.map((r) => r[0].length));
    const line = (r: Row) =>
      `${r[0].padEnd(w)}  ${r[1].padStart(12)}  ${r[2].padStart(12)}  ${r[3].padStart(6)}`;
    console.log(
      `\nSign-in benchmark, broker vs Auth.js — Node ${process.version}, loopback only, same Entra stand-in, ` +
        `storage RTT +${storageRtt} ms (per Table request, at the proxy), IdP back-channel RTT +${idpRtt} ms ` +
        `(per discovery, keys or token request, at the Entra stand-in). Returning Entra user, warm instances, ` +
        `${LATENCY_SAMPLES} interleaved samples each.`,
    );
    console.log(line(['Measure', 'broker', 'Auth.js', 'ratio']));
    console.log(line(['-'.repeat(w), '-'.repeat(12), '-'.repeat(12), '-'.repeat(6)]));
    for (const r of rows) console.log(line(r));

    const tr = (name: string, r: { requests: number; rounds: number }) =>
      `  ${name.padEnd(38)} ${f(r.requests).padStart(5)} requests, ${f(r.rounds).padStart(5)} sequential round trips`;
    console.log(
      `\nBroker Table Storage per leg (counting proxy in front of Azurite, ${LEG_SAMPLES} warm sign-ins; Auth.js: none, JWT sessions)`,
    );
    console.log(tr('Sign-in page (GET /api/auth/login)', tables.page));
    console.log(tr('Start (POST /api/auth/login)', tables.start));
    console.log(tr('Callback, returning user', tables.callback));
    console.log(tr(`Callback, first sign-in (binds; ${FIRST_SIGN_INS})`, tables.firstCallback));
    console.log(tr('Password sign-in (POST /api/auth/password)', tables.password));
    console.log(
      `  Start:    ${tables.start.lines.map((l) => l.replace(/^(\S+) \/[^/]+\/([A-Za-z0-9]+).*$/, '$1 $2')).join(' → ')}`,
    );
    console.log(
      `  Callback: ${tables.callback.lines.map((l) => l.replace(/^(\S+) \/[^/]+\/([A-Za-z0-9]+).*$/, '$1 $2')).join(' → ')}`,
    );
    console.log(`  Key Vault calls per warm sign-in: ${f(kvPerSignIn)}`);

    console.log(
      `\nCallback leg per credential kind (returning user, warm instance, ${LATENCY_SAMPLES} interleaved samples each)`,
    );
    for (const kind of ['clientSecret', 'federated'] as const)
      console.log(
        `  ${kind.padEnd(13)} p50 ${f(pct(byCredential[kind], 50))} ms, p95 ${f(pct(byCredential[kind], 95))} ms; ` +
          `Key Vault calls per sign-in ${f(kvByCredential[kind] / LATENCY_SAMPLES)}`,
      );

    console.log('\nBroker, other');
    console.log(
      `  Password sign-ins, ${PASSWORD_CONCURRENCY} at once: ${f(pwRate)} /s (p50 ${f(pct(pwLat, 50))} ms, p95 ${f(pct(pwLat, 95))} ms)`,
    );
    const appTables = legRow(appLegs);
    console.log(
      `  Application sign-in through the broker with an existing broker session (authorize → login step → code → token, broker side, ${APP_SAMPLES} samples): ` +
        `p50 ${f(pct(appLat, 50))} ms, p95 ${f(pct(appLat, 95))} ms; Table Storage ${f(appTables.requests)} requests, ${f(appTables.rounds)} sequential round trips`,
    );
    console.log(
      `  Heap over ${HEAP_SIGN_INS} sign-ins by distinct users, 16 at once (after GC): ${mb(heapBefore.heapUsed)} → ${mb(heapAfter.heapUsed)} ` +
        `(${heapAfter.heapUsed >= heapBefore.heapUsed ? '+' : ''}${mb(heapAfter.heapUsed - heapBefore.heapUsed)}), ${f(heapRate)} full sign-ins/s; ` +
        `MSAL accounts cached after: ${heapAfter.extra.msalAccounts} (clients ${heapAfter.extra.msalClients})`,
    );
    console.log(
      `  Requests retried after a contention 429: ${retries.count} (throughput phases: ${throughput.map((t) => `c${t.concurrency} ${t.retried}`).join(', ')})`,
    );
    console.log(
      `  Loaded on first use, not at start (before → after oidc-provider: the main bundle above, then +): ` +
        bundles.lazy.map((l) => `${l.file} ${kib(l.bytes)}, require ${f(l.requireMs)} ms`).join('; '),
    );
    console.log(
      `  Cold start as the Functions worker would (fresh process: require main.cjs + first GET /api/auth/login, which loads app.cjs, median of 7): ` +
        `${f(bundles.broker.coldStartMs)} ms (of which require main.cjs ${f(bundles.broker.coldStartLoadMs)} ms; first answer ${bundles.broker.firstStatus})`,
    );
    if (opCompare) printOpCompare(opCompare, storageRtt);
    if (logout) printLogout(logout, LOGOUT_RECEIVER_DELAY_MS, storageRtt);
    console.log(
      `\nTotal ${(ms(t0) / 1000).toFixed(0)} s. The machine is shared: compare ratios from one run, not absolute figures across runs.`,
    );

    if (jsonFile) {
      const summary = (kind: Kind) =>
        Object.fromEntries(
          (['page', 'start', 'idp', 'callback', 'full'] as const).map((leg) => [
            leg,
            { p50: p(kind, leg, 50), p95: p(kind, leg, 95) },
          ]),
        );
      writeFileSync(
        jsonFile,
        `${JSON.stringify(
          {
            node: process.version,
            storageRttMs: storageRtt,
            idpBackChannelRttMs: idpRtt,
            latencySamples: LATENCY_SAMPLES,
            latencyMs: { broker: summary('broker'), authjs: summary('authjs') },
            cpuMsPerSignIn: { broker: cpuPerSignIn('broker'), authjs: cpuPerSignIn('authjs') },
            throughput,
            idpCallsPerSignIn: {
              broker: {
                start: idpCalls.broker.start / LEG_SAMPLES,
                callback: idpCalls.broker.callback / LEG_SAMPLES,
              },
              authjs: idpCalls.authjs.callback / LEG_SAMPLES - browserIdpCalls,
            },
            tables,
            keyVaultCallsPerSignIn: kvPerSignIn,
            callbackByCredential: Object.fromEntries(
              (['clientSecret', 'federated'] as const).map((kind) => [
                kind,
                {
                  p50: pct(byCredential[kind], 50),
                  p95: pct(byCredential[kind], 95),
                  keyVaultCallsPerSignIn: kvByCredential[kind] / LATENCY_SAMPLES,
                },
              ]),
            ),
            password: { rate: pwRate, p50: pct(pwLat, 50), p95: pct(pwLat, 95) },
            appSignIn: { p50: pct(appLat, 50), p95: pct(appLat, 95), tables: legRow(appLegs) },
            heap: {
              signIns: HEAP_SIGN_INS,
              before: heapBefore,
              after: heapAfter,
              rate: heapRate,
              authjs: authHeap,
            },
            retried: retries.count,
            bundles,
            opCompare,
            logout,
          },
          null,
          2,
        )}\n`,
      );
      console.log(`Figures written to ${jsonFile}.`);
    }
    if (heapAfter.extra.msalAccounts !== 0) {
      console.error(`MSAL token cache grew: ${heapAfter.extra.msalAccounts} accounts held`);
      process.exitCode = 1;
    }
  } finally {
    await Promise.allSettled(closers.map((c) => c()));
  }
}
