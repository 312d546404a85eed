import { type Clock, coarseClock } from '../core/clock.js';
import type { DeadlineScheduler } from '../core/scheduler.js';
import { type AttemptFn, CallContext } from '../core/context.js';
import { durationOption, type Duration } from '../core/duration.js';
import { BlastwallError, type ErrorCode } from '../core/errors.js';
import { type Next, invokeUserFn, pipeline, withCallerSignal } from '../core/policy.js';
import {

  configError,
  enumOption,
  fnOption,
  intOption,
  isPlainObject,
  objectOption,
  ratioOption,
} from '../core/validate.js';
import { type ClassifierOptions, DEFAULT_CLASSIFIER, HealthClassifier, type HealthState } from '../health/classifier.js';
import { CallKind, RollingStats, type SignalTotals } from '../health/rolling.js';
import { CircuitBreakerPolicy, type CircuitBreakerOptions } from '../policies/circuit-breaker/index.js';
import { BulkheadPolicy } from '../policies/concurrency/index.js';
import { AdaptiveConcurrencyPolicy } from '../policies/adaptive-concurrency/index.js';
import { RetryBudget, type RetryBudgetOptions, RetryPolicy, type RetryOptions } from '../policies/retry/index.js';
import { TimeoutPolicy } from '../policies/timeout/index.js';
import { FusedPipeline, type SettleHook } from '../policies/fused.js';
import { FreshnessCache, type SharedCacheStore } from '../policies/cache/index.js';
import type { Policy } from '../core/policy.js';
import { type OperationContext, operationStorage } from './context.js';
import { formatIssues, isStandardSchema, type StandardIssue, type StandardSchemaV1 } from './schema.js';

export type Criticality = 'core' | 'optional' | 'deferrable';
export const CRITICALITIES: readonly Criticality[] = ['core', 'optional', 'deferrable'];

export type Source = 'live' | 'cache' | 'fallback';

/** The result of `attempt()`: never thrown, always described. */
export interface Outcome<T> {
  ok: boolean;
  /** The live value, a cached one, or the fallback (undefined only when a core call failed). */
  value: T;
  source: Source;
  /** Age of the value in ms (0 for live and fallback values). */
  ageMs: number;
  /** True when the caller got something other than a fresh live answer because of a fault. */
  degraded: boolean;
  error?: BlastwallError;
}

export interface DeferReceipt {
  id: number;
  queued: number;
}

export interface CallOptions<T = unknown> {
  /** Overrides the dependency's criticality for this call site. */
  criticality?: Criticality;
  /** Overrides the fallback for this call site. */
  fallback?: T | ((error: BlastwallError) => T);
  /** The caller's own abort signal. */
  signal?: AbortSignal;
  /** Cache key (with `cache`). */
  key?: string;
  /** The request payload, measured against `payload.maxRequestBytes`. */
  request?: unknown;
}

export interface DependencySpec {
  criticality?: Criticality;
  /** Per-attempt timeout. Default 10s: no dependency call waits forever. `false` for none. */
  timeout?: Duration | false;
  retry?: false | (Omit<RetryOptions, 'clock' | 'name' | 'budget' | 'minAttemptTime'> & { budget?: RetryBudgetOptions | false });
  breaker?: false | Omit<CircuitBreakerOptions, 'clock' | 'name'>;
  concurrency?:
    | false
    | { limit: number; queue?: number; queueTimeout?: Duration }
    | { adaptive: true | { initial?: number; min?: number; max?: number; tolerance?: number; smoothing?: number }; queue?: number; queueTimeout?: Duration };
  /** A Standard Schema validator (zod, valibot, arktype) for responses. */
  validate?: StandardSchemaV1;
  /** Receives responses that failed validation (they are never returned to the caller). */
  quarantine?: (payload: unknown, issues: ReadonlyArray<StandardIssue>, dependency: string) => void;
  /** For `optional` dependencies: the value (or a function of the error) served when the call fails. */
  fallback?: unknown;
  /**
   * Values by `key` (a call option): served without a call while `fresh`; within `stale` served at once
   * with one background refresh, and (optional dependencies) served when the call fails. Concurrent misses
   * share one call. Bounded by `maxEntries` / `maxBytes` (LRU).
   */
  cache?: { fresh?: Duration; stale: Duration; revalidate?: boolean; maxEntries?: number; maxBytes?: number; jitter?: number; shared?: SharedCacheStore };
  payload?: { maxRequestBytes?: number; maxResponseBytes?: number; measure?: (value: unknown) => number };
  slo?: { latency?: { p99: Duration }; availability?: number };
  /** For `deferrable` dependencies: the bounded in-memory queue. */
  deferred?: { maxQueue?: number; workers?: number };
  health?: Partial<ClassifierOptions> & { window?: Duration };
}

