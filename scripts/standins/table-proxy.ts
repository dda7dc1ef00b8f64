/**
 * A counting TCP proxy in front of Azurite's table endpoint (dev, test and bench tooling only).
 *
 * It reads the HTTP/1.1 messages on each connection (keep-alive connections carry many requests;
 * bodies by Content-Length or chunked) and records, per request, the moment its first byte reached
 * the proxy and the moment the last byte of its response left it. From those intervals a leg gets:
 *   - `requests`: how many Table requests it made;
 *   - `rounds`: its sequential round trips, the longest chain of requests that did not overlap in time
 *     (requests run together count once; one after another count each).
 * `rttMs` adds a delay to every request (its bytes are held that long before they go on to Azurite),
 * once per request: the extra round-trip time of a storage account further away.
 * Paths are recorded without the query string, for diagnostics.
 */
import net from 'node:net';

export interface TableRequestRecord {
  method: string;
  /** Path without query, e.g. /devstoreaccount1/Users(PartitionKey='user',RowKey='alice') */
  path: string;
  status: number;
  start: number;
  end: number;
}

export interface LegStats {
  requests: number;
  rounds: number;
  /** `METHOD /path` (no query) of each request, in start order. */
  lines: string[];
  /** The same requests with their times in ms from the first one's start (diagnostics). */
  timeline: string[];
}

export interface TableProxy {
  /** Table endpoint through the proxy, e.g. http://127.0.0.1:PORT/devstoreaccount1 */
  endpoint: string;
  port: number;
  /** Requests completed (or still open) since the last reset; `origin` (performance.now() in this
   * process) is the timeline's zero, the first request's start by default. */
  snapshot(origin?: number): LegStats;
  reset(): void;
  /** Resolves once no request has been open for `quietMs` (background writes settle). */
  idle(quietMs?: number, timeoutMs?: number): Promise<void>;
  rttMs: number;
  /** Requests seen since the proxy started (never reset). */
  readonly total: number;
  close(): Promise<void>;
}

/** The longest chain of pairwise non-overlapping intervals (greedy by end time is optimal). */
export function sequentialRounds(intervals: { start: number; end: number }[]): number {
  const sorted = [...intervals].sort((a, b) => a.end - b.end);
  let rounds = 0;
  let lastEnd = Number.NEGATIVE_INFINITY;
  for (const i of sorted) {
    if (i.start >= lastEnd) {
      rounds++;
      lastEnd = i.end;
    }
  }
  return rounds;
}

type Framing =
  | { kind: 'head' }
  | { kind: 'length'; remaining: number }
  | { kind: 'chunk-size' }
  | { kind: 'chunk-data'; remaining: number }
  | { kind: 'trailer' }
  | { kind: 'until-close' };

interface Head {
  firstLine: string;
  headers: Map<string, string>;
}

/**
 * Splits one direction of an HTTP/1.1 connection into messages. `bodyless(head)` says whether a
 * message has no body whatever its headers (responses to HEAD, 1xx, 204, 304).
 */
class MessageParser {
  private buf: Buffer = Buffer.alloc(0);
  private state: Framing = { kind: 'head' };

  constructor(
    private readonly onHead: (head: Head) => { bodyless: boolean },
    private readonly onEnd: () => void,
  ) {}

