import type { Clock } from '../../core/clock.js';
import { realClock } from '../../core/clock.js';
import { durationOption, timerDurationOption, type Duration } from '../../core/duration.js';
import { boolOption, clockOption, configError, fnOption, intOption, isPlainObject, numberOption, objectOption, ratioOption } from '../../core/validate.js';
import { Gradient2Limit, type Gradient2Options } from '../../policies/adaptive-concurrency/gradient2.js';

/**
 * Options of the `AdmissionController` (and of `admission` in the HTTP guard): the in-flight limit,
 * the queue and its CoDel limits, the shed controller's window and recovery, the event-loop signals. Every
 * field is validated when the controller is created.
 */
export interface AdmissionOptions {
  /** A fixed in-flight limit, or `{ adaptive: Gradient2Options }`. Default adaptive (Gradient2, floor 4). */
  limit?: number | { adaptive: Gradient2Options };
  /** Requests that may wait for a slot. Default 256. */
  queue?: number;
  /** CoDel: the queue-time limit for sheddable work once the queue has not been empty for `interval`. Default 5ms. */
  target?: Duration;
  /** CoDel: the queue-time limit for sheddable work while the queue empties regularly, and the interval that tells. Default 100ms. */
  interval?: Duration;
  /** Length of the window the shed controller judges (utilisation, delay, standing queue). Default 100ms. */
  sampleInterval?: Duration;
  /** Room needed before a class refused outright is admitted again (one class at a time). Default 500ms. */
  recovery?: Duration;
  /** Utilisation (event loop, or slots) at or above which the resource counts as saturated. Default 0.95. */
  saturation?: number;
  /** Event-loop delay over a window above which a saturated loop counts as backlogged (ms). Default 50. */
  maxEventLoopDelayMs?: number;
  /** Longest a critical request without a deadline waits for a slot. Default 1s. */
  maxWait?: Duration;
  /**
   * Measure the event loop: its utilisation (`performance.eventLoopUtilization`) and the lateness of the
   * controller's own sampling timer, each over the last window. The HTTP adapters turn this on. Default false.
   */
  eventLoop?: boolean;
  /** Reads the event-loop delay over the last window (ms). Replaces the sampler's lateness (tests, custom probes). */
  eventLoopDelay?: () => number;
  /** Reads the event-loop utilisation (0..1) since its previous call. Replaces `performance.eventLoopUtilization`. */
  eventLoopUtilization?: () => number;
  /**
   * Schedules a function for the event loop's next turn, after its poll phase (default `setImmediate`):
   * a saturated loop starts one piece of admitted work per turn. Tests inject their own.
   */
  eventLoopTurn?: (fn: () => void) => void;
  /** The clock for queue times and the sample window (default the real clock; a `FakeClock` in tests). */
  clock?: Clock;
}

export interface AdmissionSettings {
  clock: Clock;
  fixed: number | undefined;
  limiter: Gradient2Limit | undefined;
  maxQueue: number;
  targetMs: number;
  intervalMs: number;
  sampleMs: number;
  recoveryMs: number;
  saturation: number;
  maxDelayMs: number;
  maxWaitMs: number;
  eventLoop: boolean;
  loopDelay: (() => number) | undefined;
  loopUtilization: (() => number) | undefined;
  turn: (fn: () => void) => void;
}

const defaultTurn = (fn: () => void): void => {
  setImmediate(fn);
};

const KNOWN = [
  'limit',
  'queue',
  'target',
  'interval',
  'sampleInterval',
  'recovery',
  'saturation',
  'maxEventLoopDelayMs',
  'maxWait',
  'eventLoop',
  'eventLoopDelay',
  'eventLoopUtilization',
  'eventLoopTurn',
  'clock',
] as const;

/** Validates every admission option at declaration: the field, the expectation and the value given. */
export function admissionSettings(options: unknown): AdmissionSettings {
  const o = objectOption('admission', options, KNOWN);
  let fixed: number | undefined;
  let limiter: Gradient2Limit | undefined;
  if (typeof o.limit === 'number') fixed = intOption('admission.limit', o.limit, 1);
  else if (o.limit === undefined) limiter = new Gradient2Limit({});
  else {
    if (!isPlainObject(o.limit)) throw configError('admission.limit', 'an integer ≥ 1 or { adaptive: { initial?, min?, max?, ... } }', o.limit);
    const a = objectOption('admission.limit', o.limit, ['adaptive']);
    limiter = new Gradient2Limit((a.adaptive as Gradient2Options | undefined) ?? {});
  }
  const intervalMs = o.interval === undefined ? 100 : timerDurationOption('admission.interval', o.interval);
  const sampleMs = o.sampleInterval === undefined ? 100 : timerDurationOption('admission.sampleInterval', o.sampleInterval, 10);
  return {
    clock: clockOption('admission.clock', o.clock) ?? realClock,
    fixed,
    limiter,
    maxQueue: o.queue === undefined ? 256 : intOption('admission.queue', o.queue, 0),
    targetMs: o.target === undefined ? 5 : timerDurationOption('admission.target', o.target),
    intervalMs,
    sampleMs,
    recoveryMs: o.recovery === undefined ? Math.max(500, sampleMs) : durationOption('admission.recovery', o.recovery, sampleMs),
    saturation: o.saturation === undefined ? 0.95 : ratioOption('admission.saturation', o.saturation),
    maxDelayMs: o.maxEventLoopDelayMs === undefined ? 50 : numberOption('admission.maxEventLoopDelayMs', o.maxEventLoopDelayMs, 1),
    maxWaitMs: o.maxWait === undefined ? 1000 : timerDurationOption('admission.maxWait', o.maxWait),
    eventLoop: o.eventLoop === undefined ? false : boolOption('admission.eventLoop', o.eventLoop),
    loopDelay: o.eventLoopDelay === undefined ? undefined : fnOption<() => number>('admission.eventLoopDelay', o.eventLoopDelay),
    loopUtilization: o.eventLoopUtilization === undefined ? undefined : fnOption<() => number>('admission.eventLoopUtilization', o.eventLoopUtilization),
    turn: o.eventLoopTurn === undefined ? defaultTurn : fnOption<(fn: () => void) => void>('admission.eventLoopTurn', o.eventLoopTurn),
  };
}
