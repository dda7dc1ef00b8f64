/**
 * The bench runs each app (the broker on the local host, the Auth.js app) in its own Node process so
 * that server CPU (process.cpuUsage) and heap are the app's alone. This module is both sides of that:
 * `spawnApp()` in the bench process, `runAppChild()` in the child (scripts/bench.ts dispatches on
 * APP_CHILD_FLAG). The child answers `cpu` and `heap` over IPC.
 */
import { type ChildProcess, spawn } from 'node:child_process';

export const APP_CHILD_FLAG = '--bench-app-child';

export interface AppHandle {
  url: string;
  /** process.cpuUsage() of the app process, in microseconds (user + system). */
  cpu(): Promise<number>;
  /** Heap used after full GCs, and app-specific extras (the broker: MSAL accounts cached). */
  heap(): Promise<{ heapUsed: number; extra: Record<string, number> }>;
  close(): Promise<void>;
}

interface ChildMessage {
  type?: string;
  id?: number;
  url?: string;
  cpu?: number;
  heapUsed?: number;
  extra?: Record<string, number>;
}

export async function spawnApp(kind: 'broker' | 'authjs', options: unknown): Promise<AppHandle> {
  const child: ChildProcess = spawn(
    process.execPath,
    [
      '--expose-gc',
      // `BENCH_CPU_PROF_DIR=DIR npm run bench`: a V8 CPU profile of each app, written when it stops.
      ...(process.env.BENCH_CPU_PROF_DIR
        ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF_DIR}`]
        : []),
      ...process.execArgv,
      process.argv[1] ?? '',
      APP_CHILD_FLAG,
      kind,
    ],
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
  const ask = (type: string) =>
    new Promise<ChildMessage>((resolve) => {
      const id = ++nextId;
      const on = (m: ChildMessage) => {
        if (m?.id !== id) return;
        child.off('message', on);
        resolve(m);
      };
      child.on('message', on);
      child.send({ type, id });
    });
  return {
    url,
    cpu: async () => (await ask('cpu')).cpu ?? Number.NaN,
    heap: async () => {
      const m = await ask('heap');
      return { heapUsed: m.heapUsed ?? Number.NaN, extra: m.extra ?? {} };
    },
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

/** In the child: start the app, then answer the bench's questions until it disconnects. */
export async function runAppChild(
  start: () => Promise<{
    url: string;
    close(): Promise<void>;
    extra?: () => Promise<Record<string, number>>;
  }>,
): Promise<void> {
  const app = await start();
  const gc = (globalThis as { gc?: () => void }).gc;
  process.on('message', (m: ChildMessage) => {
    if (m?.type === 'cpu') {
      const u = process.cpuUsage();
      process.send?.({ type: 'cpu', id: m.id, cpu: u.user + u.system });
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
