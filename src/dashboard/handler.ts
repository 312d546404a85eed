/**
 * The dashboard as a node:http request listener: the static page (dashboard/ at the package root, uPlot
 * from its package), `GET state.json`, `GET events` (Server-Sent Events) and, with a token, `POST actions/*`.
 *
 * Nothing runs while nobody watches: the handler subscribes to the wall's events and arms its interval timer
 * when the first `events` client connects, and drops both when the last one leaves. The call path is never
 * touched (no hook in Dependency.call).
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Clock, TimerHandle } from '../core/clock.js';
import { durationOption, type Duration } from '../core/duration.js';
import { configError, objectOption, stringOption } from '../core/validate.js';
import type { Wall } from '../wall/wall.js';
import { MAX_ACTION_BYTES, type NoteTimeline, type Refusal, applyAction, checkHead } from './actions.js';
import { type DashboardState, type FleetMember, History, type ReadableTimeline, TimelineTail, wallState } from './state.js';

/** Where the state comes from: a live wall, a timeline file, another dashboard. */
export interface DashboardSource {
  clock: Clock;
  intervalMs: number;
  /**
   * The state to show now (`GET state.json` and each event-stream push). `actions` tells whether the
   * handler offers actions (a token was given and `act` exists), to be copied into
   * {@link DashboardState.actions}. A rejection is pushed to watchers as an `unavailable` event.
   */
  state(actions: boolean): DashboardState | Promise<DashboardState>;
  /** Called while someone watches: `onChange` on every change; returns the unsubscribe. */
  watch?(onChange: () => void): () => void;
  /** Each interval while someone watches (sampling for the sparklines). */
  tick?(): void;
  /** Clears what was kept while watched. */
  idle?(): void;
  /**
   * Runs the action `name` (the path after `actions/`) with the raw JSON body, once the request passed the
   * token and CSRF checks. Returns the JSON answer (status and body), or a refusal answered as
   * problem+json. Without `act` the dashboard is read-only whatever the token.
   */
  act?(name: string, body: Buffer): { status: number; body: Record<string, unknown> } | Refusal;
}

export interface DashboardOptions {
  /** The operator token: without it the page is read-only and every action is refused. */
  token?: string;
  /** The timeline to show (and to write notes to): a `createTimeline` timeline. */
  timeline?: ReadableTimeline & Partial<NoteTimeline>;
  /** How often the page is refreshed while watched. Default 1s. */
  interval?: Duration;
  /**
   * The fleet: every instance's last heartbeat, shown in a Fleet section (`() => fleetState({ pool })` from
   * blastwall/timeline). Asked at each push while watched; a failure shows the fleet as unreadable.
   */
  fleet?: () => Promise<FleetMember[]>;
  /** The path the handler is mounted under in a plain node:http server (`'/ops/dashboard'`); Express strips it itself. */
  prefix?: string;
}

export type DashboardHandler = (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void) => void;

const STATIC_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dashboard');
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
};
const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

/** uPlot's files, from its installed package (the page works without charts when it is missing). */
function vendorFile(name: string): string | undefined {
  try {
    const req = createRequire(import.meta.url);
    const dir = dirname(req.resolve('uplot/package.json'));
    if (name === 'uPlot.esm.js') return join(dir, 'dist', 'uPlot.esm.js');
    if (name === 'uPlot.min.css') return join(dir, 'dist', 'uPlot.min.css');
  } catch {
    return undefined;
  }
  return undefined;
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer, extra: Record<string, string> = {}): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), ...SECURITY_HEADERS, ...extra });
  res.end(body);
}

function problem(res: ServerResponse, r: Refusal, extra: Record<string, string> = {}): void {
  send(res, r.status, 'application/problem+json', JSON.stringify({ status: r.status, code: r.code, title: r.code, detail: r.detail }), { 'cache-control': 'no-store', ...extra });
}

/** Keeps the Server-Sent Events clients; watches the source only while there is at least one. */
class Hub {
  private readonly clients = new Set<ServerResponse>();
  private unwatch: (() => void) | undefined;
  private timer: TimerHandle | undefined;
  private pending: TimerHandle | undefined;
  private pushing = false;

  constructor(
    private readonly source: DashboardSource,
    private readonly actions: boolean,
  ) {}

  get watchers(): number {
    return this.clients.size;
  }

  add(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no', ...SECURITY_HEADERS });
    res.write('retry: 2000\n\n');
    this.clients.add(res);
    const gone = (): void => this.remove(res);
    req.on('close', gone);
    res.on('close', gone);
    res.on('error', gone);
    if (this.clients.size === 1) this.start();
    this.schedule(0);
  }

