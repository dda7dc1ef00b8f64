/**
 * Fault helpers: stop, restart, hang and slow down Azurite, the Key Vault stand-in and the
 * Entra stand-in in the middle of a test. Each fault test gets its OWN Azurite (on disk, so a restart
 * keeps the data) or a proxy in front of the suite's shared stand-ins, so test files running in
 * parallel are never disturbed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, startAzuriteTables } from '../../scripts/standins/azurite.ts';
import { type EntraStandIn, startEntraStandIn } from '../../scripts/standins/entra.ts';
import { type FaultyProxy, startFaultyProxy } from '../../scripts/standins/faulty-proxy.ts';
import { stack } from './stack.ts';

export type { FaultyProxy };

export interface OwnAzurite {
  endpoint: string;
  /** Stops the Azurite process (clients get ECONNREFUSED). */
  stop(): Promise<void>;
  /** Starts it again on the same port with the same data. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

/** An Azurite of this test's own, persisted in a temporary folder so a restart keeps the tables. */
export async function startOwnAzurite(): Promise<OwnAzurite> {
  const location = mkdtempSync(path.join(tmpdir(), 'broker-azurite-'));
  const port = await freePort();
  let current: Awaited<ReturnType<typeof startAzuriteTables>> | undefined = await startAzuriteTables({
    port,
    location,
  });
  const endpoint = current.endpoint;
  const stop = async () => {
    await current?.close();
    current = undefined;
  };
  return {
    endpoint,
    stop,
    restart: async () => {
      if (!current) current = await startAzuriteTables({ port, location });
    },
    close: async () => {
      await stop();
      rmSync(location, { recursive: true, force: true });
    },
  };
}

const portOf = (url: string) => Number(new URL(url).port);

/** A proxy in front of the suite's Key Vault stand-in; `url` is the vault URI to give the app. */
export async function keyVaultProxy(): Promise<FaultyProxy & { url: string }> {
  const proxy = await startFaultyProxy(portOf(stack().keyVaultUrl));
  return Object.assign(proxy, { url: proxy.via(stack().keyVaultUrl) });
}

/**
 * An Entra stand-in of this test's own behind a proxy (its issuers name the proxy, so tokens still
 * validate); `url` is the authority host to give the app.
 */
export async function entraBehindProxy(): Promise<FaultyProxy & { url: string; entra: EntraStandIn }> {
  const upstreamPort = await freePort();
  const proxy = await startFaultyProxy(upstreamPort);
  const url = `https://localhost:${proxy.port}`;
  const entra = await startEntraStandIn({ port: upstreamPort, publicHost: url });
  const close = proxy.close;
  return Object.assign(proxy, {
    url,
    entra,
    close: async () => {
      await close();
      await entra.close();
    },
  });
}

/** A proxy in front of an Azurite table endpoint; `url` is the table endpoint to give the app. */
export async function tablesProxy(
  tableEndpoint = stack().tableEndpoint,
): Promise<FaultyProxy & { url: string }> {
  const proxy = await startFaultyProxy(portOf(tableEndpoint));
  return Object.assign(proxy, { url: proxy.via(tableEndpoint) });
}