const SPEC_KEYS = [
  'criticality',
  'timeout',
  'retry',
  'breaker',
  'concurrency',
  'validate',
  'quarantine',
  'fallback',
  'cache',
  'payload',
  'slo',
  'deferred',
  'health',
];

/** Outcome kind → how it counts for health, for telemetry. */
const REJECTED: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'CIRCUIT_OPEN',
  'BULKHEAD_FULL',
  'QUEUE_TIMEOUT',
  'SHED',
  'THROTTLED',
  'PAYLOAD_TOO_LARGE',
  'ABORTED',
  'READ_ONLY',
  'QUEUE_FULL',
]);

/** Hooks the wall gives each dependency: telemetry and events, called only when someone listens. */
export interface DependencyHost {
  readonly clock: Clock;
  /** The wall's own deadline scheduler: closing the wall ends its pending calls, not other walls'. */
  readonly scheduler: DeadlineScheduler;
  /** Non-null only when a telemetry exporter is enabled. */
  telemetry: TelemetrySink | undefined;
  onBreakerChange(dep: Dependency, from: string, to: string, reason: string): void;
  onDeferredDead(dep: Dependency, id: number, error: BlastwallError): void;
  onQuarantine(dep: Dependency): void;
  isClosed(): boolean;
}

export interface TelemetrySink {
  /** One finished call. `code` is set when the call failed or was refused. */
  call(dep: Dependency, kind: CallKind, source: Source, durationMs: number, attempts: number, code: ErrorCode | undefined): void;
  /** A failed call answered from the cache or the fallback. */
  served(dep: Dependency, source: Source): void;
}

interface DeferredItem {
  id: number;
  fn: AttemptFn<unknown>;
  enqueuedAt: number;
  next: DeferredItem | undefined;
}

function defaultMeasure(v: unknown): number {
  if (v === undefined || v === null) return 0;
  if (typeof v === 'string') return Buffer.byteLength(v);
  if (v instanceof ArrayBuffer) return v.byteLength;
  if (ArrayBuffer.isView(v)) return v.byteLength;
  return Buffer.byteLength(JSON.stringify(v) ?? '');
}

/**
 * One declared dependency: its pipeline (concurrency → breaker → retry → timeout), linked once, its
 * criticality, its boundaries and its rolling health signals.
 */
export class Dependency {
  readonly name: string;
  readonly criticality: Criticality;
  readonly timeoutMs: number | undefined;
  readonly breaker: CircuitBreakerPolicy | undefined;
  readonly retry: RetryPolicy | undefined;
  readonly budget: RetryBudget | undefined;
  readonly bulkhead: BulkheadPolicy | undefined;
  readonly adaptive: AdaptiveConcurrencyPolicy | undefined;
  readonly timeoutPolicy: TimeoutPolicy | undefined;
  readonly stats: RollingStats;
  readonly classifier: HealthClassifier;
  readonly objective: { p99Ms: number; availability: number };
  /** Time an attempt is expected to take (see `evaluate`); retries need this much time before the deadline. */
  private expectedAttemptMs = 0;
  /** Free-form description of the boundaries, for topology and audit. */
  readonly boundaries: Record<string, unknown>;
  private readonly clock: Clock;
  /** Cheap time for the hot path (see `coarseClock`): latencies have one-tick (1 ms) resolution. */
  private readonly now: () => number;
  private readonly link: Next;
  /** The pipeline plus this dependency's recording and validation, linked once. */
  private readonly observed: Next;
  private readonly schema: StandardSchemaV1 | undefined;
  private readonly quarantineHook: DependencySpec['quarantine'];
  private readonly fallbackValue: unknown;
  private readonly hasFallback: boolean;
  readonly cache: FreshnessCache | undefined;
  /** Oldest age served through the cache since the wall last read it (−1: nothing served). */
  private cacheAgeMax = -1;
  private readonly maxRequestBytes: number;
  private readonly maxResponseBytes: number;
  private readonly measure: (v: unknown) => number;
  private readonly deferMax: number;
  private readonly deferWorkers: number;
  private deferHead: DeferredItem | undefined;
  private deferTail: DeferredItem | undefined;
  private deferQueued = 0;
  private deferActive = 0;
  private deferSeq = 0;
  private deferIdle: (() => void) | undefined;
  /** Deferred work that failed after every attempt (bounded; the durable queue keeps a full dead-letter state). */
  readonly deadLetters: { id: number; error: BlastwallError; at: number }[] = [];
  /** Cumulative counters (monotonic), for telemetry and tests. */
  readonly counters = { calls: 0, ok: 0, bad: 0, quarantined: 0, deferred: 0, deferredDone: 0, deferredDead: 0 };

