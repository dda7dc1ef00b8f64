/**
 * Starts Azurite's table service (dev and test tooling only): in memory for tests, on disk in a
 * git-ignored folder for `npm start`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { repoRoot } from './ca.ts';

export interface AzuriteTables {
  /** Table endpoint for the development account, e.g. http://127.0.0.1:10002/devstoreaccount1 */
  endpoint: string;
  port: number;
  /** The Azurite process (a supervised one: the current process). */
  readonly pid: number | undefined;
  close(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export async function waitForPort(port: number, timeoutMs = 15_000, host = '127.0.0.1'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const sock = net.connect(port, host);
      sock.once('connect', () => {
        sock.destroy();
        resolve(true);
      });
      sock.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`Nothing answered on ${host}:${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startAzuriteTables(
  opts: { port?: number; location?: string; onExit?: (code: number | null) => void } = {},
): Promise<AzuriteTables> {
  const port = opts.port ?? (await freePort());
  const bin = path.join(repoRoot, 'node_modules', '.bin', 'azurite-table');
  const args = [
    '--tableHost',
    '127.0.0.1',
    '--tablePort',
    String(port),
    '--disableTelemetry',
    '--skipApiVersionCheck',
    '--silent',
  ];
  if (opts.location) {
    mkdirSync(opts.location, { recursive: true });
    args.push('--location', opts.location);
  } else {
    args.push('--inMemoryPersistence');
  }
  const child: ChildProcess = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr = (stderr + String(d)).slice(-4000);
  });
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) => reject(new Error(`azurite-table exited with ${code}: ${stderr.trim()}`))),
  );
  // A busy machine (shared CPU) can take a while to start it.
  await Promise.race([waitForPort(port, 60_000), exited]);
  // Exits after a successful start (a crash, a kill) are reported; close() removes this listener.
  child.once('exit', (code) => opts.onExit?.(code));
  return {
    endpoint: `http://127.0.0.1:${port}/devstoreaccount1`,
    port,
    pid: child.pid,
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.removeAllListeners('exit');
        child.once('exit', () => resolve());
        // On disk, SIGINT is Azurite's graceful stop: it saves the store (SIGTERM would lose recent
        // writes). In memory there is nothing to save: SIGTERM ends it at once.
        child.kill(opts.location ? 'SIGINT' : 'SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 3000).unref();
      }),
  };
}

/**
 * Azurite for `npm start`: restarted on the same port and folder whenever it exits on its own (the
 * broker answers 503 meanwhile and recovers by itself once it is back).
 */
export async function supervisedAzuriteTables(opts: {
  port: number;
  location: string;
  log?: (message: string) => void;
}): Promise<AzuriteTables> {
  const log = opts.log ?? ((m: string) => console.warn(m));
  let closing = false;
  let current: AzuriteTables;
  const start = async (): Promise<AzuriteTables> =>
    startAzuriteTables({
      port: opts.port,
      location: opts.location,
      onExit: (code) => {
        if (closing) return;
        log(`Azurite exited (${code}); restarting it on port ${opts.port}…`);
        const retry = async (attempt: number): Promise<void> => {
          if (closing) return;
          try {
            current = await start();
            log('Azurite is back.');
          } catch (err) {
            log(`Azurite did not start (${err instanceof Error ? err.message : String(err)}); trying again.`);
            await new Promise((r) => setTimeout(r, Math.min(10_000, 500 * 2 ** attempt)));
            return retry(attempt + 1);
          }
        };
        void retry(0);
      },
    });
  current = await start();
  return {
    endpoint: current.endpoint,
    port: current.port,
    get pid() {
      return current.pid;
    },
    close: async () => {
      closing = true;
      await current.close();
    },
  };
}
