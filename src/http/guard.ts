import { topologyDocument } from '../wall/topology-document.js';
import { type Clock } from '../core/clock.js';
import { durationOption, type Duration } from '../core/duration.js';
import { BlastwallError } from '../core/errors.js';
import { boolOption, configError, fnOption, intOption, isPlainObject, objectOption, stringOption } from '../core/validate.js';
import { AdmissionController, type AdmissionOptions, type Ticket } from '../degrade/admission.js';
import { PRIORITIES, type Priority } from '../wall/context.js';
import type { Operation, Wall } from '../wall/wall.js';
import type { BodyLimits } from './body.js';
import { type CompiledRoute, compileRoute, routeSpec } from './routes.js';
import { DEADLINE_HEADER, PRIORITY_HEADER, parseDeadlineHeader } from './headers.js';
import { clientProblem, defaultReporter, errorResponse, type ErrorReporter, type GuardResponse, requestIdOf } from './problem.js';

export type { GuardResponse } from './problem.js';

/** How one route is run: which operation it is, its priority class and its own deadline. */
export interface RouteSpec {
  /** Operation name (default: the route key, e.g. `GET /users/:id`). */
  operation?: string;
  priority?: Priority;
  deadline?: Duration;
  /** Largest request body for this route (bytes; default the guard's `maxBodyBytes`). */
  maxBodyBytes?: number;
}

/** Options of {@link HttpGuard} (and of the adapters that create one, such as `nodeHandler`). */
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
  /**
   * Path answering the wall's topology document (`blastwall.topology/v1`, read by `blastwall audit --url`).
   * Off by default (it describes the service's dependencies and boundaries); e.g. `'/blastwall/topology'`.
   */
  topologyPath?: string | false;
  /** Let admission control measure the event loop (utilisation and delay over each 100 ms window). Default true. */
  eventLoopDelay?: boolean;
  /** Largest request body (bytes) received before admission; larger → 413. Default 1 MiB. */
  maxBodyBytes?: number;
  /**
   * Longest a request body may take to arrive when neither the route nor the caller set a deadline
   * (the smallest of the three applies); slower → 408. Default 30s.
   */
  bodyTimeout?: Duration;
  /** Receives every error answered 5xx, with the request id the client sees (default: 500s to stderr). */
  onError?: ErrorReporter;
}

/** What an adapter needs to know about one request. */
export interface InboundRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  /**
   * Reads a request header by its lower-case name (the guard asks for `x-request-id`,
   * `blastwall-priority` and `blastwall-deadline-ms`); undefined when absent. Repeated headers may be
   * joined with a comma.
   */
  header(name: string): string | undefined;
  /** A route the framework already resolved (Fastify route config). */
  route?: { key: string; spec?: RouteSpec | undefined };
}

/**
 * A request that holds an admission slot: call `run` exactly once with the handler; the slot is released
 * when the handler settles.
 */
export interface Admitted {
  readonly operation: Operation;
  readonly priority: Priority;
  /** Remaining milliseconds of the request's deadline after its body and its admission wait, if it has one. */
  readonly deadlineMs: number | undefined;
  /** Runs the handler inside the operation (deadline, context); releases the admission slot when it settles. */
  run<T>(fn: () => T | Promise<T>): Promise<T>;
}

/**
 * `Routed.admit()`'s answer: `respond` with `response` (a problem+json refusal: 503 when shed or the
 * queue is full, 504 when the deadline ran out while waiting), or `admit`: run the handler through
 * `admitted.run`.
 */
export type Entry = { kind: 'respond'; response: GuardResponse } | { kind: 'admit'; admitted: Admitted };

/** A request mapped to its operation, before its body arrived and before admission. */
export interface Routed {
  readonly operation: Operation;
  readonly priority: Priority;
  /** The id an error answer and its report carry (the caller's `X-Request-Id`, else generated on first use). */
  readonly requestId: string;
  /** How large and how slow the body may be (the deadline counts from arrival). */
  readonly body: BodyLimits;
  /** Takes an admission slot (or queues, or sheds). Call once the body has arrived. */
  admit(): Promise<Entry>;
  /**
   * `admit()` without a promise when the answer is known at once (admitted now, or refused now), so an
   * adapter answers a refusal in the same turn; a promise when the request waits in the admission queue.
   * Call one of the two, once.
   */
  admitNow(): Entry | Promise<Entry>;
}

/** `route()`'s answer: respond here (metrics are read asynchronously), or a routed request. */
export type Routing = { kind: 'respond'; response: GuardResponse | Promise<GuardResponse> } | { kind: 'route'; routed: Routed };