  push(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    for (;;) {
      const s = this.state;
      if (s.kind === 'head') {
        const at = this.buf.indexOf('\r\n\r\n');
        if (at < 0) return;
        const text = this.buf.subarray(0, at).toString('latin1');
        this.buf = this.buf.subarray(at + 4);
        const [firstLine = '', ...rest] = text.split('\r\n');
        const headers = new Map<string, string>();
        for (const line of rest) {
          const i = line.indexOf(':');
          if (i > 0) headers.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
        }
        const { bodyless } = this.onHead({ firstLine, headers });
        const te = headers.get('transfer-encoding') ?? '';
        const length = headers.get('content-length');
        if (bodyless) this.finish();
        else if (/chunked/i.test(te)) this.state = { kind: 'chunk-size' };
        else if (length !== undefined) {
          const n = Number.parseInt(length, 10);
          if (n > 0) this.state = { kind: 'length', remaining: n };
          else this.finish();
        } else if (/^HTTP\//.test(firstLine)) this.state = { kind: 'until-close' };
        else this.finish(); // a request without a length has no body
        continue;
      }
      if (s.kind === 'length') {
        if (this.buf.length === 0) return;
        const take = Math.min(s.remaining, this.buf.length);
        this.buf = this.buf.subarray(take);
        s.remaining -= take;
        if (s.remaining === 0) this.finish();
        continue;
      }
      if (s.kind === 'chunk-size') {
        const at = this.buf.indexOf('\r\n');
        if (at < 0) return;
        const size = Number.parseInt(this.buf.subarray(0, at).toString('latin1').split(';')[0] ?? '', 16);
        this.buf = this.buf.subarray(at + 2);
        this.state = size > 0 ? { kind: 'chunk-data', remaining: size + 2 } : { kind: 'trailer' };
        continue;
      }
      if (s.kind === 'chunk-data') {
        if (this.buf.length === 0) return;
        const take = Math.min(s.remaining, this.buf.length);
        this.buf = this.buf.subarray(take);
        s.remaining -= take;
        if (s.remaining === 0) this.state = { kind: 'chunk-size' };
        continue;
      }
      if (s.kind === 'trailer') {
        const at = this.buf.indexOf('\r\n');
        if (at < 0) return;
        const empty = at === 0;
        this.buf = this.buf.subarray(at + 2);
        if (empty) this.finish();
        continue;
      }
      // until-close: everything belongs to this message
      this.buf = Buffer.alloc(0);
      return;
    }
  }

  /** The connection closed: a message read until close ends here. */
  close(): void {
    if (this.state.kind === 'until-close') this.finish();
  }

  private finish(): void {
    this.state = { kind: 'head' };
    this.onEnd();
  }
}

/** Below Azurite's keep-alive timeout (Node's default, 5 s): a connection idle this long is replaced. */
const UPSTREAM_IDLE_MS = 1000;

export async function startTableProxy(opts: {
  /** Azurite's table endpoint, e.g. http://127.0.0.1:10002/devstoreaccount1 */
  target: string;
  rttMs?: number;
}): Promise<TableProxy> {
  const target = new URL(opts.target);
  const targetPort = Number(target.port);
  const targetHost = target.hostname;
  let records: TableRequestRecord[] = [];
  let open = 0;
  let total = 0;
  let lastActivity = performance.now();
  const sockets = new Set<net.Socket>();
  const state = { rttMs: opts.rttMs ?? 0 };

  const server = net.createServer((client) => {
    sockets.add(client);
    client.setNoDelay(true);
    // Requests on this connection whose responses have not ended yet, oldest first.
    const pending: TableRequestRecord[] = [];
    // Azurite closes a keep-alive connection after a few idle seconds. A request sent just then is
    // lost and the SDK sends it again (one request counted twice), so the proxy never reuses a
    // connection to Azurite that has been idle for UPSTREAM_IDLE_MS: it opens a new one, and the
    // client's connection to the proxy stays as it is.
    let upstream: net.Socket | undefined;
    let idleSince: number | undefined;
    const toAzurite = (): net.Socket => {
      if (upstream && !upstream.destroyed) {
        if (idleSince === undefined || performance.now() - idleSince < UPSTREAM_IDLE_MS) {
          idleSince = undefined;
          return upstream;
        }
        const stale = upstream;
        upstream = undefined;
        stale.destroy();
      }
      idleSince = undefined;
      const u = net.connect(targetPort, targetHost);
      upstream = u;
      sockets.add(u);
      u.setNoDelay(true);
      u.on('data', (data: Buffer) => {
        client.write(data);
        responses.push(data);
      });
      u.on('close', () => {
        sockets.delete(u);
        if (upstream !== u) return; // replaced on purpose
        upstream = undefined;
        responses.close();
        if (pending.length > 0) end(); // answers lost with it: the client's connection ends too
      });
      u.on('error', () => {});
      return u;
    };

    const requests = new MessageParser(
      ({ firstLine }) => {
        const [method = '?', target = ''] = firstLine.split(' ');
        const record: TableRequestRecord = {
          method,
          path: target.split('?')[0] ?? '',
          status: 0,
          start: performance.now(),
          end: Number.NaN,
        };
        records.push(record);
        pending.push(record);
        open++;
        total++;
        lastActivity = performance.now();
        return { bodyless: false };
      },
      () => {},
    );
    const responses = new MessageParser(
      ({ firstLine }) => {
        const record = pending[0];
        const status = Number(firstLine.split(' ')[1] ?? 0);
        if (record) record.status = status;
        return { bodyless: record?.method === 'HEAD' || status < 200 || status === 204 || status === 304 };
      },
      () => {
        const record = pending.shift();
        if (record && record.status >= 200) {
          record.end = performance.now();
          open--;
          lastActivity = performance.now();
          if (pending.length === 0) idleSince = performance.now();
        } else if (record) pending.unshift(record); // 1xx interim response: the request goes on
      },
    );

    // Client → Azurite, each piece held rttMs (order kept: one queue per connection).
    const queue: { due: number; data: Buffer }[] = [];
    let timer: NodeJS.Timeout | undefined;
    const drain = () => {
      timer = undefined;
      const now = performance.now();
      while (queue.length && (queue[0] as { due: number }).due <= now) {
        toAzurite().write((queue.shift() as { data: Buffer }).data);
      }
      if (queue.length) timer = setTimeout(drain, (queue[0] as { due: number }).due - now);
    };
    client.on('data', (data: Buffer) => {
      requests.push(data);
      if (state.rttMs <= 0 && queue.length === 0) {
        toAzurite().write(data);
        return;
      }
      queue.push({ due: performance.now() + state.rttMs, data });
      timer ??= setTimeout(drain, state.rttMs);
    });
    const end = () => {
      if (timer) clearTimeout(timer);
      responses.close();
      // Requests left without a response end with the connection (counted, not left open).
      for (const r of pending.splice(0)) {
        r.end = performance.now();
        open--;
      }
      lastActivity = performance.now();
      client.destroy();
      upstream?.destroy();
      sockets.delete(client);
      if (upstream) sockets.delete(upstream);
    };
    client.on('close', end);
    client.on('error', () => {});
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as net.AddressInfo).port;

  return {
    endpoint: `http://127.0.0.1:${port}${target.pathname.replace(/\/$/, '')}`,
    port,
    get total() {
      return total;
    },
    get rttMs() {
      return state.rttMs;
    },
    set rttMs(value: number) {
      state.rttMs = value;
    },
    snapshot(origin?: number) {
      const now = performance.now();
      const sorted = [...records].sort((a, b) => a.start - b.start);
      const zero = origin ?? sorted[0]?.start ?? 0;
      return {
        requests: sorted.length,
        rounds: sequentialRounds(
          sorted.map((r) => ({ start: r.start, end: Number.isNaN(r.end) ? now : r.end })),
        ),
        lines: sorted.map((r) => `${r.method} ${decodeURIComponent(r.path)}`),
        timeline: sorted.map(
          (r) =>
            `+${(r.start - zero).toFixed(1)}..+${((Number.isNaN(r.end) ? now : r.end) - zero).toFixed(1)} ms ${r.method} ${decodeURIComponent(r.path).replace(/^\/[^/]+\//, '')} ${r.status || 'no answer'}`,
        ),
      };
    },
    reset() {
      records = [];
    },
    async idle(quietMs = 30, timeoutMs = 5000) {
      const deadline = performance.now() + timeoutMs;
      for (;;) {
        const now = performance.now();
        if (open === 0 && now - lastActivity >= quietMs) return;
        if (now > deadline) throw new Error(`table proxy: ${open} requests still open after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, Math.max(5, quietMs / 3)));
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
