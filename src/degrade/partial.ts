import { type Clock, realClock } from '../core/clock.js';
import { durationOption, type Duration } from '../core/duration.js';
import { BlastwallError } from '../core/errors.js';
import { configError, isPlainObject, objectOption } from '../core/validate.js';
import { currentOperation } from '../core/operation-context.js';

/**
 * What {@link partial} resolves with: the parts that answered in time, the names of those that did not, and
 * why. It never rejects because a part failed; check `missing` before reading a value.
 */
export interface PartialResult<T extends Record<string, unknown>> {
  /** The value of each part that resolved before the deadline, by part name. */
  values: Partial<T>;
  /** Parts that did not answer in time or failed. */
  missing: (keyof T & string)[];
  /**
   * Why each missing part is missing: what it threw or rejected with, or a `DEADLINE_EXCEEDED`
   * {@link BlastwallError} for a part still running at the deadline (or when `signal` aborted). Empty when
   * no time was left at the call: then every part is missing and none was started.
   */
  errors: Partial<Record<keyof T & string, unknown>>;
}

/**
 * Runs the optional parts of an answer in parallel under one deadline and returns what came back in
 * time, naming what is missing, so a page renders without the slow widget. Inside an operation the
 * operation's remaining deadline caps `timeout`. Parts still running at the deadline are aborted.
 */
export function partial<T extends Record<string, unknown>>(
  parts: { [K in keyof T]: (signal: AbortSignal) => Promise<T[K]> | T[K] },
  options: { timeout?: Duration; clock?: Clock; signal?: AbortSignal } = {},
): Promise<PartialResult<T>> {
  if (!isPlainObject(parts)) throw configError('parts', 'an object of functions', parts);
  const o = objectOption('partial options', options, ['timeout', 'clock', 'signal']);
  const clock = (o.clock as Clock | undefined) ?? realClock;
  let budget = o.timeout === undefined ? Number.POSITIVE_INFINITY : durationOption('timeout', o.timeout);
  const op = currentOperation();
  if (op !== undefined) budget = Math.min(budget, op.deadline - clock.now());
  if (budget === Number.POSITIVE_INFINITY) throw configError('timeout', 'a duration (or a call inside an operation with a deadline)', o.timeout);
  const names = Object.keys(parts) as (keyof T & string)[];
  for (const n of names) if (typeof parts[n] !== 'function') throw configError(`parts.${n}`, 'a function of an AbortSignal', parts[n]);
  const result: PartialResult<T> = { values: {}, missing: [], errors: {} };
  if (budget <= 0) {
    result.missing = [...names];
    return Promise.resolve(result);
  }
  return new Promise((resolve) => {
    const controllers = names.map(() => new AbortController());
    const done = new Set<string>();
    let finished = false;
    const outer = o.signal as AbortSignal | undefined;
    const finish = () => {
      if (finished) return;
      finished = true;
      clock.clearTimer(timer);
      outer?.removeEventListener('abort', finish);
      const reason = new BlastwallError('DEADLINE_EXCEEDED', 'partial: the deadline passed before this part answered');
      names.forEach((n, i) => {
        if (!done.has(n)) {
          controllers[i]!.abort(reason);
          if (!(n in result.errors)) result.errors[n] = reason;
        }
      });
      result.missing = names.filter((n) => !(n in result.values));
      resolve(result);
    };
    const timer = clock.setTimer(finish, budget);
    outer?.addEventListener('abort', finish, { once: true });
    names.forEach((n, i) => {
      Promise.resolve()
        .then(() => parts[n](controllers[i]!.signal))
        .then(
          (v) => {
            if (finished) return;
            done.add(n);
            result.values[n] = v;
            if (done.size === names.length) finish();
          },
          (e: unknown) => {
            if (finished) return;
            done.add(n);
            result.errors[n] = e;
            if (done.size === names.length) finish();
          },
        );
    });
  });
}
