/**
 * Time is injected. Every policy reads `now()` and arms timers through a Clock, so tests drive a
 * fake clock and never sleep.
 */
export interface TimerHandle {
  readonly __timer: unique symbol;
}

import { MAX_TIMER_MS } from './validate.js';

/**
 * The time source: `now()` and one-shot timers. Every policy, guard and store reads time through one, so
 * tests inject a `FakeClock` (from `blastwall/testing`) and never sleep; the default is {@link realClock}.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch; monotonic for the real clock (performance.timeOrigin + performance.now()). */
  now(): number;
  /**
   * Arms a one-shot timer. Any `ms` ≥ 0 is honoured, including delays past setTimeout's 2^31−1 ms limit
   * (the real clock re-arms such a timer in steps instead of letting it fire after 1 ms).
   */
  setTimer(fn: () => void, ms: number): TimerHandle;
  /** Disarms a timer this clock armed, so `fn` never runs; a handle that already fired or was cleared is ignored. */
  clearTimer(handle: TimerHandle): void;
  /** Optional: whether an armed timer keeps the process alive (real timers start ref'd). */
  refTimer?(handle: TimerHandle, ref: boolean): void;
  /**
   * Optional: a cheap reading that may lag `now()` by up to one tick (1 ms) plus the current event-loop
   * turn, the same time base Node's own timers use. The hot path reads this; see `coarseClock`.
   */
  coarseNow?(): number;
}

/** The cheapest reading a clock offers: its `coarseNow` when it has one, else `now`. */
export function coarseClock(clock: Clock): () => number {
  return clock.coarseNow === undefined ? () => clock.now() : () => clock.coarseNow!();
}

const TICK_MS = 1;

const ORIGIN = performance.timeOrigin;

class RealClock implements Clock {
  private armed = 0;
  private coarse = 0;
  private ticking = false;
  private used = false;
  private ticker: NodeJS.Timeout | undefined;

  /**
   * The precise, monotonic reading (about 50–100 ns on virtual machines): what latencies are measured
   * with, since the coarse reading does not see synchronous work within one event-loop turn.
   */
  now(): number {
    // the global is read each time (not cached): test fake timers replace `performance`
    return ORIGIN + performance.now();
  }

  /**
   * Reading a clock costs 50–200 ns on virtual machines; the hot path instead reads a value refreshed
   * every millisecond by one unref'd timer, which runs only while readings are being taken and stops one
   * tick after the last one.
   */
  coarseNow(): number {
    if (this.ticking) {
      this.used = true;
      return this.coarse;
    }
    this.coarse = this.now();
    this.ticking = true;
    this.used = false;
    if (this.ticker === undefined) {
      this.ticker = setTimeout(this.tick, TICK_MS);
      this.ticker.unref();
    } else this.ticker.refresh();
    return this.coarse;
  }

  private readonly tick = (): void => {
    if (!this.used) {
      this.ticking = false;
      return;
    }
    this.used = false;
    this.coarse = this.now();
    this.ticker!.refresh();
  };

  /** True while the coarse clock's ticker runs (it stops by itself one tick after the last reading). */
  get ticks(): boolean {
    return this.ticking;
  }
  setTimer(fn: () => void, ms: number): TimerHandle {
    this.armed++;
    if (ms > MAX_TIMER_MS) return new LongTimer(this, fn, this.now() + ms) as unknown as TimerHandle;
    const t = setTimeout(() => {
      this.armed--;
      fn();
    }, ms);
    return t as unknown as TimerHandle;
  }
  /** @internal A long timer fired. */
  longFired(): void {
    this.armed--;
  }
  clearTimer(handle: TimerHandle): void {
    if (handle instanceof LongTimer) {
      if (handle.clear()) this.armed--;
      return;
    }
    const t = handle as unknown as NodeJS.Timeout;
    // `_destroyed` tells whether the timer already fired or was cleared.
    if (!(t as unknown as { _destroyed?: boolean })._destroyed) this.armed--;
    clearTimeout(t);
  }
  refTimer(handle: TimerHandle, ref: boolean): void {
    if (handle instanceof LongTimer) {
      handle.ref(ref);
      return;
    }
    const t = handle as unknown as NodeJS.Timeout;
    if (ref) t.ref();
    else t.unref();
  }
  /** Timers this clock armed that have neither fired nor been cleared (for leak checks). */
  pendingTimers(): number {
    return this.armed;
  }
}

/**
 * A timer past setTimeout's limit (2^31−1 ms): armed for the limit and re-armed for what is left until
 * its due time, so `'30d'` waits 30 days instead of firing after 1 ms.
 */
class LongTimer {
  private t: NodeJS.Timeout | undefined;
  private refd = true;

  constructor(
    private readonly clock: RealClock,
    private readonly fn: () => void,
    private readonly due: number,
  ) {
    this.arm();
  }

  private arm(): void {
    const left = this.due - this.clock.now();
    if (left <= 0) {
      this.t = undefined;
      this.clock.longFired();
      this.fn();
      return;
    }
    this.t = setTimeout(() => this.arm(), Math.min(left, MAX_TIMER_MS));
    if (!this.refd) this.t.unref();
  }

  /** Returns true when the timer was still pending. */
  clear(): boolean {
    if (this.t === undefined) return false;
    clearTimeout(this.t);
    this.t = undefined;
    return true;
  }

  ref(on: boolean): void {
    this.refd = on;
    if (this.t === undefined) return;
    if (on) this.t.ref();
    else this.t.unref();
  }
}

/**
 * The process's clock: `now()` is `performance.timeOrigin + performance.now()` (milliseconds since the
 * epoch, monotonic, unaffected by wall-clock adjustments), timers are Node's (delays past 2^31−1 ms are
 * re-armed in steps), and `coarseNow()` is the cheap reading the hot path uses. The default of every
 * `clock` option.
 */
export const realClock: Clock & {
  /** Timers armed on this clock that have neither fired nor been cleared: a leak check for tests and shutdown. */
  pendingTimers(): number;
  /** True while the coarse reading's 1 ms ticker runs (it stops one tick after the last `coarseNow()`). */
  readonly ticks: boolean;
} = new RealClock();

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
