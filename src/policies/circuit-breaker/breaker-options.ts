/**
 * A circuit breaker's options: what `circuitBreaker()` accepts ({@link CircuitBreakerOptions}, the list
 * the wall's `breaker` section reuses) and their check, in the order errors are reported, into the
 * settings the breaker runs on (defaults filled in, the window built).
 */
import type { Clock } from '../../core/clock.js';
import { durationOption, type Duration } from '../../core/duration.js';
import { optionNames } from '../../core/option-names.js';
import { configError, fnOption, intOption, isPlainObject, nameOption, objectOption, ratioOption } from '../../core/validate.js';
import { CountWindow, type SlidingWindow, TimeWindow } from './window.js';

/** Open duration as a function of how many times in a row the breaker has opened (1, 2, ...). */
export type OpenSchedule = (consecutiveOpens: number) => number;

/**
 * Options of {@link circuitBreaker}. All are optional; an unknown option or a value out of range throws
 * `CONFIG_INVALID` when the policy is built.
 */
export interface CircuitBreakerOptions {
  /** Open when failures / calls in the window reaches this ratio (> 0 and ≤ 1), once the window holds `minimumCalls`. Default 0.5. */
  failureRate?: number;
  /**
   * Calls that take `over` or longer count as slow (even when they succeed); open when slow / calls reaches
   * `rate` (> 0 and ≤ 1). A slow probe counts as a failed probe. Default: slow calls are not judged.
   */
  slowCall?: { over: Duration; rate: number };
  /**
   * What the rates are judged over: a time window (a duration of at least 10ms, e.g. `'30s'`: the calls that
   * ended in the last 30 seconds) or a count window (`{ calls: 100 }`: the last 100 calls, 1 to 1,000,000).
   * Default `'30s'`. The window is cleared whenever the breaker closes.
   */
  window?: Duration | { calls: number };
  /** Calls needed in the window before rates are judged (an integer ≥ 1; at most the size of a count window). Default 20. */
  minimumCalls?: number;
  /**
   * How long the breaker stays open: a duration, or a schedule of the consecutive-open count. Default 5s.
   * A schedule that throws or returns something other than a finite number ≥ 0 is reported (a process
   * warning) and the default 5s is used for that opening, so the breaker never stays open for ever.
   */
  halfOpenAfter?: Duration | OpenSchedule;
  /** Probe calls admitted while half-open, 1 to 10,000; further calls are refused with `CIRCUIT_OPEN` until they end. Default 1. */
  probes?: number;
  /** Successful probes needed to close (1 to `probes`); more failed probes than `probes − probeSuccesses` open it again. Default: all probes. */
  probeSuccesses?: number;
  /**
   * Which errors count as failures (others count as successes). Default: all. A caller's own abort is never
   * recorded. If it throws, the call counts as a failure and rejects with `CALLBACK_FAILED` (cause: what it threw).
   */
  isFailure?: (error: unknown) => boolean;
  /** The clock windows and open times are measured on. Default the real clock; tests pass a `FakeClock`. */
  clock?: Clock;
  /** Names the policy in its `CIRCUIT_OPEN` errors (as the dependency) when the call does not go through a wall dependency. */
  name?: string;
}

/** Every option of `circuitBreaker()`, as its runtime check accepts them (the wall's `breaker` section reuses the list). */
export const BREAKER_OPTION_NAMES = optionNames<CircuitBreakerOptions>()('failureRate', 'slowCall', 'window', 'minimumCalls', 'halfOpenAfter', 'probes', 'probeSuccesses', 'isFailure', 'clock', 'name');

/** How long the breaker stays open when `halfOpenAfter` is not given, or its schedule fails (ms). */
export const DEFAULT_OPEN_MS = 5000;

const defaultIsFailure = () => true;

/** The settings a breaker runs on: its options checked, with their defaults. */
export interface BreakerSettings {
  name: string | undefined;
  failureRate: number;
  /** `Infinity` when slow calls are not judged (and then `slowRate` too). */
  slowOverMs: number;
  slowRate: number;
  minimumCalls: number;
  window: SlidingWindow;
  openFor: OpenSchedule;
  probes: number;
  probeSuccesses: number;
  isFailure: (e: unknown) => boolean;
}

/**
 * Checks the options of a breaker (their names already checked, and `clock`) and fills in the defaults; a
 * time window starts at `now`. Throws `CONFIG_INVALID` naming the first field that is wrong.
 */
export function breakerSettings(o: Record<string, unknown>, now: number): BreakerSettings {
  const name = nameOption('breaker.name', o.name);
  const failureRate = o.failureRate === undefined ? 0.5 : ratioOption('breaker.failureRate', o.failureRate);
  let slowOverMs = Number.POSITIVE_INFINITY;
  let slowRate = Number.POSITIVE_INFINITY;
  if (o.slowCall !== undefined) {
    const sc = objectOption('breaker.slowCall', o.slowCall, ['over', 'rate']);
    slowOverMs = durationOption('breaker.slowCall.over', sc.over);
    slowRate = ratioOption('breaker.slowCall.rate', sc.rate);
  }
  const minimumCalls = o.minimumCalls === undefined ? 20 : intOption('breaker.minimumCalls', o.minimumCalls, 1);
  let window: SlidingWindow;
  if (o.window === undefined) window = new TimeWindow(30_000, now);
  else if (isPlainObject(o.window)) {
    const w = objectOption('breaker.window', o.window, ['calls']);
    window = new CountWindow(intOption('breaker.window.calls', w.calls, 1, 1_000_000));
  } else if (typeof o.window === 'number' || typeof o.window === 'string') {
    window = new TimeWindow(durationOption('breaker.window', o.window, 10), now);
  } else throw configError('breaker.window', "a duration (time window, e.g. '30s') or { calls: N } (count window)", o.window);
  if (window instanceof CountWindow && minimumCalls > window.size) {
    throw configError('breaker.minimumCalls', `an integer ≤ breaker.window.calls (${window.size})`, minimumCalls);
  }
  let openFor: OpenSchedule;
  if (typeof o.halfOpenAfter === 'function') openFor = o.halfOpenAfter as OpenSchedule;
  else {
    const ms = o.halfOpenAfter === undefined ? DEFAULT_OPEN_MS : durationOption('breaker.halfOpenAfter', o.halfOpenAfter);
    openFor = () => ms;
  }
  const probes = o.probes === undefined ? 1 : intOption('breaker.probes', o.probes, 1, 10_000);
  const probeSuccesses = o.probeSuccesses === undefined ? probes : intOption('breaker.probeSuccesses', o.probeSuccesses, 1, probes);
  const isFailure = o.isFailure === undefined ? defaultIsFailure : fnOption('breaker.isFailure', o.isFailure);
  return { name, failureRate, slowOverMs, slowRate, minimumCalls, window, openFor, probes, probeSuccesses, isFailure };
}
