/**
 * A TCP fault proxy for 127.0.0.1: put it in front of a real Redis or PostgreSQL and take the store away for
 * real, below the library. Switchable at run time: added latency, a bandwidth limit, refused connections,
 * reset connections, a blackhole (accepts, never answers). `close()` ends every socket and timer.
 *
 *   const proxy = await startFaultProxy({ target: 'redis://127.0.0.1:6379' });
 *   const store = await redisStore(`redis://127.0.0.1:${proxy.port}`);
 *   proxy.set({ latency: '200ms' }); proxy.reset(); proxy.blackhole(); proxy.heal();
 */
import { type AddressInfo, type Server, type Socket, connect, createServer } from 'node:net';
import { type Clock, type TimerHandle, realClock } from '../core/clock.js';
import { type Duration, durationOption } from '../core/duration.js';
import { configError, enumOption, intOption, objectOption, positiveOption, stringOption } from '../core/validate.js';

/** What a {@link FaultProxy} does with connections; see {@link ProxyFaults.mode}. */
export type ProxyMode = 'pass' | 'refuse' | 'reset' | 'blackhole';
const MODES: readonly ProxyMode[] = ['pass', 'refuse', 'reset', 'blackhole'];

/**
 * The faults of a {@link FaultProxy}, for {@link FaultProxy.set}: a field left out keeps its current value,
 * so `set({ latency: '200ms' })` adds latency in whatever mode the proxy is.
 */
export interface ProxyFaults {
  /**
   * `pass` forwards; `refuse` stops listening (new connections are refused by the OS, open ones stay);
   * `reset` resets every open connection and each new one; `blackhole` accepts and never answers (data is
   * swallowed; leaving it resets those connections, whose streams lost bytes).
   */
  mode?: ProxyMode;
  /** Added to every chunk, each direction: a duration (`'200ms'`, `'1s'`, or a number of ms), 0 to 10 minutes. 0: none. */
  latency?: Duration;
  /** Bytes per second per connection and direction (a positive number; 0: unlimited). */
  bandwidth?: number;
}

/** Options of {@link startFaultProxy} (and the {@link FaultProxy} constructor). */
export interface FaultProxyOptions {
  /** `host:port`, a URL (`redis://127.0.0.1:6379`, `postgres://u@127.0.0.1:5432/db`) or `{ host, port }`. */
  target: string | { host: string; port: number };
  /** Port to listen on (127.0.0.1). Default 0: any free port. */
  port?: number;
  /** Timers for latency and bandwidth. Default the real clock. */
  clock?: Clock;
  /** Bytes buffered per direction (delayed or paced chunks) before the sender is paused (at least 1024). Default 1 MiB. */
  maxBuffered?: number;
}

/** Counters of a {@link FaultProxy} since it was created (`proxy.stats`, updated live). */
export interface ProxyStats {
  /** Client connections accepted (including ones reset at once). */
  accepted: number;
  /** Connections the proxy reset: by the `reset` mode, on leaving `blackhole`, or because the target failed. */
  reset: number;
  /** Connections accepted while in `blackhole` mode (never forwarded). */
  blackholed: number;
  /** Bytes received from clients to forward to the target (swallowed bytes not counted). */
  bytesUp: number;
  /** Bytes received from the target to forward to clients. */
  bytesDown: number;
  /** Client connections open now. */
  open: number;
}

const DEFAULT_PORTS: Record<string, number> = { 'redis:': 6379, 'rediss:': 6379, 'postgres:': 5432, 'postgresql:': 5432 };

function parseTarget(t: unknown): { host: string; port: number } {
  if (typeof t === 'object' && t !== null) {
    const o = objectOption('target', t, ['host', 'port']);
    return { host: stringOption('target.host', o.host), port: intOption('target.port', o.port, 1, 65535) };
  }
  const s = stringOption('target', t);
  if (s.includes('://')) {
    let u: URL;
    try {
      u = new URL(s);
    } catch {
      throw configError('target', 'host:port or a URL', s);
    }
    const port = u.port === '' ? DEFAULT_PORTS[u.protocol] : Number(u.port);
    if (port === undefined) throw configError('target', 'a URL with a port', s);
    return { host: u.hostname, port };
  }
  const i = s.lastIndexOf(':');
  if (i <= 0) throw configError('target', 'host:port or a URL', s);
  return { host: s.slice(0, i), port: intOption('target port', Number(s.slice(i + 1)), 1, 65535) };
}

/** One direction of one connection: delays and paces chunks in order, with backpressure. */
class Lane {
  private queue: { chunk: Buffer; at: number }[] = [];
  private queued = 0;
  private timer: TimerHandle | undefined;
  private lastEnd = 0;

  constructor(
    private readonly proxy: FaultProxy,
    private readonly src: Socket,
    private readonly dst: Socket,
    private readonly up: boolean,
  ) {}

