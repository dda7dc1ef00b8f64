/**
 * The Entra stand-in in a process of its own (the bench and the soak run it so that its CPU is not the
 * broker's): `runEntraStandInChild` in the child, `startEntraStandInChild` in the parent, which re-runs
 * its own script with `ENTRA_CHILD_FLAG`. The child answers `count` over IPC with its request count and
 * stops when the parent disconnects.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { demoTenant, type EntraStandInOptions, startEntraStandIn } from '../standins/entra.ts';
import { stopChild } from './child.ts';

export const ENTRA_CHILD_FLAG = '--entra-stand-in-child';

/** In the child: the stand-in with the demo tenant (and `opts`), until the parent disconnects. */
export async function runEntraStandInChild(opts: EntraStandInOptions = {}): Promise<void> {
  const standIn = await startEntraStandIn({ tenants: [demoTenant()], ...opts });
  process.on('message', (m: { type?: string }) => {
    if (m?.type === 'count') process.send?.({ type: 'count', total: standIn.requests.length });
  });
  process.on('disconnect', () => {
    standIn.close().finally(() => process.exit(0));
  });
  if (process.connected) process.send?.({ type: 'ready', host: standIn.host });
  else standIn.close().finally(() => process.exit(0));
}

/** In the parent: starts the child and waits for its host. */
export async function startEntraStandInChild(
  o: { env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<{ host: string; count(): Promise<number>; close(): Promise<void> }> {
  const timeoutMs = o.timeoutMs ?? 30_000;
  const child: ChildProcess = spawn(
    process.execPath,
    [...process.execArgv, process.argv[1] ?? '', ENTRA_CHILD_FLAG],
    { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], env: { ...process.env, ...o.env } },
  );
  const host = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`Entra stand-in did not start within ${timeoutMs / 1000} s`)),
      timeoutMs,
    );
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
    count: () =>
      new Promise<number>((resolve) => {
        const on = (m: { type?: string; total?: number }) => {
          if (m?.type !== 'count') return;
          child.off('message', on);
          resolve(m.total ?? 0);
        };
        child.on('message', on);
        child.send({ type: 'count' });
      }),
    close: () => stopChild(child),
  };
}
