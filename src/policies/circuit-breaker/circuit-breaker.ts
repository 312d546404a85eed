import { coarseClock } from '../../core/clock.js';
import type { CallContext } from '../../core/context.js';
import { BlastwallError, isBlastwallError } from '../../core/errors.js';
import { Emitter } from '../../core/events.js';
import { type Next, PolicyBase } from '../../core/policy.js';
import { callbackFailed, warnCallback } from '../../core/callback.js';
import { clockOption, configError, isPlainObject, objectOption } from '../../core/validate.js';
import { BREAKER_OPTION_NAMES, type CircuitBreakerOptions, DEFAULT_OPEN_MS, type OpenSchedule, breakerSettings } from './breaker-options.js';
import type { SlidingWindow, WindowTotals } from './window.js';

export * from './window.js';
// the options have their own file; re-exported here so `circuit-breaker.js` keeps offering them
export { BREAKER_OPTION_NAMES, type CircuitBreakerOptions, type OpenSchedule } from './breaker-options.js';

/**
 * A breaker's state. `closed`: calls pass and are counted. `open`: calls are refused with `CIRCUIT_OPEN` until
 * the open time is over. `half-open`: a few probe calls pass; enough successes close the breaker, too many
 * failures open it again. `isolated`: held open by hand (`isolate()`) until `reset()`.
 */
export type BreakerState = 'closed' | 'open' | 'half-open' | 'isolated';

/** Emitted by {@link CircuitBreakerPolicy.onStateChange} on every transition. */
export interface StateChange {
  /** The state before. */
  from: BreakerState;
  /** The state after. */
  to: BreakerState;
  /** Why, for people: e.g. `failure rate 60% ≥ 50% over 20 calls; open for 5000ms`, `1 of 1 probes succeeded`, or a reason given to `isolate`/`reset`. */
  reason: string;
  /** When, ms since the Unix epoch (the breaker's clock). */
  at: number;
  /** The window's counts that made the breaker open, when a rate did (absent for other transitions). */
  totals?: WindowTotals;
}

/**
 * A breaker's state at one moment, from {@link CircuitBreakerPolicy.snapshot}; pass it to `restore()` (e.g.
 * after a restart) to carry an open or isolated breaker over.
 */
export interface BreakerSnapshot {
  /** The state now (`half-open` once an open breaker's time is over, even before a probe arrives). */
  state: BreakerState;
  /** When the breaker entered its current state, ms since the Unix epoch (the breaker's clock). */
  since: number;
  /** When an open breaker lets probes through (ms, clock time). */
  openUntil: number;
  /** How many times in a row the breaker has opened without closing; the argument of a `halfOpenAfter` schedule. */
  consecutiveOpens: number;
  /** The counts in the window now (calls, failures, slow calls). */
  window: WindowTotals;
}

const CLOSED = 0;
const OPEN = 1;
const HALF_OPEN = 2;
const ISOLATED = 3;
const NAMES: BreakerState[] = ['closed', 'open', 'half-open', 'isolated'];

export class CircuitBreakerPolicy extends PolicyBase {
  readonly name: string | undefined;
  readonly failureRate: number;
  readonly slowOverMs: number;
  readonly slowRate: number;
  readonly minimumCalls: number;
  readonly probes: number;
  readonly probeSuccesses: number;
  private readonly openFor: OpenSchedule;
  /** How long the current (or last) opening lasts. */
  private openMs = 0;
  private readonly isFailure: (e: unknown) => boolean;
  private readonly window: SlidingWindow;
  private readonly now: () => number;

  private s = CLOSED;
  private since: number;
  private openUntil = 0;
  private consecutiveOpens = 0;
  private generation = 0;
  private probesAdmitted = 0;
  private probeOk = 0;
  private probeFailed = 0;

  private readonly onStateChangeEmitter = new Emitter<StateChange>();
  readonly onStateChange = this.onStateChangeEmitter.subscribe;