  constructor(
    name: string,
    spec: DependencySpec,
    private readonly host: DependencyHost,
  ) {
    this.name = name;
    this.clock = host.clock;
    this.now = coarseClock(host.clock);
    const s = objectOption(`dependency '${name}'`, spec, SPEC_KEYS) as DependencySpec;
    const f = (k: string) => `${name}.${k}`;
    this.criticality = s.criticality === undefined ? 'core' : enumOption(f('criticality'), s.criticality, CRITICALITIES);
    this.boundaries = {};

    // boundaries, outer to inner
    const policies: Policy[] = [];
    if (s.concurrency !== undefined && s.concurrency !== false) {
      const c = s.concurrency as Record<string, unknown>;
      if (!isPlainObject(c)) throw configError(f('concurrency'), '{ limit, queue?, queueTimeout? } or false', c);
      if (c.adaptive !== undefined) {
        objectOption(f('concurrency'), c, ['adaptive', 'queue', 'queueTimeout']);
        const g = c.adaptive === true ? {} : objectOption(f('concurrency.adaptive'), c.adaptive, ['initial', 'min', 'max', 'tolerance', 'smoothing', 'longWindow']);
        const adaptive = prefixed(
          name,
          () =>
            new AdaptiveConcurrencyPolicy({
              ...g,
              ...(c.queue === undefined ? {} : { queue: intOption(f('concurrency.queue'), c.queue, 0) }),
              ...(c.queueTimeout === undefined ? {} : { queueTimeout: durationOption(f('concurrency.queueTimeout'), c.queueTimeout) }),
              clock: this.clock,
              name,
            }),
        );
        this.adaptive = adaptive;
        policies.push(adaptive);
        this.boundaries.concurrency = { adaptive: true, min: adaptive.limiter.min, max: adaptive.limiter.max, queue: adaptive.bulkhead.maxQueued };
      } else {
        objectOption(f('concurrency'), c, ['limit', 'queue', 'queueTimeout']);
        this.bulkhead = new BulkheadPolicy({
          limit: intOption(f('concurrency.limit'), c.limit, 1),
          ...(c.queue === undefined ? {} : { queue: intOption(f('concurrency.queue'), c.queue, 0) }),
          ...(c.queueTimeout === undefined ? {} : { queueTimeout: durationOption(f('concurrency.queueTimeout'), c.queueTimeout) }),
          clock: this.clock,
          name,
        });
        policies.push(this.bulkhead);
        this.boundaries.concurrency = { limit: this.bulkhead.limit, queue: this.bulkhead.maxQueued };
      }
    }
    if (s.breaker !== false) {
      const b = objectOption(f('breaker'), s.breaker, [
        'failureRate',
        'slowCall',
        'window',
        'minimumCalls',
        'halfOpenAfter',
        'probes',
        'probeSuccesses',
        'isFailure',
      ]);
      this.breaker = prefixed(name, () => new CircuitBreakerPolicy({ ...b, clock: this.clock, name }));
      this.breaker.onStateChange((e) => host.onBreakerChange(this, e.from, e.to, e.reason));
      policies.push(this.breaker);
      this.boundaries.breaker = {
        failureRate: this.breaker.failureRate,
        minimumCalls: this.breaker.minimumCalls,
        probes: this.breaker.probes,
        window: this.breaker.windowKind(),
        ...(Number.isFinite(this.breaker.slowOverMs) ? { slowCall: { overMs: this.breaker.slowOverMs, rate: this.breaker.slowRate } } : {}),
      };
    }
    const defaultRetry = this.criticality === 'deferrable' ? { attempts: 5 } : undefined;
    const r = s.retry === false ? undefined : s.retry === undefined ? defaultRetry : s.retry;
    if (r !== undefined) {
      const ro = objectOption(f('retry'), r, ['attempts', 'backoff', 'maxElapsed', 'retryOn', 'retryOnResult', 'budget', 'random']);
      this.budget =
        ro.budget === false
          ? undefined
          : prefixed(name, () => new RetryBudget({ ...(ro.budget as RetryBudgetOptions | undefined), clock: this.clock }));
      this.retry = prefixed(
        name,
        () => new RetryPolicy({ ...(ro as RetryOptions), budget: this.budget ?? false, clock: this.clock, name }),
      );
      policies.push(this.retry);
      this.boundaries.retry = {
        attempts: this.retry.attempts,
        ...(this.budget ? { budget: { ratio: this.budget.ratio, minPerSecond: this.budget.minPerSecond } } : {}),
      };
    }
    if (s.timeout !== false) {
      this.timeoutMs = s.timeout === undefined ? 10_000 : durationOption(f('timeout'), s.timeout);
      this.timeoutPolicy = new TimeoutPolicy(this.timeoutMs, { clock: this.clock, name, scheduler: host.scheduler });
      policies.push(this.timeoutPolicy);
      this.boundaries.timeoutMs = this.timeoutMs;
      this.expectedAttemptMs = this.timeoutMs;
    }
    const built = policies.length === 0 ? undefined : pipeline(...policies);
    this.link = built === undefined ? invokeUserFn : linkOf(built);
    const hook: SettleHook = {
      value: (ctx, v) => this.finishValue(ctx, v),
      error: (ctx, e) => this.finishError(ctx, e),
    };
    if (built instanceof FusedPipeline) this.observed = (ctx) => built.runObserved(ctx, hook);
    else {
      const link = this.link;
      this.observed = (ctx) =>
        link(ctx).then(
          (v) => hook.value(ctx, v),
          (e: unknown) => {
            throw hook.error(ctx, e);
          },
        );
    }

    // response validation
    if (s.validate !== undefined && !isStandardSchema(s.validate)) {
      throw configError(f('validate'), 'a Standard Schema validator (zod, valibot, arktype: an object with `~standard.validate`)', s.validate);
    }
    this.schema = s.validate;
    this.quarantineHook = s.quarantine === undefined ? undefined : fnOption(f('quarantine'), s.quarantine);
    if (this.schema) this.boundaries.validate = this.schema['~standard'].vendor;

    // fallback and cache
    this.hasFallback = 'fallback' in s && s.fallback !== undefined;
    this.fallbackValue = s.fallback;
    if (s.cache !== undefined) {
      this.cache = prefixed(name, () => new FreshnessCache({ ...(s.cache as object), clock: this.clock } as never));
      this.boundaries.cache = { freshMs: this.cache.freshMs, staleMs: this.cache.staleMs };
    }
    if (this.criticality === 'optional' && !this.hasFallback) {
      throw configError(f('fallback'), "a value or a function of the error: an 'optional' dependency fails open", s.fallback);
    }
    if (this.criticality === 'core' && this.hasFallback) {
      throw configError(f('fallback'), "absent on a 'core' dependency (it fails fast; use criticality 'optional' to fail open)", s.fallback);
    }

    // payload limits
    const p = objectOption(f('payload'), s.payload, ['maxRequestBytes', 'maxResponseBytes', 'measure']);
    this.maxRequestBytes = p.maxRequestBytes === undefined ? Number.POSITIVE_INFINITY : intOption(f('payload.maxRequestBytes'), p.maxRequestBytes, 1);
    this.maxResponseBytes = p.maxResponseBytes === undefined ? Number.POSITIVE_INFINITY : intOption(f('payload.maxResponseBytes'), p.maxResponseBytes, 1);
    this.measure = p.measure === undefined ? defaultMeasure : fnOption(f('payload.measure'), p.measure);
    if (s.payload !== undefined) this.boundaries.payload = { maxRequestBytes: p.maxRequestBytes, maxResponseBytes: p.maxResponseBytes };

    // objective and health
    const slo = objectOption(f('slo'), s.slo, ['latency', 'availability']);
    const lat = objectOption(f('slo.latency'), slo.latency, ['p99']);
    this.objective = {
      p99Ms: lat.p99 === undefined ? (this.timeoutMs ?? 10_000) * 0.8 : durationOption(f('slo.latency.p99'), lat.p99),
      availability: slo.availability === undefined ? 0.99 : ratioOption(f('slo.availability'), slo.availability),
    };
    const h = objectOption(f('health'), s.health, ['window', 'minimumCalls', 'retryRatio', 'unavailableRatio', 'corruptRatio', 'exitFactor', 'minDwellMs']);
    const co: ClassifierOptions = { ...DEFAULT_CLASSIFIER };
    if (h.minimumCalls !== undefined) co.minimumCalls = intOption(f('health.minimumCalls'), h.minimumCalls, 1);
    if (h.retryRatio !== undefined) co.retryRatio = ratioOption(f('health.retryRatio'), h.retryRatio);
    if (h.unavailableRatio !== undefined) co.unavailableRatio = ratioOption(f('health.unavailableRatio'), h.unavailableRatio);
    if (h.corruptRatio !== undefined) co.corruptRatio = ratioOption(f('health.corruptRatio'), h.corruptRatio);
    if (h.exitFactor !== undefined) co.exitFactor = ratioOption(f('health.exitFactor'), h.exitFactor);
    if (h.minDwellMs !== undefined) co.minDwellMs = durationOption(f('health.minDwellMs'), h.minDwellMs, 0);
    this.stats = new RollingStats(h.window === undefined ? 60_000 : durationOption(f('health.window'), h.window, 1000));
    this.classifier = new HealthClassifier(this.objective, co, this.clock.now());

    // deferred queue
    const d = objectOption(f('deferred'), s.deferred, ['maxQueue', 'workers']);
    if (s.deferred !== undefined && this.criticality !== 'deferrable') {
      throw configError(f('deferred'), "absent unless criticality is 'deferrable'", s.deferred);
    }
    this.deferMax = d.maxQueue === undefined ? 10_000 : intOption(f('deferred.maxQueue'), d.maxQueue, 1);
    this.deferWorkers = d.workers === undefined ? 4 : intOption(f('deferred.workers'), d.workers, 1, 10_000);
    if (this.criticality === 'deferrable') this.boundaries.deferred = { maxQueue: this.deferMax, workers: this.deferWorkers };
  }