  private remove(res: ServerResponse): void {
    if (!this.clients.delete(res)) return;
    if (this.clients.size === 0) this.stop();
  }

  private start(): void {
    this.unwatch = this.source.watch?.(() => {
      if (!this.pushing) this.schedule(50);
    });
    this.arm();
  }

  private arm(): void {
    this.timer = this.source.clock.setTimer(this.onTick, this.source.intervalMs);
    this.source.clock.refTimer?.(this.timer, false);
  }

  private readonly onTick = (): void => {
    this.timer = undefined;
    if (this.clients.size === 0) return;
    try {
      this.source.tick?.();
    } catch {
      // a sampling failure leaves a gap in the sparklines, nothing else
    }
    this.schedule(0);
    this.arm();
  };

  /** Coalesces a burst of changes into one push. */
  private schedule(ms: number): void {
    if (this.pending !== undefined) return;
    this.pending = this.source.clock.setTimer(() => {
      this.pending = undefined;
      void this.push();
    }, ms);
    this.source.clock.refTimer?.(this.pending, false);
  }

  private async push(): Promise<void> {
    if (this.clients.size === 0) return;
    let data: string;
    this.pushing = true;
    try {
      data = `event: state\ndata: ${JSON.stringify(await this.source.state(this.actions))}\n\n`;
    } catch {
      data = `event: unavailable\ndata: {}\n\n`;
    } finally {
      this.pushing = false;
    }
    for (const res of this.clients) {
      // a client that does not read is dropped rather than buffered without bound
      if (res.writableLength > 4 * 1024 * 1024) {
        res.destroy();
        this.remove(res);
        continue;
      }
      res.write(data);
    }
  }

  stop(): void {
    this.unwatch?.();
    this.unwatch = undefined;
    if (this.timer !== undefined) this.source.clock.clearTimer(this.timer);
    if (this.pending !== undefined) this.source.clock.clearTimer(this.pending);
    this.timer = undefined;
    this.pending = undefined;
    this.source.idle?.();
  }

  closeAll(): void {
    for (const res of this.clients) res.end();
    this.clients.clear();
    this.stop();
  }
}

