import type { SourceLocation } from './source.js';
import { type Clock, coarseClock } from '../core/clock.js';
import type { SlotWrapper } from '../chaos/injector.js';
import { type AttemptFn, CallContext } from '../core/context.js';
import { callbackFailed } from '../core/callback.js';
import { BlastwallError } from '../core/errors.js';
import { resultFailureError } from '../core/result.js';
import { type Next, invokeUserFn, pipeline, withCallerSignal } from '../core/policy.js';
import { HealthClassifier, type HealthState } from '../health/classifier.js';
import { RollingStats, type SignalTotals } from '../health/rolling.js';
import type { CircuitBreakerPolicy } from '../policies/circuit-breaker/index.js';
import type { BulkheadPolicy } from '../policies/concurrency/index.js';
import type { AdaptiveConcurrencyPolicy } from '../policies/adaptive-concurrency/index.js';
import type { RetryBudget, RetryPolicy } from '../policies/retry/index.js';
import type { TimeoutPolicy } from '../policies/timeout/index.js';
import { FusedPipeline, type SettleHook } from '../policies/fused.js';
import type { FreshnessCache } from '../policies/cache/index.js';
import type { Policy } from '../core/policy.js';
import { type OperationContext, operationStorage } from '../core/operation-context.js';
import { type DeferReceipt, DeferredQueue } from './deferred-queue.js';
import { type Criticality, type DependencySpec, type ParsedDependencySpec, parseDependencySpec } from './dependency-spec.js';
import type { CallOptions, Outcome } from './call-types.js';
import type { DependencyHost } from './host.js';
import { linkOf, markDegraded, ResponseGuard, valueOf } from './response-guard.js';
import { CallResults } from './call-results.js';

// declared in their own files, re-exported here so `wall/dependency.js` keeps offering what it always did
export { CRITICALITIES, type Criticality, type DependencySpec } from './dependency-spec.js';
export type { DeferReceipt } from './deferred-queue.js';
export type { CallOptions, Outcome, Source } from './call-types.js';
export type { DependencyHost, TelemetrySink } from './host.js';

/**
 * One declared dependency: its pipeline (concurrency → breaker → retry → timeout), linked once, its
 * criticality, its boundaries and its rolling health signals.
 */
export class Dependency {
  readonly name: string;
  readonly criticality: Criticality;
  readonly timeoutMs!: number | undefined;
  readonly breaker!: CircuitBreakerPolicy | undefined;
  readonly retry!: RetryPolicy | undefined;
  readonly budget!: RetryBudget | undefined;
  readonly bulkhead!: BulkheadPolicy | undefined;
  readonly adaptive!: AdaptiveConcurrencyPolicy | undefined;
  readonly timeoutPolicy!: TimeoutPolicy | undefined;
  readonly stats: RollingStats;
  readonly classifier: HealthClassifier;
  readonly objective: { p99Ms: number; availability: number };
  /** Time an attempt is expected to take (see `evaluate`); retries need this much time before the deadline. */
  private expectedAttemptMs = 0;
  /** Free-form description of the boundaries, for topology and audit. */
  readonly boundaries!: Record<string, unknown>;
  /** Who owns it and where its runbook is (shown on the page, in alerts, the audit and the postmortem). */
  readonly owner: string | undefined;
  readonly runbook: string | undefined;
  /** Where it was declared (set by the wall; for audit findings). */
  source: SourceLocation | undefined;
  private readonly clock: Clock;
  /**
   * Cheap time (see `coarseClock`) for what needs no precision (fallback counts). Latencies are measured
   * with `clock.now()` at the start and the end of each call: the cheap reading does not advance within one
   * event-loop turn, so synchronous work in a dependency's function would read as 0 ms.
   */
  private readonly now: () => number;
  /** Turns a result that is a failure (a 5xx `Response`) into its error, for `ctx.resultFailure`. */
  private readonly resultFailure: ((value: unknown) => unknown) | undefined;
  private readonly link!: Next;
  /** The pipeline plus this dependency's recording and validation, linked once. */
  private readonly observed!: Next;
  /** Response size and validation checks of every value (see `response-guard.ts`). */
  private readonly guard: ResponseGuard;
  /** Records each call's result: counters, rolling signals, telemetry (see `call-results.ts`). */
  private readonly results: CallResults;
  private readonly fallbackValue: unknown;
  private readonly hasFallback: boolean;
  /** Set by live configuration (`fallback: 'off'`): an optional dependency's failures reach the caller. */
  private fallbackOff = false;
  /** The spec as declared (live configuration merges patches onto it). */
  readonly declared: DependencySpec;
  readonly cache!: FreshnessCache | undefined;
  /** Oldest age served through the cache since the wall last read it (−1: nothing served). */
  private cacheAgeMax = -1;
  private readonly maxRequestBytes: number;
  private readonly measure: (v: unknown) => number;
  private readonly deferred: DeferredQueue;
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
    const parsed = parseDependencySpec(name, spec, host);
    this.criticality = parsed.criticality;
    this.owner = parsed.owner;
    this.runbook = parsed.runbook;
    this.declared = spec;
    this.applyPipeline(parsed);