  constructor(options: CircuitBreakerOptions = {}) {
    const o = objectOption('breaker', options, BREAKER_OPTION_NAMES);
    super(clockOption('breaker.clock', o.clock));
    this.now = coarseClock(this.clock);
    const now = this.clock.now();
    const b = breakerSettings(o, now);
    this.name = b.name;
    this.failureRate = b.failureRate;
    this.slowOverMs = b.slowOverMs;
    this.slowRate = b.slowRate;
    this.minimumCalls = b.minimumCalls;
    this.window = b.window;
    this.openFor = b.openFor;
    this.probes = b.probes;
    this.probeSuccesses = b.probeSuccesses;
    this.isFailure = b.isFailure;
    this.since = now;
  }

  /**
   * The state now. An open breaker whose open time is over reads `half-open` (the transition itself happens
   * when the next call arrives).
   */
  get state(): BreakerState {
    if (this.s === OPEN && this.now() >= this.openUntil) return 'half-open';
    return NAMES[this.s]!;
  }

  /** Closed and not judging slow calls: the success path needs no per-call closure. */
  private readonly closedOk = (v: unknown): unknown => {
    if (this.s === CLOSED) this.window.record(false, false, this.now());
    return v;
  };

  private readonly closedErr = (e: unknown): never => {
    if (isBlastwallError(e, 'ABORTED')) throw e;
    const verdict = this.verdict(e);
    this.onResult(this.generation, false, verdict !== false, false);
    throw verdict === true || verdict === false ? e : verdict;
  };

  /** Whether `e` counts as a failure; a throwing `isFailure` counts as one and gives the error to fail with. */
  private verdict(e: unknown): boolean | BlastwallError {
    try {
      return Boolean(this.isFailure(e));
    } catch (err) {
      return callbackFailed('breaker.isFailure', err, this.name);
    }
  }

  /**
   * Runs `next` (the rest of a pipeline) for the call `ctx` if the breaker admits it, and records the outcome.
   * This is how {@link pipeline} links policies; to make a call, use `execute(fn)`. Rejects with
   * `CIRCUIT_OPEN` (with `retryAfterMs` while open) when refused, otherwise settles as `next` does.
   */
  run(ctx: CallContext, next: Next): Promise<unknown> {
    // a call admitted while closed is recorded only if the breaker is still closed when it ends
    if (this.s === CLOSED && this.slowOverMs === Number.POSITIVE_INFINITY) return next(ctx).then(this.closedOk, this.closedErr);
    let probe = false;
    if (this.s !== CLOSED) {
      const rejection = this.admitNonClosed();
      if (rejection !== undefined) return Promise.reject(ctx.dependency ? rejection.withDependency(ctx.dependency) : rejection);
      probe = true;
    }
    const gen = this.generation;
    const t0 = this.slowOverMs === Number.POSITIVE_INFINITY ? 0 : this.now();
    return next(ctx).then(
      (v) => {
        this.onResult(gen, probe, false, t0 !== 0 && this.now() - t0 >= this.slowOverMs);
        return v;
      },
      (e: unknown) => {
        if (isBlastwallError(e, 'ABORTED')) {
          // the caller gave up: says nothing about the dependency; a probe slot is handed back
          if (probe && gen === this.generation && this.probesAdmitted > 0) this.probesAdmitted--;
          throw e;
        }
        const verdict = this.verdict(e);
        this.onResult(gen, probe, verdict !== false, t0 !== 0 && this.now() - t0 >= this.slowOverMs);
        throw verdict === true || verdict === false ? e : verdict;
      },
    );
  }

  /** Returns an error when the call is refused; otherwise admits a probe. */
  private admitNonClosed(): BlastwallError | undefined {
    const now = this.now();
    if (this.s === OPEN && now >= this.openUntil) this.transition(HALF_OPEN, `open for ${this.openMs}ms; probing`);
    if (this.s === HALF_OPEN) {
      if (this.probesAdmitted < this.probes) {
        this.probesAdmitted++;
        return undefined;
      }
      return new BlastwallError('CIRCUIT_OPEN', `Circuit half-open: all ${this.probes} probe calls are in flight`, {
        dependency: this.name,
        retryAfterMs: 0,
      });
    }
    if (this.s === ISOLATED) return new BlastwallError('CIRCUIT_OPEN', 'Circuit isolated by hand', { dependency: this.name });
    return new BlastwallError('CIRCUIT_OPEN', `Circuit open for another ${Math.ceil(this.openUntil - now)}ms`, {
      dependency: this.name,
      retryAfterMs: this.openUntil - now,
    });
  }