  /**
   * Calls the dependency. `core`: the value or a `BlastwallError` naming the boundary that stopped it.
   * `optional`: the value, a stale cached value or the fallback — never a dependency error.
   * `deferrable`: queues the work and resolves at once with a receipt (rejects `QUEUE_FULL` when full).
   */
  call<T>(fn: AttemptFn<T>, options?: CallOptions<T>): Promise<T> {
    const crit = options?.criticality ?? this.criticality;
    if (crit === 'core') return this.callCore(fn, options);
    if (crit === 'optional') return this.attempt(fn, options).then(valueOf) as Promise<T>;
    return this.defer(fn as AttemptFn<unknown>) as unknown as Promise<T>;
  }

  /** Like `call`, but never throws: the outcome says what was served and why. */
  attempt<T>(fn: AttemptFn<T>, options?: CallOptions<T>): Promise<Outcome<T>> {
    const crit = options?.criticality ?? this.criticality;
    if (crit === 'deferrable') {
      return this.defer(fn as AttemptFn<unknown>).then(
        (r) => ({ ok: true, value: r as unknown as T, source: 'live' as const, ageMs: 0, degraded: false }),
        (e: unknown) => ({ ok: false, value: undefined as T, source: 'live' as const, ageMs: 0, degraded: true, error: e as BlastwallError }),
      );
    }
    const optional = crit === 'optional';
    const live =
      this.cache === undefined
        ? this.callCore(fn, options).then((value): Outcome<T> => ({ ok: true, value, source: 'live', ageMs: 0, degraded: false }))
        : this.cache
            .get(options?.key ?? '', () => this.callCore(fn, options), { staleIfError: optional })
            .then((r): Outcome<T> => {
              if (r.source === 'cache') this.host.telemetry?.served(this, 'cache');
              if (r.ageMs > this.cacheAgeMax) this.cacheAgeMax = r.ageMs;
              if (r.error === undefined) return { ok: true, value: r.value, source: r.source, ageMs: r.ageMs, degraded: false };
              this.stats.recordFallback(this.now());
              markDegraded();
              return { ok: true, value: r.value, source: 'cache', ageMs: r.ageMs, degraded: true, error: r.error as BlastwallError };
            });
    return live.catch((error: BlastwallError): Outcome<T> => {
      if (!optional && options?.fallback === undefined) return { ok: false, value: undefined as T, source: 'live', ageMs: 0, degraded: true, error };
      this.stats.recordFallback(this.now());
      markDegraded();
      this.host.telemetry?.served(this, 'fallback');
      const fb = options?.fallback !== undefined ? options.fallback : this.fallbackValue;
      let value: T;
      try {
        value = (typeof fb === 'function' ? (fb as (e: BlastwallError) => T)(error) : fb) as T;
      } catch (fbErr) {
        // a broken fallback is the caller's bug: report it, but an optional path still fails open
        process.emitWarning(`blastwall: fallback of '${this.name}' threw: ${String(fbErr)}`);
        value = undefined as T;
      }
      return { ok: true, value, source: 'fallback', ageMs: 0, degraded: true, error };
    });
  }

