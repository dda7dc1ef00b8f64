/**
 * `npm start` with only the LOCAL_*_PORT settings changed (free ports, a fresh data folder): the URLs
 * follow the ports and the demo users sign in (password and Entra, through the stand-in on its new
 * port). A second start on the same ports stops at once naming the setting of the busy port, and a
 * dependency URL that does not answer is named with its setting.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../scripts/standins/azurite.ts';
import { repoRoot } from '../../scripts/standins/ca.ts';
import { BrokerBrowser } from '../helpers/signin.ts';
import type { TestApp } from '../helpers/stack.ts';

const TSX = path.join(repoRoot, 'node_modules', '.bin', 'tsx');

interface Started {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** `npm start` as a child with the given settings on top of this process's environment (minus the stack's). */
function start(settings: Record<string, string>): Started {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !/^(BROKER_|LOCAL_|DEMO_)/.test(k)) env[k] = v;
  }
  const child = spawn(TSX, ['scripts/start.ts'], {
    cwd: repoRoot,
    env: { ...env, ...settings },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group: Azurite (its child) is stopped with it if it does not stop by itself.
    detached: true,
  });
  let out = '';
  child.stdout?.on('data', (d) => {
    out += String(d);
  });
  child.stderr?.on('data', (d) => {
    out += String(d);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

async function waitFor(s: Started, pattern: RegExp, ms: number): Promise<RegExpMatchArray> {
  const deadline = Date.now() + ms;
  for (;;) {
    const m = pattern.exec(s.output());
    if (m) return m;
    if (s.child.exitCode !== null) throw new Error(`npm start exited (${s.child.exitCode}):\n${s.output()}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}:\n${s.output()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function stop(s: Started | undefined): Promise<void> {
  if (!s || s.child.exitCode !== null || s.child.pid === undefined) return;
  const pid = s.child.pid;
  process.kill(-pid, 'SIGINT');
  const timer = setTimeout(() => {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {}
  }, 10_000);
  await s.exited;
  clearTimeout(timer);
}

let dataDir: string;
let ports: Record<string, string>;
let stack: Started;

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'broker-local-ports-'));
  ports = {
    LOCAL_HOST_PORT: String(await freePort()),
    LOCAL_AZURITE_TABLE_PORT: String(await freePort()),
    LOCAL_KEYVAULT_PORT: String(await freePort()),
    LOCAL_ENTRA_PORT: String(await freePort()),
  };
  stack = start({ ...ports, LOCAL_DATA_DIR: dataDir });
  await waitFor(stack, /local stack is up/, 120_000);
}, 150_000);

afterAll(async () => {
  await stop(stack);
  rmSync(dataDir, { recursive: true, force: true });
}, 30_000);

describe('npm start with only LOCAL_*_PORT changed', { timeout: 120_000 }, () => {
  it('serves on the new ports, and the demo users sign in (password and Entra)', async () => {
    const base = `http://localhost:${ports.LOCAL_HOST_PORT}`;
    const out = stack.output();
    expect(out).toContain(`Sign-in page         ${base}/api/auth/login`);
    expect(out).toContain(`http://127.0.0.1:${ports.LOCAL_AZURITE_TABLE_PORT}/devstoreaccount1`);
    expect(out).not.toMatch(/:7071|:7443|:7444|:10002/);
    const admin = /username admin, password (\S+)/.exec(out)?.[1];
    expect(admin).toBeTruthy();

    const browser = new BrokerBrowser({ url: base } as TestApp);
    const step = await browser.post('/api/auth/login', { username: 'admin' });
    expect(step.status).toBe(200);
    const signedIn = await browser.post('/api/auth/password', { username: 'admin', password: admin ?? '' });
    expect(signedIn.status, await signedIn.clone().text()).toBe(303);
    expect(await (await browser.session()).json()).toMatchObject({ username: 'admin', method: 'password' });

    const entra = new BrokerBrowser({ url: base } as TestApp);
    const { authorizeUrl, callbackUrl, callback } = await entra.signInWithEntra('alice', 'alice');
    expect(new URL(authorizeUrl).origin).toBe(`https://localhost:${ports.LOCAL_ENTRA_PORT}`);
    expect(callbackUrl.startsWith(`${base}/api/auth/callback`)).toBe(true);
    expect(callback.status, await callback.clone().text()).toBe(302);
    expect(await (await entra.session()).json()).toMatchObject({ username: 'alice', method: 'entra' });
  });

  it('a second start on the same ports stops at once, naming the setting of each busy port', async () => {
    const second = start({ ...ports, LOCAL_DATA_DIR: dataDir });
    const code = await second.exited;
    expect(code).toBe(1);
    const out = second.output();
    for (const name of Object.keys(ports)) {
      expect(out).toContain(`Port ${ports[name]} is already in use (${name})`);
    }
    expect(out).toContain('set LOCAL_HOST_PORT to a free port');
    expect(out).not.toContain('EADDRINUSE');
  });

  it('a dependency URL set explicitly that does not answer is named with its setting', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'broker-local-deps-'));
    const silent = `https://localhost:${await freePort()}`;
    const own = {
      LOCAL_HOST_PORT: String(await freePort()),
      LOCAL_AZURITE_TABLE_PORT: String(await freePort()),
      LOCAL_KEYVAULT_PORT: String(await freePort()),
      LOCAL_ENTRA_PORT: String(await freePort()),
    };
    const third = start({ ...own, LOCAL_DATA_DIR: dir, BROKER_KEY_VAULT_URI: silent });
    try {
      const code = await third.exited;
      expect(code).toBe(1);
      const out = third.output();
      expect(out).toContain(`Key Vault at ${silent} does not answer`);
      expect(out).toContain('BROKER_KEY_VAULT_URI, set explicitly');
      expect(out).not.toContain('A service the broker depends on is not available');
    } finally {
      await stop(third);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
