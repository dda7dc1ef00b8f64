/**
 * Start-up checks of the local stack that name their cause: a port already in use is reported with
 * the setting that moves it, and a dependency that does not answer is named with its URL and the
 * setting it comes from (instead of a 503 from the first request that needs it).
 */
import net from 'node:net';
import path from 'node:path';
import type { LocalSettings, PortSetting, UrlSetting } from './local-settings.ts';

export class LocalStartError extends Error {}

/** Whether something already listens on 127.0.0.1:port (a second `npm start`, another program). */
function inUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', (err: NodeJS.ErrnoException) =>
      resolve(err.code === 'EADDRINUSE' || err.code === 'EACCES'),
    );
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(false)));
  });
}

/** The message for a port that is taken, naming the setting that moves it. */
export function portInUseMessage(name: PortSetting, port: number, file: string): string {
  return `Port ${port} is already in use (${name}). Another \`npm start\` may be running: stop it, or set ${name} to a free port in ${path.basename(file)} (or the environment); the local URLs follow it.`;
}

/** Fails, naming every busy port's setting, before anything is started. */
export async function checkPortsFree(
  local: LocalSettings,
  names: readonly PortSetting[],
  file: string,
): Promise<void> {
  const busy: string[] = [];
  for (const name of names) {
    if (await inUse(local[name])) busy.push(portInUseMessage(name, local[name], file));
  }
  if (busy.length) throw new LocalStartError(busy.join('\n'));
}

/** A listen error as the port-in-use message, when it is one (a port taken between check and start). */
export function explainListenError(
  err: unknown,
  local: LocalSettings,
  names: readonly PortSetting[],
  file: string,
): unknown {
  const e = err as NodeJS.ErrnoException & { port?: number };
  if (e?.code !== 'EADDRINUSE') return err;
  const name = names.find((n) => local[n] === e.port);
  return name ? new LocalStartError(portInUseMessage(name, local[name], file)) : err;
}

/** Any HTTP answer counts: the check is whether something is there, not whether we are allowed in. */
async function answers(url: string, timeoutMs: number): Promise<string | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
    await res.body?.cancel();
    return undefined;
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    if ((err as Error).name === 'TimeoutError') return `no answer within ${timeoutMs / 1000} s`;
    return cause?.code ?? cause?.message ?? (err as Error).message;
  }
}

export interface Dependency {
  what: string;
  setting: UrlSetting;
  url: string;
  /** Built from a port (which setting), or set explicitly. */
  source: 'port' | 'explicit';
  port: PortSetting;
}

/** Fails naming each dependency that does not answer: what it is, its URL and where that comes from. */
export async function checkDependencies(deps: Dependency[], file: string, timeoutMs = 5000): Promise<void> {
  const problems = (
    await Promise.all(
      deps.map(async (d) => {
        const why = await answers(d.url, timeoutMs);
        if (!why) return undefined;
        const from =
          d.source === 'port'
            ? `built from ${d.port}`
            : `${d.setting}, set explicitly (in ${path.basename(file)} or the environment); remove it to follow ${d.port}`;
        return `${d.what} at ${d.url} does not answer (${why}). The URL is ${from}.`;
      }),
    )
  ).filter((p): p is string => !!p);
  if (problems.length) throw new LocalStartError(problems.join('\n'));
}