  private callCore<T>(fn: AttemptFn<T>, options: CallOptions<T> | undefined): Promise<T> {
    if (this.host.isClosed()) return Promise.reject(new BlastwallError('CLOSED', 'The wall is closed', { dependency: this.name }));
    const op = operationStorage.getStore();
    const ctx = new CallContext(this.clock, fn as AttemptFn<unknown>, options?.signal);
    ctx.dependency = this.name;
    ctx.minAttemptMs = this.expectedAttemptMs;
    if (op !== undefined) this.enterOperation(ctx, op);
    ctx.startedAt = this.now();
    if (options?.request !== undefined && this.maxRequestBytes !== Number.POSITIVE_INFINITY) {
      const size = this.measure(options.request);
      if (size > this.maxRequestBytes) {
        return Promise.reject(
          this.finishError(ctx, new BlastwallError('PAYLOAD_TOO_LARGE', `Request of ${size} bytes exceeds ${this.maxRequestBytes}`, { dependency: this.name })),
        );
      }
    }
    return (options?.signal !== undefined ? withCallerSignal(ctx, this.observed, options.signal) : this.observed(ctx)) as Promise<T>;
  }

  private enterOperation(ctx: CallContext, op: OperationContext): void {
    ctx.operation = op.operation;
    ctx.deadline = op.deadline;
    if (!op.edges.has(this.name)) op.edges.add(this.name);
  }

