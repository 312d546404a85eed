import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { realClock } from '../core/clock.js';
import { type Duration } from '../core/duration.js';
import { BlastwallError } from '../core/errors.js';
import { boolOption, configError, enumOption, isPlainObject, objectOption, stringOption } from '../core/validate.js';
import { AdmissionController, type AdmissionOptions, type Ticket } from '../degrade/admission.js';
import { PRIORITIES, type Priority } from '../wall/context.js';
import type { Operation, Wall } from '../wall/wall.js';
import { DEADLINE_HEADER, OVERLOADED_HEADER, PRIORITY_HEADER, parseDeadlineHeader } from './headers.js';

/** How one route is run: which operation it is, its priority class and its own deadline. */
export interface RouteSpec {
  /** Operation name (default: the route key, e.g. `GET /users/:id`). */
  operation?: string;
  priority?: Priority;
  deadline?: Duration;
}

export interface HttpGuardOptions {
  /**
   * Routes by `"METHOD /path/:param"` (or `"/path"` for any method). Requests matching none run as
   * `defaultOperation`. Fastify route `config.blastwall` works too.
   */
  routes?: Record<string, RouteSpec>;
  /** Operation for requests that match no route. Default `'http'` (priority `sheddable-plus`). */
  defaultOperation?: string | RouteSpec;
  /** Admission control options, a shared controller, or `false` for none. Default adaptive. */
  admission?: AdmissionOptions | AdmissionController | false;
  /** Read the priority from the `Blastwall-Priority` header (only behind a trusted gateway). Default false. */
  trustPriorityHeader?: boolean;
  /** Path answering health JSON (`false`: none). Default `/healthz`. */
  healthPath?: string | false;
  /** Path answering Prometheus text (`false`: none). Default `/metrics`. */
  metricsPath?: string | false;
  /** Feed event-loop delay to admission control (measured with `monitorEventLoopDelay`). Default true. */
  eventLoopDelay?: boolean;
}

/** What an adapter needs to know about one request. */
export interface InboundRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  header(name: string): string | undefined;
  /** A route the framework already resolved (Fastify route config). */
  route?: { key: string; spec?: RouteSpec | undefined };
}

/** An answer the adapter writes as is. */
export interface GuardResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface Admitted {
  readonly operation: Operation;
  readonly priority: Priority;
  /** Remaining milliseconds granted by the caller after queueing, if it sent a deadline. */
  readonly deadlineMs: number | undefined;
  /** Runs the handler inside the operation (deadline, context); releases the admission slot when it settles. */
  run<T>(fn: () => T | Promise<T>): Promise<T>;
}

export type Entry = { kind: 'respond'; response: GuardResponse } | { kind: 'admit'; admitted: Admitted };

interface CompiledRoute {
  key: string;
  method: string | undefined;
  pattern: RegExp;
  spec: RouteSpec;
}

const JSON_TYPE = 'application/json; charset=utf-8';