const JSON_TYPE = 'application/json; charset=utf-8';
const MAX_TIMER_MS = 2_147_483_647;

/** The `admit` entry: the handler runs inside the operation and releases the admission ticket when it settles. */
function admittedEntry(operation: Operation, priority: Priority, deadlineMs: number | undefined, t: Ticket | undefined): Entry {
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

function bad(message: string): Routing {
  return { kind: 'respond', response: clientProblem(400, 'BAD_REQUEST', 'Bad request', message) };
}

/**
 * Framework-neutral inbound guard: health and metrics endpoints, route → operation, priority, the
 * caller's deadline, the body's limits, and admission control. The node:http, Express, Fastify and Hono
 * adapters are thin shells around `route()` → receive the body → `admit()`: a request takes an
 * admission slot only once its body has arrived, so a slow upload holds a socket, never a slot.
 */
export class HttpGuard {
  readonly admission: AdmissionController | undefined;
  private readonly ownsAdmission: boolean;
  private readonly routes: CompiledRoute[];
  private readonly fallback: RouteSpec & { operation: string };
  private readonly trustPriority: boolean;
  readonly healthPath: string | false;
  readonly metricsPath: string | false;
  readonly topologyPath: string | false;
  readonly maxBodyBytes: number;
  readonly bodyTimeoutMs: number;
  readonly onError: ErrorReporter;
  private readonly clock: Clock;
  private readonly ops = new Map<string, Operation>();

  constructor(
    readonly wall: Wall,
    options: HttpGuardOptions = {},
  ) {
    const o = objectOption('http', options, [
      'routes',
      'defaultOperation',
      'admission',
      'trustPriorityHeader',
      'healthPath',
      'metricsPath',
      'topologyPath',
      'eventLoopDelay',
      'maxBodyBytes',
      'bodyTimeout',
      'onError',
    ]);
    this.clock = wall.clock;
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
    this.topologyPath = o.topologyPath === undefined || o.topologyPath === false ? false : stringOption('http.topologyPath', o.topologyPath, /^\//);
    this.maxBodyBytes = o.maxBodyBytes === undefined ? 1024 * 1024 : intOption('http.maxBodyBytes', o.maxBodyBytes, 0);
    this.bodyTimeoutMs = durationOption('http.bodyTimeout', o.bodyTimeout ?? '30s', 1, MAX_TIMER_MS);
    this.onError = o.onError === undefined ? defaultReporter : fnOption<ErrorReporter>('http.onError', o.onError);
    const loop = o.eventLoopDelay === undefined ? true : boolOption('http.eventLoopDelay', o.eventLoopDelay);
    if (o.admission instanceof AdmissionController) {
      this.admission = o.admission;
      this.ownsAdmission = false;
    } else if (o.admission === false) {
      this.ownsAdmission = false;
    } else {
      if (o.admission !== undefined && !isPlainObject(o.admission)) throw configError('http.admission', 'admission options, an AdmissionController or false', o.admission);
      const a: AdmissionOptions = { clock: this.clock, ...((o.admission ?? {}) as AdmissionOptions) };
      this.admission = new AdmissionController(loop && a.eventLoop === undefined ? { ...a, eventLoop: true } : a);
      this.ownsAdmission = true;
    }
    // declare route operations now so bad specs fail at construction
    for (const r of this.routes) this.operationFor(r.key, r.spec);
    this.operationFor(this.fallback.operation, this.fallback);
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
    if (this.wall.isDraining) body.draining = true;
    const down = h.status === 'unavailable' || this.wall.isDraining; // a draining instance leaves the load balancer
    return { status: down ? 503 : 200, headers: { 'content-type': JSON_TYPE, 'cache-control': 'no-store' }, body: JSON.stringify(body) };
  }

  /** The topology document the audit reads (`blastwall.topology/v1`). */
  topologyResponse(): GuardResponse {
    return { status: 200, headers: { 'content-type': JSON_TYPE, 'cache-control': 'no-store' }, body: JSON.stringify(topologyDocument(this.wall.topology())) };
  }

  /** Prometheus text; 404 when the wall's Prometheus telemetry is off. */
  async metricsResponse(): Promise<GuardResponse> {
    try {
      return { status: 200, headers: { 'content-type': this.wall.metricsContentType }, body: await this.wall.metrics() };
    } catch (err) {
      if (!(err instanceof BlastwallError)) throw err;
      return clientProblem(404, 'NOT_FOUND', 'Not found', 'Prometheus telemetry is off on this service.');
    }
  }

  /** The problem+json answer for an error, reported to `onError` under the request's id. */
  errorResponse(err: unknown, req?: { requestId?: string | undefined; method?: string; path?: string }): GuardResponse {
    const ctx: Parameters<typeof errorResponse>[1] = { onError: this.onError };
    if (req?.requestId !== undefined) ctx.requestId = req.requestId;
    if (req?.method !== undefined) ctx.method = req.method;
    if (req?.path !== undefined) ctx.path = req.path;
    return errorResponse(err, ctx);
  }

  /**
   * First step, synchronous (so an adapter can take the body's bytes from the first moment): answers
   * health, metrics and malformed headers here, or maps the request to its operation, priority and body
   * limits. Nothing is admitted yet.
   */
  route(req: InboundRequest): Routing {
    if (req.method === 'GET' || req.method === 'HEAD') {
      if (req.path === this.healthPath) return { kind: 'respond', response: this.healthResponse() };
      if (req.path === this.metricsPath) return { kind: 'respond', response: this.metricsResponse() };
      if (req.path === this.topologyPath) return { kind: 'respond', response: this.topologyResponse() };
    }
    const arrivedAt = this.clock.now();
    let id: string | undefined;
    const requestId = (): string => (id ??= requestIdOf(req.header('x-request-id')));
    if (this.wall.isDraining) {
      // stop admitting while the wall drains: another instance can take it (Retry-After)
      const err = new BlastwallError('CLOSED', 'draining', { retryable: true, retryAfterMs: 5000 });
      return { kind: 'respond', response: this.errorResponse(err, { requestId: requestId(), method: req.method, path: req.path }) };
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
      return { kind: 'respond', response: this.errorResponse(err, { requestId: requestId(), method: req.method, path: req.path }) };
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
    const caller = parseDeadlineHeader(req.header(DEADLINE_HEADER));
    if (caller === null) return bad(`${DEADLINE_HEADER} must be a non-negative number of milliseconds`);
    if (caller === 0) {
      return { kind: 'respond', response: this.errorResponse(new BlastwallError('DEADLINE_EXCEEDED', 'The caller granted no time; not started'), { requestId: requestId() }) };
    }
    // the request's deadline counts from its arrival: the body and the admission wait spend it
    const deadline = Math.min(caller ?? Number.POSITIVE_INFINITY, operation.deadlineMs);
    const body: BodyLimits = { maxBytes: spec?.maxBodyBytes ?? this.maxBodyBytes, timeoutMs: Math.min(deadline, this.bodyTimeoutMs), clock: this.clock };
    let used = false;
    const admitNow = (): Entry | Promise<Entry> => {
      if (used) return Promise.reject(new BlastwallError('CONFIG_INVALID', 'Routed.admit() called twice'));
      used = true;
      return this.admitRouted(operation, priority, deadline, arrivedAt, requestId);
    };
    return {
      kind: 'route',
      routed: {
        operation,
        priority,
        get requestId() {
          return requestId();
        },
        body,
        admitNow,
        admit: () => Promise.resolve(admitNow()),
      },
    };
  }

  private admitRouted(operation: Operation, priority: Priority, deadline: number, arrivedAt: number, requestId: () => string): Entry | Promise<Entry> {
    const left = (): number | undefined => (Number.isFinite(deadline) ? deadline - (this.clock.now() - arrivedAt) : undefined);
    if (this.admission === undefined) return admittedEntry(operation, priority, left(), undefined);
    let r: ReturnType<AdmissionController['admitNow']>;
    try {
      r = this.admission.admitNow(priority, { deadlineMs: left() });
    } catch (err) {
      return this.refusedEntry(operation, err, requestId);
    }
    if (r instanceof Promise) {
      return r.then(
        (t) => admittedEntry(operation, priority, left(), t),
        (err: unknown) => this.refusedEntry(operation, err, requestId),
      );
    }
    return r instanceof BlastwallError ? this.refusedEntry(operation, r, requestId) : admittedEntry(operation, priority, left(), r);
  }

  private refusedEntry(operation: Operation, err: unknown, requestId: () => string): Entry {
    if (err instanceof BlastwallError && err.code === 'SHED') operation.counts.shed++;
    return { kind: 'respond', response: this.errorResponse(err, { requestId: requestId() }) };
  }

  /**
   * `route()` then `admit()` at once, for requests whose body is already in hand (or that have none).
   * Adapters receive the body between the two.
   */
  async enter(req: InboundRequest): Promise<Entry> {
    const r = this.route(req);
    return r.kind === 'respond' ? { kind: 'respond', response: await r.response } : r.routed.admit();
  }

  /** Closes the admission controller when the guard created it. */
  close(): void {
    if (this.ownsAdmission) this.admission?.close();
  }
}