  private finishValue(ctx: CallContext, value: unknown): unknown {
    if (this.maxResponseBytes !== Number.POSITIVE_INFINITY) {
      const size = this.measure(value);
      if (size > this.maxResponseBytes) {
        throw this.finishError(
          ctx,
          new BlastwallError('PAYLOAD_TOO_LARGE', `Response of ${size} bytes exceeds ${this.maxResponseBytes}`, { dependency: this.name }),
          CallKind.Invalid,
        );
      }
    }
    if (this.schema !== undefined) {
      const result = this.schema['~standard'].validate(value);
      if (result instanceof Promise) {
        return result.then((r) => this.afterValidation(ctx, value, r.issues, r.issues === undefined ? r.value : undefined));
      }
      return this.afterValidation(ctx, value, result.issues, result.issues === undefined ? result.value : undefined);
    }
    this.recordOk(ctx);
    return value;
  }

  private afterValidation(ctx: CallContext, raw: unknown, issues: ReadonlyArray<StandardIssue> | undefined, parsed: unknown): unknown {
    if (issues !== undefined) {
      this.counters.quarantined++;
      if (this.quarantineHook !== undefined) {
        try {
          this.quarantineHook(raw, issues, this.name);
        } catch (err) {
          process.emitWarning(`blastwall: quarantine hook of '${this.name}' threw: ${String(err)}`);
        }
      }
      this.host.onQuarantine(this);
      throw this.finishError(
        ctx,
        new BlastwallError('INVALID_RESPONSE', `Response failed validation: ${formatIssues(issues)}`, {
          dependency: this.name,
          retryable: false,
          details: { issues: issues.slice(0, 10).map((i) => i.message) },
        }),
        CallKind.Invalid,
      );
    }
    this.recordOk(ctx);
    return parsed;
  }