  /** @internal Fast path of a fused pipeline: the generation when closed (calls may pass without a probe), else -1. */
  closedGeneration(): number {
    return this.s === CLOSED ? this.generation : -1;
  }

  /**
   * @internal Records a call admitted through `closedGeneration()`. Returns the error the call fails with:
   * `error` itself, or `CALLBACK_FAILED` when `isFailure` threw. Never throws.
   */
  recordClosed(gen: number, error: unknown, startedAt: number): unknown {
    if (error !== undefined && isBlastwallError(error, 'ABORTED')) return error;
    const slow = startedAt !== 0 && this.now() - startedAt >= this.slowOverMs;
    const verdict = error === undefined ? false : this.verdict(error);
    this.onResult(gen, false, verdict !== false, slow);
    return verdict === true || verdict === false ? error : verdict;
  }

  /** @internal Start time for slow-call measurement (0 when slow calls are not judged). */
  slowStart(): number {
    return this.slowOverMs === Number.POSITIVE_INFINITY ? 0 : this.now();
  }

  private onResult(gen: number, probe: boolean, failed: boolean, slow: boolean): void {
    if (gen !== this.generation) return; // a call from before the last transition: its verdict is stale
    if (probe) {
      if (this.s !== HALF_OPEN) return;
      if (failed || slow) this.probeFailed++;
      else this.probeOk++;
      if (this.probeOk >= this.probeSuccesses) {
        this.consecutiveOpens = 0;
        this.transition(CLOSED, `${this.probeOk} of ${this.probes} probes succeeded`);
      } else if (this.probeFailed > this.probes - this.probeSuccesses) {
        this.open(`${this.probeFailed} probe(s) failed in half-open`);
      }
      return;
    }
    if (this.s !== CLOSED) return;
    const now = this.now();
    this.window.record(failed, slow, now);
    if (!failed && !slow) return;
    const t = this.window.totals(now);
    if (t.calls < this.minimumCalls) return;
    if (t.failures / t.calls >= this.failureRate) {
      this.open(`failure rate ${pct(t.failures / t.calls)} ≥ ${pct(this.failureRate)} over ${t.calls} calls`, t);
    } else if (t.slow / t.calls >= this.slowRate) {
      this.open(`slow-call rate ${pct(t.slow / t.calls)} ≥ ${pct(this.slowRate)} (over ${this.slowOverMs}ms) over ${t.calls} calls`, t);
    }
  }

  private open(reason: string, totals?: WindowTotals): void {
    this.consecutiveOpens++;
    const ms = this.openDuration(this.consecutiveOpens);
    this.openMs = ms;
    this.openUntil = this.clock.now() + ms;
    this.transition(OPEN, `${reason}; open for ${ms}ms`, totals);
  }