function compileRoute(key: string, spec: RouteSpec): CompiledRoute {
  const m = /^(?:([A-Z]+)\s+)?(\/\S*)$/.exec(key);
  if (m === null) throw configError(`routes['${key}']`, 'a key like "GET /users/:id" or "/healthz"', key);
  const path = m[2]!;
  const re = path
    .split('/')
    .map((seg) => (seg.startsWith(':') ? '[^/]+' : seg === '*' ? '.*' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return { key, method: m[1], pattern: new RegExp(`^${re}/?$`), spec: routeSpec(`routes['${key}']`, spec) };
}

function routeSpec(field: string, spec: unknown): RouteSpec {
  const o = objectOption(field, spec, ['operation', 'priority', 'deadline']);
  const out: RouteSpec = {};
  if (o.operation !== undefined) out.operation = stringOption(`${field}.operation`, o.operation);
  if (o.priority !== undefined) out.priority = enumOption(`${field}.priority`, o.priority, PRIORITIES);
  if (o.deadline !== undefined) out.deadline = o.deadline as Duration;
  return out;
}

/** HTTP status for an error raised while handling a request. */
export function statusFor(err: unknown): number {
  if (!(err instanceof BlastwallError)) return 500;
  switch (err.code) {
    case 'DEADLINE_EXCEEDED':
    case 'TIMEOUT':
      return 504;
    case 'SHED':
    case 'THROTTLED':
    case 'RETRY_BUDGET_EXHAUSTED':
    case 'CIRCUIT_OPEN':
    case 'BULKHEAD_FULL':
    case 'QUEUE_FULL':
    case 'QUEUE_TIMEOUT':
    case 'READ_ONLY':
    case 'DEPENDENCY_FAILED':
    case 'CLOSED':
      return 503;
    case 'CONFIG_INVALID':
    case 'PAYLOAD_TOO_LARGE':
      return 400;
    default:
      return 502;
  }
}

/**
 * The answer for an error: a status, `Retry-After` when known, and `Blastwall-Overloaded: 1` when the
 * error is not retryable (shed, throttled, budget exhausted, breaker open, deadline gone) or came out of a
 * wall dependency (whose retry policy already ran here), so callers above stop retrying — retries happen
 * at one layer only.
 */
export function errorResponse(err: unknown): GuardResponse {
  const status = statusFor(err);
  const headers: Record<string, string> = { 'content-type': JSON_TYPE };
  let body: Record<string, unknown> = { error: 'INTERNAL', message: 'Internal error' };
  if (err instanceof BlastwallError) {
    body = { error: err.code, message: err.message };
    // not retryable, or a dependency error (its retries already happened at this layer): callers above must not retry
    if (!err.retryable || err.dependency !== undefined) headers[OVERLOADED_HEADER] = '1';
    const after = err.retryAfterMs ?? (err.code === 'SHED' ? 1000 : undefined);
    if (after !== undefined && status === 503) headers['retry-after'] = String(Math.max(1, Math.ceil(after / 1000)));
  }
  return { status, headers, body: JSON.stringify(body) };
}

function bad(message: string): Entry {
  return { kind: 'respond', response: { status: 400, headers: { 'content-type': JSON_TYPE }, body: JSON.stringify({ error: 'BAD_REQUEST', message }) } };
}

/**
 * Framework-neutral inbound guard: health and metrics endpoints, route → operation, priority, the
 * caller's deadline, and admission control. The node:http, Express, Fastify and Hono adapters are thin
 * shells around `enter()`.
 */
export class HttpGuard {
  readonly admission: AdmissionController | undefined;
  private readonly ownsAdmission: boolean;
  private readonly routes: CompiledRoute[];
  private readonly fallback: RouteSpec & { operation: string };
  private readonly trustPriority: boolean;
  readonly healthPath: string | false;
  readonly metricsPath: string | false;
  private readonly histogram: IntervalHistogram | undefined;
  private readonly ops = new Map<string, Operation>();
  private lastLoopReset = 0;

  constructor(
    readonly wall: Wall,
    options: HttpGuardOptions = {},
  ) {
    const o = objectOption('http', options, ['routes', 'defaultOperation', 'admission', 'trustPriorityHeader', 'healthPath', 'metricsPath', 'eventLoopDelay']);
    if (o.routes !== undefined && !isPlainObject(o.routes)) throw configError('http.routes', 'an object of "METHOD /path" → { operation?, priority?, deadline? }', o.routes);
    const routes = (o.routes ?? {}) as Record<string, unknown>;
    this.routes = Object.entries(routes).map(([k, v]) => compileRoute(k, v as RouteSpec));
    const d = o.defaultOperation;
    this.fallback =
      d === undefined
        ? { operation: 'http', priority: 'sheddable-plus' }
        : typeof d === 'string'
          ? { operation: stringOption('http.defaultOperation', d) }
          : { operation: 'http', ...routeSpec('http.defaultOperation', d) };
    this.trustPriority = o.trustPriorityHeader === undefined ? false : boolOption('http.trustPriorityHeader', o.trustPriorityHeader);
    this.healthPath = o.healthPath === undefined ? '/healthz' : o.healthPath === false ? false : stringOption('http.healthPath', o.healthPath, /^\//);
    this.metricsPath = o.metricsPath === undefined ? '/metrics' : o.metricsPath === false ? false : stringOption('http.metricsPath', o.metricsPath, /^\//);
    const loop = o.eventLoopDelay === undefined ? true : boolOption('http.eventLoopDelay', o.eventLoopDelay);
    if (o.admission instanceof AdmissionController) {
      this.admission = o.admission;
      this.ownsAdmission = false;
    } else if (o.admission === false) {
      this.ownsAdmission = false;
    } else {
      if (o.admission !== undefined && !isPlainObject(o.admission)) throw configError('http.admission', 'admission options, an AdmissionController or false', o.admission);
      const a = (o.admission ?? {}) as AdmissionOptions;
      if (loop && a.eventLoopDelay === undefined) {
        this.histogram = monitorEventLoopDelay({ resolution: 10 });
        this.histogram.enable();
      }
      this.admission = new AdmissionController(this.histogram === undefined ? a : { ...a, eventLoopDelay: () => this.loopDelayMs() });
      this.ownsAdmission = true;
    }
    // declare route operations now so bad specs fail at construction
    for (const r of this.routes) this.operationFor(r.key, r.spec);
    this.operationFor(this.fallback.operation, this.fallback);
  }

  /** p99 event-loop delay (ms) over roughly the last second. */
  private loopDelayMs(): number {
    const h = this.histogram!;
    const v = h.count > 0 ? h.percentile(99) / 1e6 : 0;
    const now = realClock.now();
    if (now - this.lastLoopReset > 1000) {
      this.lastLoopReset = now;
      h.reset();
    }
    return v;
  }

  private operationFor(key: string, spec: RouteSpec | undefined): Operation {
    const name = spec?.operation ?? key;
    let op = this.ops.get(name);
    if (op !== undefined) return op;
    op = this.wall.operations().find((x) => x.name === name);
    if (op === undefined) {
      const s: { priority?: Priority; deadline?: Duration } = {};
      if (spec?.priority !== undefined) s.priority = spec.priority;
      if (spec?.deadline !== undefined) s.deadline = spec.deadline;
      op = this.wall.operation(name, s);
    }
    this.ops.set(name, op);
    return op;
  }

  /** The route a method and path match, if any. */
  match(method: string, path: string): CompiledRoute | undefined {
    for (const r of this.routes) if ((r.method === undefined || r.method === method) && r.pattern.test(path)) return r;
    return undefined;
  }

  /** Health JSON with 200 for ok/degraded and 503 for unavailable. */
  healthResponse(): GuardResponse {
    const h = this.wall.health();
    const body: Record<string, unknown> = { ...h };
    if (this.admission !== undefined) body.admission = this.admission.snapshot();
    return { status: h.status === 'unavailable' ? 503 : 200, headers: { 'content-type': JSON_TYPE, 'cache-control': 'no-store' }, body: JSON.stringify(body) };
  }

  /** Prometheus text; 404 when the wall's Prometheus telemetry is off. */
  async metricsResponse(): Promise<GuardResponse> {
    try {
      return { status: 200, headers: { 'content-type': this.wall.metricsContentType }, body: await this.wall.metrics() };
    } catch (err) {
      if (!(err instanceof BlastwallError)) throw err;
      return { status: 404, headers: { 'content-type': JSON_TYPE }, body: JSON.stringify({ error: err.code, message: err.message }) };
    }
  }

  /**
   * Decides what to do with one request: answer it here (health, metrics, a bad header, shed) or
   * admit it, returning a runner that executes the handler inside its operation.
   */
  async enter(req: InboundRequest): Promise<Entry> {
    if (req.method === 'GET' || req.method === 'HEAD') {
      if (req.path === this.healthPath) return { kind: 'respond', response: this.healthResponse() };
      if (req.path === this.metricsPath) return { kind: 'respond', response: await this.metricsResponse() };
    }
    let key: string;
    let spec: RouteSpec | undefined;
    if (req.route !== undefined) {
      key = req.route.key;
      spec = req.route.spec ?? (this.fallback.priority === undefined ? undefined : { priority: this.fallback.priority });
    } else {
      const r = this.match(req.method, req.path);
      key = r?.key ?? this.fallback.operation;
      spec = r?.spec ?? this.fallback;
    }
    let operation: Operation;
    try {
      operation = this.operationFor(key, spec);
    } catch (err) {
      return { kind: 'respond', response: errorResponse(err) };
    }
    let priority = spec?.priority ?? operation.priority;
    if (this.trustPriority) {
      const h = req.header(PRIORITY_HEADER);
      if (h !== undefined) {
        const p = h.trim() as Priority;
        if (!PRIORITIES.includes(p)) return bad(`${PRIORITY_HEADER} must be one of ${PRIORITIES.join(', ')}`);
        priority = p;
      }
    }
    const deadline = parseDeadlineHeader(req.header(DEADLINE_HEADER));
    if (deadline === null) return bad(`${DEADLINE_HEADER} must be a non-negative number of milliseconds`);
    if (deadline === 0) {
      return { kind: 'respond', response: errorResponse(new BlastwallError('DEADLINE_EXCEEDED', 'The caller granted no time; not started')) };
    }
    let ticket: Ticket | undefined;
    if (this.admission !== undefined) {
      try {
        ticket = await this.admission.admit(priority);
      } catch (err) {
        if (err instanceof BlastwallError && err.code === 'SHED') operation.counts.shed++;
        return { kind: 'respond', response: errorResponse(err) };
      }
    }
    const deadlineMs = deadline === undefined ? undefined : deadline - (ticket?.queuedMs ?? 0);
    const t = ticket;
    let used = false;
    return {
      kind: 'admit',
      admitted: {
        operation,
        priority,
        deadlineMs,
        run<T>(fn: () => T | Promise<T>): Promise<T> {
          if (used) return Promise.reject(new BlastwallError('CONFIG_INVALID', 'Admitted.run() called twice'));
          used = true;
          const p = operation.run(fn, deadlineMs === undefined ? { priority } : { deadlineMs, priority });
          if (t === undefined) return p;
          return p.then(
            (v) => {
              t.release(true);
              return v;
            },
            (e: unknown) => {
              t.release(false);
              throw e;
            },
          );
        },
      },
    };
  }

  /** Stops the event-loop monitor and, when the guard created it, the admission controller. */
  close(): void {
    this.histogram?.disable();
    if (this.ownsAdmission) this.admission?.close();
  }
}