  private recordOk(ctx: CallContext): void {
    const now = this.now();
    const dur = now - ctx.startedAt;
    this.counters.calls++;
    this.counters.ok++;
    this.stats.record(now, CallKind.Success, dur, ctx.retries, false);
    const t = this.host.telemetry;
    if (t !== undefined) t.call(this, CallKind.Success, 'live', dur, ctx.attempt || 1, undefined);
  }

  /** Records a failed call and returns the error the caller sees (always a BlastwallError naming this dependency). */
  private finishError(ctx: CallContext, e: unknown, kindOverride?: CallKind): BlastwallError {
    let err: BlastwallError;
    if (e instanceof BlastwallError && (e.dependency === this.name || e.dependency === undefined)) {
      err = e.dependency === this.name ? e : e.withDependency(this.name);
    } else {
      // a plain error, or another dependency's error surfacing through this one's function
      err = new BlastwallError('DEPENDENCY_FAILED', `${this.name} failed: ${e instanceof Error ? e.message : String(e)}`, {
        dependency: this.name,
        cause: e,
      });
    }
    const kind = kindOverride ?? (REJECTED.has(err.code) ? CallKind.Rejected : CallKind.Failure);
    const now = this.now();
    const dur = now - ctx.startedAt;
    this.counters.calls++;
    if (err.code !== 'ABORTED') this.counters.bad++;
    this.stats.record(now, kind, dur, ctx.retries, err.code === 'TIMEOUT' || err.code === 'DEADLINE_EXCEEDED' || hasTimeoutCause(err));
    const t = this.host.telemetry;
    if (t !== undefined) t.call(this, kind, 'live', dur, ctx.attempt || 1, err.code);
    return err;
  }

  // ---- deferrable ----

  private defer(fn: AttemptFn<unknown>): Promise<DeferReceipt> {
    if (this.host.isClosed()) return Promise.reject(new BlastwallError('CLOSED', 'The wall is closed', { dependency: this.name }));
    if (this.deferQueued >= this.deferMax) {
      return Promise.reject(
        new BlastwallError('QUEUE_FULL', `Deferred queue of '${this.name}' is full (${this.deferMax} items waiting); the work was not accepted`, {
          dependency: this.name,
          retryAfterMs: 1000,
        }),
      );
    }
    const item: DeferredItem = { id: ++this.deferSeq, fn, enqueuedAt: this.clock.now(), next: undefined };
    if (this.deferTail === undefined) this.deferHead = this.deferTail = item;
    else {
      this.deferTail.next = item;
      this.deferTail = item;
    }
    this.deferQueued++;
    this.counters.deferred++;
    if (this.deferActive < this.deferWorkers) {
      this.deferActive++;
      // run outside the caller's operation: its deadline must not cut background work
      operationStorage.exit(() => queueMicrotask(() => void this.deferWorker()));
    }
    return Promise.resolve({ id: item.id, queued: this.deferQueued });
  }

  private async deferWorker(): Promise<void> {
    try {
      for (let item = this.takeDeferred(); item !== undefined; item = this.takeDeferred()) {
        try {
          await this.callCore(item.fn, undefined);
          this.counters.deferredDone++;
        } catch (e) {
          const err = e as BlastwallError;
          this.counters.deferredDead++;
          this.deadLetters.push({ id: item.id, error: err, at: this.clock.now() });
          if (this.deadLetters.length > 1000) this.deadLetters.shift();
          this.host.onDeferredDead(this, item.id, err);
        }
      }
    } finally {
      this.deferActive--;
      if (this.deferActive === 0 && this.deferIdle !== undefined) this.deferIdle();
    }
  }

