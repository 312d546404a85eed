/**
 * Time is injected. Every policy reads `now()` and arms timers through a Clock, so tests drive a
 * fake clock and never sleep.
 */
export interface TimerHandle {
  readonly __timer: unique symbol;
}

export interface Clock {
  /** Milliseconds since the Unix epoch; monotonic for the real clock (performance.timeOrigin + performance.now()). */
  now(): number;
  /** Arms a one-shot timer. */
  setTimer(fn: () => void, ms: number): TimerHandle;
  clearTimer(handle: TimerHandle): void;
  /** Optional: whether an armed timer keeps the process alive (real timers start ref'd). */
  refTimer?(handle: TimerHandle, ref: boolean): void;
}

class RealClock implements Clock {
  private armed = 0;
  now(): number {
    return performance.timeOrigin + performance.now();
  }
  setTimer(fn: () => void, ms: number): TimerHandle {
    this.armed++;
    const t = setTimeout(() => {
      this.armed--;
      fn();
    }, ms);
    return t as unknown as TimerHandle;
  }
  clearTimer(handle: TimerHandle): void {
    const t = handle as unknown as NodeJS.Timeout;
    // `_destroyed` tells whether the timer already fired or was cleared.
    if (!(t as unknown as { _destroyed?: boolean })._destroyed) this.armed--;
    clearTimeout(t);
  }
  refTimer(handle: TimerHandle, ref: boolean): void {
    const t = handle as unknown as NodeJS.Timeout;
    if (ref) t.ref();
    else t.unref();
  }
  /** Timers this clock armed that have neither fired nor been cleared (for leak checks). */
  pendingTimers(): number {
    return this.armed;
  }
}

export const realClock: Clock & { pendingTimers(): number } = new RealClock();

/** Waits `ms` on `clock`; rejects with `signal.reason` when aborted, and always clears its timer and listener. */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  if (ms <= 0 && signal === undefined) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    let onAbort: (() => void) | undefined;
    const handle = clock.setTimer(() => {
      if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort);
      resolve();
    }, Math.max(0, ms));
    if (signal !== undefined) {
      onAbort = () => {
        clock.clearTimer(handle);
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
    }
  });
}