  /** The schedule's duration for this opening; a throwing or nonsensical schedule gets the default. */
  private openDuration(opens: number): number {
    let ms: unknown;
    try {
      ms = this.openFor(opens);
    } catch (err) {
      warnCallback('breaker.halfOpenAfter', err);
      return DEFAULT_OPEN_MS;
    }
    if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) {
      warnCallback('breaker.halfOpenAfter', new Error(`returned ${String(ms)}, not a finite number of ms ≥ 0; opening for ${DEFAULT_OPEN_MS}ms`));
      return DEFAULT_OPEN_MS;
    }
    return ms;
  }

  private transition(to: number, reason: string, totals?: WindowTotals): void {
    const from = this.s;
    this.s = to;
    this.generation++;
    this.since = this.clock.now();
    this.probesAdmitted = 0;
    this.probeOk = 0;
    this.probeFailed = 0;
    if (to === CLOSED) this.window.reset();
    if (this.onStateChangeEmitter.active) {
      const ev: StateChange = { from: NAMES[from]!, to: NAMES[to]!, reason, at: this.since };
      if (totals !== undefined) ev.totals = totals;
      this.onStateChangeEmitter.emit(ev);
    }
  }

  /** Holds the breaker open until `reset()` (an operator's decision). */
  isolate(reason = 'isolated by hand'): void {
    if (this.s !== ISOLATED) this.transition(ISOLATED, reason);
  }

  /** Closes the breaker and clears its window. */
  reset(reason = 'reset by hand'): void {
    this.consecutiveOpens = 0;
    if (this.s !== CLOSED) this.transition(CLOSED, reason);
    else this.window.reset();
  }

  /** The breaker's state, open-until time and window counts now; reading it changes nothing. */
  snapshot(): BreakerSnapshot {
    const now = this.clock.now();
    return {
      state: this.state,
      since: this.since,
      openUntil: this.openUntil,
      consecutiveOpens: this.consecutiveOpens,
      window: this.window.totals(now),
    };
  }

  /**
   * Restores a snapshot's state (closed, open until, isolated, consecutive opens). Window counts are not
   * restored: a fresh window judges fresh calls. An in-progress half-open is restored as open-until-now,
   * so the next call probes again.
   */
  restore(snap: BreakerSnapshot): void {
    if (!isPlainObject(snap) || !NAMES.includes(snap.state)) throw configError('snapshot.state', `one of ${NAMES.join(', ')}`, (snap as { state?: unknown })?.state);
    if (typeof snap.openUntil !== 'number' || !Number.isFinite(snap.openUntil)) throw configError('snapshot.openUntil', 'a finite number', snap.openUntil);
    if (!Number.isInteger(snap.consecutiveOpens) || snap.consecutiveOpens < 0) throw configError('snapshot.consecutiveOpens', 'an integer ≥ 0', snap.consecutiveOpens);
    const to = snap.state === 'closed' ? CLOSED : snap.state === 'isolated' ? ISOLATED : OPEN;
    this.consecutiveOpens = snap.consecutiveOpens;
    this.openUntil = snap.state === 'half-open' ? this.clock.now() : snap.openUntil;
    this.window.reset();
    if (to !== this.s) this.transition(to, 'restored from snapshot');
  }

  /** The window the rates are judged over: `{ kind: 'time', ms }` or `{ kind: 'count', size }` (calls). */
  windowKind() {
    return this.window.describe();
  }
}

function pct(x: number): string {
  return `${Math.round(x * 1000) / 10}%`;
}

/**
 * A policy that stops calling a dependency that is failing: once at least 20 calls in the last 30s have
 * ended and half or more of them failed, it opens and refuses calls at once with `CIRCUIT_OPEN` (with
 * `retryAfterMs`) for 5s, then lets one probe through; a successful probe closes it, a failed one opens
 * it again. All of these are options ({@link CircuitBreakerOptions}); `halfOpenAfter` can grow the open time
 * with each consecutive opening. A caller's own abort is never counted. Watch transitions with
 * `onStateChange`; `isolate()` and `reset()` are the operator's controls.
 *
 * @throws `CONFIG_INVALID` when an option is invalid.
 * @example
 * ```ts
 * import { circuitBreaker, pipeline, retry, timeout } from 'blastwall';
 *
 * const breaker = circuitBreaker({ failureRate: 0.3, window: { calls: 50 }, halfOpenAfter: (n) => Math.min(60_000, 5000 * 2 ** (n - 1)) });
 * breaker.onStateChange((c) => console.warn(`payments breaker ${c.from} → ${c.to}: ${c.reason}`));
 * const policy = pipeline(breaker, retry(), timeout('1s'));
 * const receipt = await policy.execute(({ signal }) => chargeCard(order, signal));
 * ```
 */
export function circuitBreaker(options?: CircuitBreakerOptions): CircuitBreakerPolicy {
  return new CircuitBreakerPolicy(options);
}