  private takeDeferred(): DeferredItem | undefined {
    if (this.host.isClosed() && this.deferIdle === undefined) return undefined;
    const item = this.deferHead;
    if (item === undefined) return undefined;
    this.deferHead = item.next;
    if (this.deferHead === undefined) this.deferTail = undefined;
    this.deferQueued--;
    return item;
  }

  /**
   * Adds a durable queue's backlog (a synchronous snapshot, refreshed by its poller) to this dependency's
   * backlog signals. Returns a disposer.
   */
  attachBacklog(source: () => { size: number; oldestAgeMs: number }): () => void {
    this.backlogSources.add(source);
    return () => void this.backlogSources.delete(source);
  }
  private readonly backlogSources = new Set<() => { size: number; oldestAgeMs: number }>();

  /**
   * The oldest value answered through the cache since the last call (0 when every answer was live), or
   * undefined when nothing was answered through it: the cache-age signal, read once per health interval.
   */
  takeCacheAge(): number | undefined {
    const age = this.cacheAgeMax;
    this.cacheAgeMax = -1;
    return age < 0 ? undefined : age;
  }

  /** Backlog of the deferred queue (in memory, plus attached durable queues): size and age of the oldest item. */
  backlog(): { size: number; oldestAgeMs: number; active: number } {
    let size = this.deferQueued;
    let oldestAgeMs = this.deferHead === undefined ? 0 : this.clock.now() - this.deferHead.enqueuedAt;
    for (const src of this.backlogSources) {
      const b = src();
      size += b.size;
      oldestAgeMs = Math.max(oldestAgeMs, b.oldestAgeMs);
    }
    return { size, oldestAgeMs, active: this.deferActive };
  }

  /** Waits for queued deferred work to finish (used by `wall.close()` within its grace period). */
  drainDeferred(): Promise<void> {
    if (this.deferActive === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.deferIdle = () => {
        this.deferIdle = undefined;
        resolve();
      };
    });
  }

  /** Drops queued deferred work; returns how many items were dropped. */
  dropDeferred(): number {
    const n = this.deferQueued;
    this.deferHead = this.deferTail = undefined;
    this.deferQueued = 0;
    return n;
  }

  // ---- health ----

  totals(): SignalTotals {
    return this.stats.totals(this.clock.now());
  }

  /** Re-evaluates the health state; returns the previous state if it changed. */
  evaluate(): HealthState | undefined {
    const now = this.clock.now();
    const totals = this.stats.totals(now);
    // what an attempt is expected to take: recent successes' p99, capped by the timeout (the timeout alone
    // until there are enough successes); a retry is started only if this much time is left
    const timeout = this.timeoutMs ?? 0;
    this.expectedAttemptMs = totals.successes >= 10 && totals.p99 > 0 ? Math.min(timeout || totals.p99, totals.p99) : timeout;
    return this.classifier.evaluate({ totals, breaker: this.breaker?.state }, now);
  }
}

function markDegraded(): void {
  const op = operationStorage.getStore();
  if (op !== undefined) op.degraded = true;
}

function valueOf<T>(o: Outcome<T>): T {
  return o.value;
}

function hasTimeoutCause(e: BlastwallError): boolean {
  const c = e.cause;
  return c instanceof BlastwallError && (c.code === 'TIMEOUT' || c.code === 'DEADLINE_EXCEEDED');
}

function linkOf(p: Policy): Next {
  return (ctx) => p.run(ctx, invokeUserFn);
}

/** Adds the dependency's name to the field of a policy's configuration error. */
function prefixed<T>(name: string, build: () => T): T {
  try {
    return build();
  } catch (e) {
    if (e instanceof BlastwallError && e.code === 'CONFIG_INVALID') {
      const msg = e.message.replace(/`(retry|breaker|concurrency|timeout|cache)/, `\`${name}.$1`);
      throw new BlastwallError('CONFIG_INVALID', msg, { details: e.details });
    }
    throw e;
  }
}