    this.stats = new RollingStats(parsed.healthWindowMs);
    this.results = new CallResults(this, this.counters, this.stats, host);
    this.guard = new ResponseGuard(name, parsed.maxResponseBytes, parsed.measure, parsed.schema, parsed.quarantine, this.results);
    this.hasFallback = parsed.hasFallback;
    this.fallbackValue = parsed.fallback;
    this.maxRequestBytes = parsed.maxRequestBytes;
    this.measure = parsed.measure;
    const fails = parsed.failOnResult;
    this.resultFailure = fails === undefined ? undefined : (v) => (fails(v) ? resultFailureError(v, this.clock.now(), this.name) : undefined);
    this.objective = parsed.objective;
    this.classifier = new HealthClassifier(this.objective, parsed.classifier, this.clock.now());
    this.deferred = new DeferredQueue(name, parsed.deferred.maxQueue, parsed.deferred.workers, this.clock, {
      // work accepted before the wall closed still runs within close()'s grace period
      run: (fn) => this.callCore(fn, undefined, true),
      accepted: () => void this.counters.deferred++,
      isClosed: () => host.isClosed(),
      done: () => void this.counters.deferredDone++,
      dead: (id, err) => {
        this.counters.deferredDead++;
        this.deadLetters.push({ id, error: err, at: this.clock.now() });
        if (this.deadLetters.length > 1000) this.deadLetters.shift();
        host.onDeferredDead(this, id, err);
      },
    });
  }

  /**
   * Installs the boundaries of a parsed spec in one synchronous step: a call reads the pipeline once when
   * it starts, so calls in flight finish under the boundaries they started with and no call sees half.
   */
  private applyPipeline(parsed: ParsedDependencySpec): void {
    if (parsed.breaker !== undefined && parsed.breaker !== this.breaker) {
      parsed.breaker.onStateChange((e: { from: string; to: string; reason: string }) => this.host.onBreakerChange(this, e.from, e.to, e.reason));
    }
    const built = parsed.policies.length === 0 ? undefined : pipeline(...parsed.policies);
    const link = built === undefined ? invokeUserFn : linkOf(built);
    const hook: SettleHook = {
      value: (ctx, v) => this.guard.check(ctx, v),
      error: (ctx, e) => this.results.error(ctx, e),
    };
    const observed: Next =
      built instanceof FusedPipeline
        ? (ctx) => built.runObserved(ctx, hook)
        : (ctx) =>
            link(ctx).then(
              (v) => hook.value(ctx, v),
              (e: unknown) => {
                throw hook.error(ctx, e);
              },
            );
    Object.assign(this, {
      boundaries: parsed.boundaries,
      bulkhead: parsed.bulkhead,
      adaptive: parsed.adaptive,
      breaker: parsed.breaker,
      budget: parsed.budget,
      retry: parsed.retry,
      timeoutMs: parsed.timeoutMs,
      timeoutPolicy: parsed.timeout,
      cache: parsed.cache,
      link,
      observed,
    });
  }

  /**
   * Live configuration: rebuilds this dependency's boundaries from `spec` (checked as at declaration; a bad
   * field throws `CONFIG_INVALID` and nothing changes). Policies of sections not in `changed` are kept as
   * they are, state included (an open breaker stays open, a budget keeps its window, a cache its values).
   * `fallbackOff` stops serving an optional dependency's fallback.
   */
  reconfigure(spec: DependencySpec, changed: ReadonlySet<string>, fallbackOff: boolean): void {
    const parsed = parseDependencySpec(this.name, spec, this.host);
    if (parsed.criticality !== this.criticality) throw new BlastwallError('CONFIG_INVALID', `\`${this.name}.criticality\` cannot change at run time`);
    // sections that did not change keep their policy objects, and with them their state
    const reuse: [string, keyof ParsedDependencySpec, object | undefined][] = [
      ['concurrency', 'bulkhead', this.bulkhead],
      ['concurrency', 'adaptive', this.adaptive],
      ['breaker', 'breaker', this.breaker],
      ['retry', 'retry', this.retry],
      ['retry', 'budget', this.budget],
      ['cache', 'cache', this.cache],
    ];
    // a plain limit takes its new settings in place: calls in flight keep their slots (and count against the
    // new limit), waiters their places
    if (changed.has('concurrency') && this.bulkhead !== undefined && parsed.bulkhead !== undefined) {
      this.bulkhead.adopt(parsed.bulkhead);
      parsed.policies[parsed.policies.indexOf(parsed.bulkhead)] = this.bulkhead;
      parsed.bulkhead = this.bulkhead;
    }
    const slots = parsed as unknown as Record<string, object | undefined>;
    for (const [section, key, old] of reuse) {
      const fresh = slots[key];
      if (changed.has(section) || old === undefined || fresh === undefined) continue;
      const i = parsed.policies.indexOf(fresh as Policy);
      if (i >= 0) parsed.policies[i] = old as Policy;
      slots[key] = old;
    }
    this.applyPipeline(parsed);
    this.fallbackOff = fallbackOff && this.criticality === 'optional';
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
      if ((!optional || this.fallbackOff) && options?.fallback === undefined) return { ok: false, value: undefined as T, source: 'live', ageMs: 0, degraded: true, error };
      this.stats.recordFallback(this.now());
      markDegraded();
      this.host.telemetry?.served(this, 'fallback');
      const fb = options?.fallback !== undefined ? options.fallback : this.fallbackValue;
      let value: T;
      try {
        value = (typeof fb === 'function' ? (fb as (e: BlastwallError) => T)(error) : fb) as T;
      } catch (fbErr) {
        // a broken fallback is the caller's bug: the outcome says so (CALLBACK_FAILED, the call's error in details)
        const failed = callbackFailed(`${this.name}.fallback`, fbErr, this.name);
        failed.details!.error = error;
        return { ok: false, value: undefined as T, source: 'fallback', ageMs: 0, degraded: true, error: failed };
      }
      return { ok: true, value, source: 'fallback', ageMs: 0, degraded: true, error };
    });
  }

  /** @internal Set by the wall's fault injector only while a fault (or a drill's observer) is active here. */
  faultSlot: SlotWrapper | undefined = undefined;

  private callCore<T>(fn: AttemptFn<T>, options: CallOptions<T> | undefined, accepted = false): Promise<T> {
    if (!accepted && this.host.isClosed()) return Promise.reject(new BlastwallError('CLOSED', 'The wall is closed', { dependency: this.name }));
    const op = operationStorage.getStore();
    const slot = this.faultSlot;
    const ctx = new CallContext(this.clock, (slot === undefined ? fn : slot(fn as AttemptFn<unknown>)) as AttemptFn<unknown>, options?.signal);
    ctx.dependency = this.name;
    ctx.minAttemptMs = this.expectedAttemptMs;
    ctx.resultFailure = this.resultFailure;
    if (op !== undefined) this.enterOperation(ctx, op);
    ctx.startedAt = this.clock.now();
    if (options?.request !== undefined && this.maxRequestBytes !== Number.POSITIVE_INFINITY) {
      let size: number;
      try {
        size = this.measure(options.request);
      } catch (err) {
        return Promise.reject(this.results.error(ctx, err));
      }
      if (size > this.maxRequestBytes) {
        return Promise.reject(
          this.results.error(ctx, new BlastwallError('PAYLOAD_TOO_LARGE', `Request of ${size} bytes exceeds ${this.maxRequestBytes}`, { dependency: this.name })),
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

  // ---- deferrable ----

  private defer(fn: AttemptFn<unknown>): Promise<DeferReceipt> {
    // the operation depends on this dependency even though it does not wait for it: record the edge
    const op = operationStorage.getStore();
    if (op !== undefined && !op.edges.has(this.name)) op.edges.add(this.name);
    return this.deferred.enqueue(fn);
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
    this.lastCacheAgeMs = age < 0 ? undefined : age;
    return this.lastCacheAgeMs;
  }

  /** The cache-age signal as last read by the health interval (for `wall.impact()`; reading it changes nothing). */
  lastCacheAgeMs: number | undefined = undefined;

  /** Backlog of the deferred queue (in memory, plus attached durable queues): size and age of the oldest item. */
  backlog(): { size: number; oldestAgeMs: number; active: number } {
    const own = this.deferred.backlog();
    let { size, oldestAgeMs } = own;
    for (const src of this.backlogSources) {
      const b = src();
      size += b.size;
      oldestAgeMs = Math.max(oldestAgeMs, b.oldestAgeMs);
    }
    return { size, oldestAgeMs, active: own.active };
  }

  /** Waits for queued deferred work to finish (used by `wall.close()` within its grace period). */
  drainDeferred(): Promise<void> {
    return this.deferred.drain();
  }

  /** Drops queued deferred work; returns how many items were dropped. */
  dropDeferred(): number {
    return this.deferred.drop();
  }

  // ---- health ----

  /**
   * This dependency's signals over its health window (`health.window`, default 60s): calls, successes,
   * failures, rejections, invalid responses, timeouts, retries, fallbacks served, and latency percentiles
   * in ms. The numbers `wall.health()` reports as `signals`; reading them changes nothing.
   */
  totals(): SignalTotals {
    return this.stats.totals(this.clock.now());
  }

  /** Re-evaluates the health state; returns the previous state if it changed. */
  evaluate(): HealthState | undefined {
    const now = this.clock.now();
    const totals = this.stats.totals(now);
    // what an attempt is expected to take: the p99 of observed latencies, failures included, capped by the
    // timeout (an upper bound, not the estimate); 0 until there are 5 observations, and the retry policy then
    // goes by the call's own last attempt. A retry is started only if this much time is left.
    const timeout = this.timeoutMs ?? 0;
    const seen = totals.successes + totals.failures + totals.invalid;
    this.expectedAttemptMs = seen >= 5 && totals.p99 > 0 ? Math.min(timeout || totals.p99, totals.p99) : 0;
    return this.classifier.evaluate({ totals, breaker: this.breaker?.state }, now);
  }
}