  push(chunk: Buffer): void {
    const f = this.proxy.faults;
    if (f.mode === 'blackhole') {
      this.proxy.swallowed(this.src);
      return;
    }
    if (this.up) this.proxy.stats.bytesUp += chunk.length;
    else this.proxy.stats.bytesDown += chunk.length;
    const latency = f.latencyMs;
    const bw = f.bandwidth;
    if (latency === 0 && bw === 0 && this.queue.length === 0) {
      if (!this.dst.write(chunk)) {
        this.src.pause();
        this.dst.once('drain', () => this.src.resume());
      }
      return;
    }
    const now = this.proxy.clock.now();
    const start = Math.max(now + latency, this.lastEnd);
    const at = bw === 0 ? start : start + (chunk.length / bw) * 1000;
    this.lastEnd = at;
    this.queue.push({ chunk, at });
    this.queued += chunk.length;
    if (this.queued > this.proxy.maxBuffered) this.src.pause();
    this.arm();
  }

  private arm(): void {
    if (this.timer !== undefined) return;
    const head = this.queue[0];
    if (head === undefined) return;
    this.timer = this.proxy.clock.setTimer(this.flush, Math.max(0, head.at - this.proxy.clock.now()));
  }

  private readonly flush = (): void => {
    this.timer = undefined;
    const now = this.proxy.clock.now();
    while (this.queue.length > 0 && this.queue[0]!.at <= now) {
      const { chunk } = this.queue.shift()!;
      this.queued -= chunk.length;
      if (!this.dst.destroyed) this.dst.write(chunk);
    }
    if (this.queued <= this.proxy.maxBuffered / 2 && this.src.isPaused()) this.src.resume();
    this.arm();
  };

  dispose(): void {
    if (this.timer !== undefined) this.proxy.clock.clearTimer(this.timer);
    this.timer = undefined;
    this.queue = [];
    this.queued = 0;
  }
}

/**
 * A TCP proxy on 127.0.0.1 whose faults can be switched at run time (see the module comment): point a
 * client at {@link FaultProxy.port} (or {@link FaultProxy.url}) instead of the real server. Create and
 * start one with {@link startFaultProxy}; `close()` it at the end of the test.
 *
 * @example
 * ```ts
 * const proxy = await startFaultProxy({ target: 'postgres://app@127.0.0.1:5432/app' });
 * const url = proxy.url('postgres://app@127.0.0.1:5432/app'); // same URL, the proxy's port
 * await proxy.latency('300ms'); // every chunk 300 ms late, both ways
 * await proxy.refuse(); // new connections refused, open ones kept
 * await proxy.heal();
 * await proxy.close();
 * ```
 */
export class FaultProxy {
  /** Where connections are forwarded. */
  readonly target: { host: string; port: number };
  readonly clock: Clock;
  readonly maxBuffered: number;
  /** @internal */
  faults: { mode: ProxyMode; latencyMs: number; bandwidth: number } = { mode: 'pass', latencyMs: 0, bandwidth: 0 };
  readonly stats: ProxyStats = { accepted: 0, reset: 0, blackholed: 0, bytesUp: 0, bytesDown: 0, open: 0 };
  private server: Server | undefined;
  private readonly conns = new Map<Socket, { upstream: Socket | undefined; lanes: Lane[]; lost: boolean }>();
  private wantPort: number;
  private closed = false;

  constructor(options: FaultProxyOptions) {
    const o = objectOption('faultProxy options', options, ['target', 'port', 'clock', 'maxBuffered']);
    this.target = parseTarget(o.target);
    this.wantPort = o.port === undefined ? 0 : intOption('port', o.port, 0, 65535);
    this.clock = (o.clock as Clock | undefined) ?? realClock;
    this.maxBuffered = o.maxBuffered === undefined ? 1_048_576 : intOption('maxBuffered', o.maxBuffered, 1024);
  }

  /** The port the proxy listens on (127.0.0.1). */
  get port(): number {
    return this.wantPort;
  }

  /** `target` rewritten to go through the proxy: `redis://127.0.0.1:6379/0` → `redis://127.0.0.1:<port>/0`. */
  url(target: string): string {
    const u = new URL(target);
    u.hostname = '127.0.0.1';
    u.port = String(this.port);
    return u.toString();
  }

  /** Starts listening (again, on the same port, after `refuse`). */
  async start(): Promise<void> {
    if (this.closed) throw new Error('The fault proxy is closed');
    if (this.server !== undefined) return;
    const server = createServer((client) => this.accept(client));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.wantPort, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.wantPort = (server.address() as AddressInfo).port;
  }

