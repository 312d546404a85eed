import { callbackFailed, guarded } from '../../core/callback.js';
import { timerDurationOption, type Duration } from '../../core/duration.js';
import { configError } from '../../core/validate.js';
import { enumOption, numberOption, objectOption } from '../../core/validate.js';

/**
 * A backoff schedule is a value: a factory that starts a fresh step function for each call. The step
 * function gets the number of the attempt that just failed (1-based) and returns the delay before the
 * next attempt in ms.
 */
export type Schedule = (random?: () => number) => (failedAttempt: number) => number;

/**
 * How an exponential delay `d` is randomised, so that clients that failed together do not retry together:
 * `none` waits exactly `d`; `full` a random time in [0, d); `equal` d/2 plus a random time in [0, d/2);
 * `decorrelated` a random time between `base` and three times the previous wait, capped at `max` (ignores
 * `factor`).
 */
export type Jitter = 'none' | 'full' | 'equal' | 'decorrelated';

/** Options of {@link exponential}; the delay before retry n is `base * factor^(n-1)`, capped at `max`, then jittered. */
export interface ExponentialOptions {
  /** The delay after the first failed attempt (before jitter), ≥ 0. Default 50ms. */
  base?: Duration;
  /** The cap on any delay, at least `base`. Default 30s. */
  max?: Duration;
  /** Growth per attempt, a number ≥ 1 (1 keeps the delay at `base`). Default 2. */
  factor?: number;
  /** Randomisation of each delay; see {@link Jitter}. Default `full`. */
  jitter?: Jitter;
}

/**
 * A backoff written as data, as accepted by the `backoff` option of {@link retry} and of a wall dependency's
 * `retry` section: e.g. `{ base: '100ms', max: '5s', jitter: 'equal' }` or `{ kind: 'constant', base: '1s' }`.
 * An invalid field throws `CONFIG_INVALID` naming it.
 */
export interface BackoffSpec extends ExponentialOptions {
  /** `'exponential'` (default) or `'constant'` (waits `base` every time). */
  kind?: 'exponential' | 'constant';
}

/** Always the same delay. */
export function constant(delay: Duration): Schedule {
  const ms = timerDurationOption('backoff.delay', delay, 0);
  return () => () => ms;
}

/**
 * Exponential backoff `base * factor^(n-1)` capped at `max`, with jitter as in the AWS architecture
 * blog: `full` = random(0, d), `equal` = d/2 + random(0, d/2), `decorrelated` = min(max, random(base, prev * 3)).
 */
export function exponential(options: ExponentialOptions = {}, field = 'backoff'): Schedule {
  const o = objectOption(field, options, ['base', 'max', 'factor', 'jitter']);
  const base = o.base === undefined ? 50 : timerDurationOption(`${field}.base`, o.base, 0);
  const max = o.max === undefined ? 30_000 : timerDurationOption(`${field}.max`, o.max, 0);
  if (max < base) throw configError(`${field}.max`, `a duration ≥ \`${field}.base\` (${base}ms)`, o.max);
  const factor = o.factor === undefined ? 2 : numberOption(`${field}.factor`, o.factor, 1);
  const jitter = o.jitter === undefined ? 'full' : enumOption(`${field}.jitter`, o.jitter, ['none', 'full', 'equal', 'decorrelated'] as const);
  return (random = Math.random) => {
    let prev = base;
    return (n) => {
      if (jitter === 'decorrelated') {
        const hi = Math.max(base, prev * 3);
        prev = Math.min(max, base + random() * (hi - base));
        return prev;
      }
      const d = Math.min(max, base * factor ** Math.max(0, n - 1));
      if (jitter === 'full') return random() * d;
      if (jitter === 'equal') return d / 2 + (random() * d) / 2;
      return d;
    };
  };
}

/** Builds a schedule from the declarative form used in dependency specs. */
export function scheduleFrom(spec: unknown, field = 'backoff'): Schedule {
  if (typeof spec === 'function') return guardedSchedule(field, spec as Schedule);
  if (spec === undefined) return exponential({}, field);
  if (typeof spec === 'number' || typeof spec === 'string') return constantAt(field, spec);
  const o = objectOption(field, spec, ['kind', 'base', 'max', 'factor', 'jitter']);
  const kind = o.kind === undefined ? 'exponential' : enumOption(`${field}.kind`, o.kind, ['exponential', 'constant'] as const);
  if (kind === 'constant') return constantAt(`${field}.base`, o.base ?? 0);
  const { kind: _k, ...rest } = o;
  return exponential(rest as ExponentialOptions, field);
}

function constantAt(field: string, delay: unknown): Schedule {
  const ms = timerDurationOption(field, delay, 0);
  return () => () => ms;
}

/**
 * A schedule given as a function is user code: a throw (starting it or computing a delay) becomes
 * `CALLBACK_FAILED` naming `field`; a delay that is not a number ≥ 0 counts as 0.
 */
function guardedSchedule(field: string, schedule: Schedule): Schedule {
  const start = guarded(field, schedule);
  return (random) => {
    const step = start(random) as unknown;
    if (typeof step !== 'function') throw callbackFailed(field, new TypeError(`the schedule returned ${typeof step}, not a step function`));
    const guardedStep = guarded(field, step as (n: number) => number);
    return (n) => {
      const d = guardedStep(n);
      return typeof d === 'number' && d >= 0 ? d : 0;
    };
  };
}