/** Reads a small body: at most `max` bytes, within 10 s; undefined when refused (answered already). */
function readSmallBody(req: IncomingMessage, res: ServerResponse, clock: Clock, max: number): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (value: Buffer | undefined): void => {
      if (done) return;
      done = true;
      clock.clearTimer(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      resolve(value);
    };
    const refuse = (r: Refusal): void => {
      problem(res, r, { connection: 'close' });
      req.resume(); // the rest is read and dropped, never buffered
      finish(undefined);
    };
    const onData = (c: Buffer): void => {
      size += c.length;
      if (size > max) refuse({ status: 413, code: 'PAYLOAD_TOO_LARGE', detail: `The body exceeds ${max} bytes.` });
      else chunks.push(c);
    };
    const onEnd = (): void => finish(Buffer.concat(chunks));
    const onError = (): void => finish(undefined);
    const timer = clock.setTimer(() => refuse({ status: 408, code: 'REQUEST_TIMEOUT', detail: 'The body did not arrive in time.' }), 10_000);
    clock.refTimer?.(timer, false);
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

/** A request listener over any source (the wall's, or the CLI's timeline and URL sources). */
export function sourceHandler(source: DashboardSource, options: { token?: string | undefined; prefix?: string | undefined } = {}): DashboardHandler & {
  /** Ends every open event stream and stops watching the source (call it before closing the server). */
  close(): void;
  /** How many event-stream clients are connected now (0: nothing is sampled or pushed). */
  watchers(): number;
} {
  const token = options.token;
  const prefix = options.prefix?.replace(/\/+$/, '') ?? '';
  const hub = new Hub(source, token !== undefined && source.act !== undefined);
  const handler = (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void): void => {
    void handle(req, res).catch((err: unknown) => {
      if (next !== undefined) next(err);
      else if (!res.headersSent) problem(res, { status: 500, code: 'INTERNAL', detail: 'The dashboard failed to answer.' });
      else res.destroy();
    });
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    let path = url.split('?')[0]!;
    if (prefix !== '') {
      if (path === prefix) return void send(res, 308, 'text/plain', '', { location: `${prefix}/` });
      if (!path.startsWith(`${prefix}/`)) return void problem(res, { status: 404, code: 'NOT_FOUND', detail: 'Not found.' });
      path = path.slice(prefix.length);
    }
    const original = (req as { originalUrl?: string }).originalUrl?.split('?')[0];
    if (path === '/' && original !== undefined && !original.endsWith('/')) return void send(res, 308, 'text/plain', '', { location: `${original}/` });
    if (path.startsWith('/actions/')) {
      if (req.method !== 'POST') return void problem(res, { status: 405, code: 'METHOD_NOT_ALLOWED', detail: 'Actions are POST.' }, { allow: 'POST' });
      if (source.act === undefined) return void problem(res, { status: 403, code: 'READ_ONLY', detail: 'This dashboard is read-only.' });
      const refused = checkHead(req.headers, token);
      if (refused !== undefined) {
        req.resume();
        return void problem(res, refused, refused.status === 413 ? { connection: 'close' } : {});
      }
      const body = await readSmallBody(req, res, source.clock, MAX_ACTION_BYTES);
      if (body === undefined) return;
      const r = source.act(path.slice('/actions/'.length), body);
      if ('code' in r) return void problem(res, r);
      return void send(res, r.status, 'application/json', JSON.stringify(r.body), { 'cache-control': 'no-store' });
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return void problem(res, { status: 405, code: 'METHOD_NOT_ALLOWED', detail: 'Only GET here.' }, { allow: 'GET, HEAD' });
    if (path === '/state.json') {
      const state = await source.state(token !== undefined && source.act !== undefined);
      return void send(res, 200, 'application/json', JSON.stringify(state), { 'cache-control': 'no-store' });
    }
    if (path === '/events') return void hub.add(req, res);
    if (path.startsWith('/vendor/')) {
      const file = vendorFile(path.slice('/vendor/'.length));
      if (file === undefined) return void problem(res, { status: 404, code: 'NOT_FOUND', detail: 'Not found.' });
      return void send(res, 200, TYPES[extname(file)] ?? 'application/octet-stream', await readFile(file), { 'cache-control': 'max-age=3600' });
    }
    const rel = path === '/' ? 'index.html' : path.slice(1);
    const file = normalize(join(STATIC_DIR, rel));
    const type = TYPES[extname(file)];
    if (!file.startsWith(STATIC_DIR + sep) || type === undefined || rel.includes('\0')) return void problem(res, { status: 404, code: 'NOT_FOUND', detail: 'Not found.' });
    let content: Buffer;
    try {
      content = await readFile(file);
    } catch {
      return void problem(res, { status: 404, code: 'NOT_FOUND', detail: 'Not found.' });
    }
    send(res, 200, type, content, { 'cache-control': 'no-cache' });
  }

  return Object.assign(handler, { close: () => hub.closeAll(), watchers: () => hub.watchers });
}

/**
 * The dashboard of a live wall, as a node:http request listener (`http.createServer(handler)`, or
 * `app.use('/ops', handler)` in Express). Read-only unless `token` is given. `handler.close()` ends the
 * open event streams (call it before closing the server).
 */
export function dashboardHandler(wall: Wall, options: DashboardOptions = {}): DashboardHandler & {
  /** Ends every open event stream and stops watching the source (call it before closing the server). */
  close(): void;
  /** How many event-stream clients are connected now (0: nothing is sampled or pushed). */
  watchers(): number;
} {
  const o = objectOption('dashboardHandler options', options, ['token', 'timeline', 'interval', 'prefix', 'fleet']);
  const token = o.token === undefined ? undefined : stringOption('token', o.token);
  if (token !== undefined && token.length < 16) throw configError('token', 'a string of at least 16 characters', `${token.length} characters`);
  const timeline = o.timeline as DashboardOptions['timeline'];
  if (timeline !== undefined && (timeline === null || typeof timeline.query !== 'function')) {
    throw configError('timeline', 'a timeline with query() (createTimeline)', timeline);
  }
  if (o.fleet !== undefined && typeof o.fleet !== 'function') throw configError('fleet', 'a function returning the fleet (() => fleetState({ pool }))', o.fleet);
  const fleet = o.fleet as DashboardOptions['fleet'];
  const intervalMs = o.interval === undefined ? 1000 : durationOption('interval', o.interval, 50);
  const history = new History();
  const tail = new TimelineTail();
  const notes = timeline !== undefined && typeof timeline.note === 'function' ? (timeline as NoteTimeline) : undefined;
  const source: DashboardSource = {
    clock: wall.clock,
    intervalMs,
    state: (actions) => wallState(wall, history, tail, timeline, actions, fleet),
    watch: (onChange) => wall.onEvent(onChange),
    tick: () => history.sample(wall),
    idle: () => {
      history.clear();
      tail.clear();
    },
    act: (name, body) => applyAction(name, body, wall, notes),
  };
  return sourceHandler(source, { token, prefix: o.prefix === undefined ? undefined : stringOption('prefix', o.prefix) });
}