  /** Changes the faults now (validated first; a bad field changes nothing). */
  set(faults: ProxyFaults): Promise<void> {
    const o = objectOption('faults', faults, ['mode', 'latency', 'bandwidth']);
    const mode = o.mode === undefined ? this.faults.mode : enumOption('faults.mode', o.mode, MODES);
    const latencyMs = o.latency === undefined ? this.faults.latencyMs : durationOption('faults.latency', o.latency, 0, 600_000);
    const bandwidth = o.bandwidth === undefined ? this.faults.bandwidth : o.bandwidth === 0 ? 0 : positiveOption('faults.bandwidth', o.bandwidth);
    const was = this.faults.mode;
    this.faults = { mode, latencyMs, bandwidth };
    if (was === 'blackhole' && mode !== 'blackhole') {
      // their streams lost bytes: nothing sensible can be said on them any more
      for (const [client, c] of this.conns) if (c.lost) this.drop(client, true);
    }
    if (mode === 'reset') for (const client of [...this.conns.keys()]) this.drop(client, true);
    if (mode === 'refuse') return this.stopListening();
    if (was === 'refuse') return this.start();
    return Promise.resolve();
  }

  /**
   * Delays every chunk by `delay`, each direction (`'200ms'` or a number of ms, 0 to 10 minutes; 0 removes
   * it). The mode and bandwidth stay as they are; chunks keep their order.
   */
  latency(delay: Duration): Promise<void> {
    return this.set({ latency: delay });
  }
  /** Limits each connection to `bytesPerSecond` per direction (0 removes the limit); the rest stays. */
  bandwidth(bytesPerSecond: number): Promise<void> {
    return this.set({ bandwidth: bytesPerSecond });
  }
  /**
   * Stops listening: new connections are refused by the OS, open ones keep working. Resolves once the
   * listener is closed; leaving the mode (`heal()`, another mode) listens again on the same port.
   */
  refuse(): Promise<void> {
    return this.set({ mode: 'refuse' });
  }
  /** Resets (RST) every open connection, and each new one as soon as it is accepted, until the mode changes. */
  reset(): Promise<void> {
    return this.set({ mode: 'reset' });
  }
  /**
   * Accepts connections and swallows every byte, answering nothing (a peer that hangs). When the mode
   * changes, the connections that lost bytes are reset (their streams can no longer be trusted).
   */
  blackhole(): Promise<void> {
    return this.set({ mode: 'blackhole' });
  }
  /** Back to forwarding with no latency or bandwidth limit. */
  heal(): Promise<void> {
    return this.set({ mode: 'pass', latency: 0, bandwidth: 0 });
  }

  /** Stops listening and ends every connection and timer. */
  async close(): Promise<void> {
    this.closed = true;
    for (const client of [...this.conns.keys()]) this.drop(client, false);
    await this.stopListening();
  }

  /** @internal A lane swallowed bytes of this connection. */
  swallowed(src: Socket): void {
    for (const [client, c] of this.conns) {
      if (client === src || c.upstream === src) c.lost = true;
    }
  }

  private stopListening(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (s === undefined) return Promise.resolve();
    return new Promise((resolve) => s.close(() => resolve()));
  }

  private accept(client: Socket): void {
    this.stats.accepted++;
    client.on('error', () => this.drop(client, false));
    client.on('close', () => this.drop(client, false));
    if (this.faults.mode === 'reset' || this.closed) {
      this.stats.reset++;
      client.resetAndDestroy();
      return;
    }
    const entry = { upstream: undefined as Socket | undefined, lanes: [] as Lane[], lost: false };
    this.conns.set(client, entry);
    this.stats.open = this.conns.size;
    if (this.faults.mode === 'blackhole') {
      this.stats.blackholed++;
      entry.lost = true;
      client.on('data', () => undefined);
      return;
    }
    const upstream = connect(this.target.port, this.target.host);
    entry.upstream = upstream;
    upstream.on('error', () => this.drop(client, true));
    upstream.on('close', () => this.drop(client, false));
    const up = new Lane(this, client, upstream, true);
    const down = new Lane(this, upstream, client, false);
    entry.lanes.push(up, down);
    client.on('data', (c: Buffer) => up.push(c));
    upstream.on('data', (c: Buffer) => down.push(c));
  }

  private drop(client: Socket, reset: boolean): void {
    const c = this.conns.get(client);
    if (c === undefined) return;
    this.conns.delete(client);
    this.stats.open = this.conns.size;
    for (const l of c.lanes) l.dispose();
    if (reset) {
      this.stats.reset++;
      if (!client.destroyed) client.resetAndDestroy();
      if (c.upstream !== undefined && !c.upstream.destroyed) c.upstream.resetAndDestroy();
    } else {
      client.destroy();
      c.upstream?.destroy();
    }
  }
}

/** Creates and starts a fault proxy. */
export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const p = new FaultProxy(options);
  await p.start();
  return p;
}
