/**
 * The bench runs each app (the broker on the local host, the Auth.js app) in its own Node process so
 * that server CPU (process.cpuUsage) and heap are the app's alone. This module is both sides of that:
 * `spawnApp()` in the bench process, `runAppChild()` in the child (scripts/bench/main.ts dispatches on
 * APP_CHILD_FLAG). The child answers `cpu`, `heap`, `profile-*`, `storage-rtt` and `table-in-flight`
 * over IPC.
 */
import { type ChildProcess, spawn } from 'node:child_process';

export const APP_CHILD_FLAG = '--bench-app-child';

export interface AppHandle {
  url: string;
  /** process.cpuUsage() of the app process, in microseconds (user + system). */
  cpu(): Promise<number>;
  /** Heap used after full GCs, and app-specific extras (the broker: MSAL accounts cached). */
  heap(): Promise<{ heapUsed: number; extra: Record<string, number> }>;
  /** Starts or stops the app's CPU profile (only with BENCH_CPU_PROF_DIR; see `cpuProfiler`). */
  profile(what: 'start' | 'stop'): Promise<void>;
  /** The storage round-trip time the app adds itself (a broker started with `storageRttInProcess`). */
  storageRtt(ms: number): Promise<void>;
  /**
   * How long, in ms since it started, the app had at least one Table request in flight (a broker
   * started with `storageRttInProcess`; NaN otherwise).
   */
  tableInFlightMs(): Promise<number>;
  close(): Promise<void>;
}

interface ChildMessage {
  type?: string;
  id?: number;
  url?: string;
  cpu?: number;
  ms?: number;
  error?: string;
  heapUsed?: number;
  extra?: Record<string, number>;
}

export async function spawnApp(kind: 'broker' | 'authjs' | 'plain-op', options: unknown): Promise<AppHandle> {
  const child: ChildProcess = spawn(
    process.execPath,
    ['--expose-gc', ...process.execArgv, process.argv[1] ?? '', APP_CHILD_FLAG, kind],
    {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, BENCH_APP_OPTIONS: JSON.stringify(options) },
    },
  );
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${kind} app did not start within 60 s`)), 60_000);
    child.once('exit', (code) => reject(new Error(`${kind} app exited with ${code}`)));
    child.on('message', (m: ChildMessage) => {
      if (m?.type === 'ready' && m.url) {
        clearTimeout(timer);
        resolve(m.url);
      }
    });
  });
  let nextId = 0;
  const ask = (type: string, extra: Partial<ChildMessage> = {}) =>
    new Promise<ChildMessage>((resolve) => {
      const id = ++nextId;
      const on = (m: ChildMessage) => {
        if (m?.id !== id) return;
        child.off('message', on);
        resolve(m);
      };
      child.on('message', on);
      child.send({ ...extra, type, id });
    });
  return {
    url,
    cpu: async () => (await ask('cpu')).cpu ?? Number.NaN,
    profile: async (what: 'start' | 'stop') => {
      await ask(`profile-${what}`);
    },
    storageRtt: async (ms: number) => {
      const m = await ask('storage-rtt', { ms });
      if (m.error) throw new Error(`${kind} app: ${m.error}`);
    },
    tableInFlightMs: async () => (await ask('table-in-flight')).ms ?? Number.NaN,
    heap: async () => {
      const m = await ask('heap');
      return { heapUsed: m.heapUsed ?? Number.NaN, extra: m.extra ?? {} };
    },
    close: () => stopChild(child),
  };
}

/** Disconnects a child (it stops itself on that) and waits for its exit; killed after 3 s. */
export function stopChild(child: ChildProcess): Promise<void> {
  return new Promise<void>((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.removeAllListeners('exit');
    child.once('exit', () => resolve());
    child.disconnect();
    setTimeout(() => child.kill('SIGKILL'), 3000).unref();
  });
}

/** In the child: start the app, then answer the bench's questions until it disconnects. */
export async function runAppChild(
  start: () => Promise<{
    url: string;
    close(): Promise<void>;
    extra?: () => Promise<Record<string, number>>;
    setStorageRtt?: (ms: number) => void;
    tableInFlightMs?: () => number;
  }>,
): Promise<void> {
  const app = await start();
  const gc = (globalThis as { gc?: () => void }).gc;
  const profiler = await cpuProfiler();
  process.on('message', (m: ChildMessage) => {
    if (m?.type === 'profile-start' || m?.type === 'profile-stop') {
      const step = m.type === 'profile-start' ? profiler.start() : profiler.stop();
      void step.then(() => process.send?.({ type: m.type, id: m.id }));
    } else if (m?.type === 'cpu') {
      const u = process.cpuUsage();
      process.send?.({ type: 'cpu', id: m.id, cpu: u.user + u.system });
    } else if (m?.type === 'storage-rtt') {
      try {
        if (!app.setStorageRtt) throw new Error('it adds no storage RTT itself');
        app.setStorageRtt(m.ms ?? 0);
        process.send?.({ type: m.type, id: m.id });
      } catch (err) {
        process.send?.({ type: m.type, id: m.id, error: err instanceof Error ? err.message : String(err) });
      }
    } else if (m?.type === 'table-in-flight') {
      const ms = app.tableInFlightMs?.();
      process.send?.({ type: m.type, id: m.id, ...(ms !== undefined ? { ms } : {}) });
    } else if (m?.type === 'heap') {
      void (async () => {
        for (let i = 0; i < 3; i++) gc?.();
        const extra = (await app.extra?.()) ?? {};
        process.send?.({ type: 'heap', id: m.id, heapUsed: process.memoryUsage().heapUsed, extra });
      })();
    }
  });
  process.on('disconnect', () => {
    app.close().finally(() => process.exit(0));
  });
  process.send?.({ type: 'ready', url: app.url });
}

/**
 * `BENCH_CPU_PROF_DIR=DIR npm run bench`: a V8 CPU profile of each app over each profiled phase (the
 * latency phase, the OP phase's samples), written to DIR as `<pid>-<n>.cpuprofile`, n counting the
 * phases (open it in Chrome DevTools). Without it, start/stop do nothing.
 */
async function cpuProfiler(): Promise<{ start(): Promise<void>; stop(): Promise<void> }> {
  const dir = process.env.BENCH_CPU_PROF_DIR;
  if (!dir) return { start: async () => {}, stop: async () => {} };
  const { Session } = await import('node:inspector/promises');
  const { mkdirSync, writeFileSync } = await import('node:fs');
  mkdirSync(dir, { recursive: true });
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  let profiles = 0;
  return {
    start: () => session.post('Profiler.start'),
    stop: async () => {
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(`${dir}/${process.pid}-${++profiles}.cpuprofile`, JSON.stringify(profile));
    },
  };
}
