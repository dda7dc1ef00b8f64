/**
 * A TCP proxy that puts faults between the broker and a dependency (dev and test tooling only):
 * in front of Azurite, the Key Vault stand-in or the Entra stand-in (TLS passes through untouched),
 * it can stop listening (connection refused, like a stopped service), hang (accept but never answer),
 * add latency, and come back — in the middle of a test, without disturbing anyone else who talks to the
 * real service directly. Binds 127.0.0.1 only.
 */
import net from 'node:net';

export type FaultMode = 'pass' | 'hang';

export interface FaultyProxy {
  /** The proxy's port: point the client at 127.0.0.1:port (or localhost:port for TLS). */
  port: number;
  /** Rewrites a URL of the upstream service to go through the proxy. */
  via(url: string): string;
  /** Stops listening and drops every connection: clients get ECONNREFUSED (a stopped service). */
  down(): Promise<void>;
  /** Listens again on the same port, passing traffic. */
  up(): Promise<void>;
  /** Accepts connections but never forwards them (a hung service); live connections are dropped. */
  hang(): void;
  /** Passes traffic again (after hang or delay). */
  pass(): void;
  /** Adds this many milliseconds before each connection is forwarded and to each chunk upstream sends. */
  delay(ms: number): void;
  /**
   * Plain HTTP only: the next `times` requests whose head matches `head` reach the service, but their
   * answers are lost (the client's connection is dropped once the service answered), like a network
   * that fails after a write was applied.
   */
  loseAnswers(head: RegExp, times?: number): void;
  /** Connections accepted so far (to count round trips through the proxy). */
  readonly connections: number;
  close(): Promise<void>;
}

export async function startFaultyProxy(
  upstreamPort: number,
  upstreamHost = '127.0.0.1',
): Promise<FaultyProxy> {
  let mode: FaultMode = 'pass';
  let delayMs = 0;
  let connections = 0;
  let lose: { head: RegExp; left: number } | undefined;
  const live = new Set<net.Socket>();
  const wait = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

  const track = (s: net.Socket) => {
    live.add(s);
    s.once('close', () => live.delete(s));
    s.on('error', () => s.destroy());
  };
  const dropAll = () => {
    for (const s of live) s.destroy();
    live.clear();
  };

  const server = net.createServer((client) => {
    connections += 1;
    track(client);
    if (mode === 'hang') return; // held open, never answered
    client.pause();
    const connect = async () => {
      if (delayMs > 0) await wait(delayMs);
      if (client.destroyed) return;
      const upstream = net.connect(upstreamPort, upstreamHost);
      track(upstream);
      upstream.once('close', () => client.destroy());
      client.once('close', () => upstream.destroy());
      let losing = false;
      client.on('data', (chunk: Buffer) => {
        if (lose && lose.left > 0 && lose.head.test(chunk.toString('latin1'))) {
          lose.left -= 1;
          losing = true;
        }
        upstream.write(chunk);
      });
      client.once('end', () => upstream.end());
      // Latency on the way back, chunks kept in order.
      let chain = Promise.resolve();
      upstream.on('data', (chunk: Buffer) => {
        if (losing) {
          client.destroy();
          return;
        }
        if (delayMs <= 0) {
          client.write(chunk);
          return;
        }
        upstream.pause();
        chain = chain.then(async () => {
          await wait(delayMs);
          if (!client.destroyed) client.write(chunk);
          upstream.resume();
        });
      });
      client.resume();
    };
    void connect();
  });

  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  await listen(0);
  const port = (server.address() as net.AddressInfo).port;
  const stopListening = () =>
    new Promise<void>((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
      dropAll();
    });

  return {
    port,
    via(url) {
      const u = new URL(url);
      u.port = String(port);
      return u.href.replace(/\/$/, url.endsWith('/') ? '/' : '');
    },
    down: stopListening,
    async up() {
      mode = 'pass';
      delayMs = 0;
      if (!server.listening) await listen(port);
    },
    hang() {
      mode = 'hang';
      dropAll();
    },
    pass() {
      mode = 'pass';
      delayMs = 0;
    },
    delay(ms) {
      delayMs = ms;
    },
    loseAnswers(head, times = Number.POSITIVE_INFINITY) {
      lose = { head, left: times };
    },
    get connections() {
      return connections;
    },
    close: stopListening,
  };
}
