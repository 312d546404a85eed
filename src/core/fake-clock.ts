import type { Clock, TimerHandle } from './clock.js';

interface FakeTimer {
  id: number;
  at: number;
  fn: () => void;
}

/**
 * A clock that moves only when told. `advance(ms)` fires due timers in time order and lets promise
 * callbacks run between them, so code that awaits after a timer sees the time it expects.
 */
export class FakeClock implements Clock {
  private t: number;
  /** What `coarseNow()` reads: like the real clock's, it does not see synchronous work (`block`) until the turn ends. */
  private coarse: number;
  private seq = 0;
  private timers: FakeTimer[] = [];

  constructor(start = 1_700_000_000_000) {
    this.t = start;
    this.coarse = start;
  }

  now(): number {
    return this.t;
  }

  /** Like the real clock's: the time as of the last turn boundary; `block(ms)` does not move it. */
  coarseNow(): number {
    return this.coarse;
  }

  /**
   * Simulates synchronous work of `ms` inside the current turn: `now()` moves, `coarseNow()` and timers do
   * not (as with the real clock, whose cheap reading refreshes only between turns). The next `advance`
   * catches up and fires what became due.
   */
  block(ms: number): void {
    this.t += ms;
  }

  setTimer(fn: () => void, ms: number): TimerHandle {
    const timer: FakeTimer = { id: ++this.seq, at: this.t + Math.max(0, ms), fn };
    // keep sorted by (at, id): insertion from the back, timers are mostly appended in order
    let i = this.timers.length;
    while (i > 0 && this.timers[i - 1]!.at > timer.at) i--;
    this.timers.splice(i, 0, timer);
    return timer.id as unknown as TimerHandle;
  }

  /** Disarms a timer so `advance` never fires it; a handle that already fired, was cleared or is unknown is ignored. */
  clearTimer(handle: TimerHandle): void {
    const id = handle as unknown as number;
    const i = this.timers.findIndex((x) => x.id === id);
    if (i >= 0) this.timers.splice(i, 1);
  }

  /** Number of armed timers (for leak checks). */
  pendingTimers(): number {
    return this.timers.length;
  }

  /** Moves time forward by `ms`, firing due timers in order and flushing microtasks after each. */
  async advance(ms: number): Promise<void> {
    const target = this.t + ms;
    this.coarse = this.t;
    await flushMicrotasks();
    for (;;) {
      const next = this.timers[0];
      if (next === undefined || next.at > target) break;
      this.timers.shift();
      this.t = Math.max(this.t, next.at);
      this.coarse = this.t;
      next.fn();
      await flushMicrotasks();
    }
    this.t = Math.max(this.t, target); // a timer may have blocked past the target
    this.coarse = this.t;
    await flushMicrotasks();
  }

  /** Moves time forward without firing timers or yielding; for synchronous tests of rolling windows. */
  set(ms: number): void {
    this.t = ms;
    this.coarse = ms;
  }

  /** Runs every armed timer (and those they arm), up to `limit` timers. */
  async runAll(limit = 10_000): Promise<void> {
    for (let i = 0; i < limit; i++) {
      const next = this.timers[0];
      if (next === undefined) return;
      await this.advance(Math.max(0, next.at - this.t));
    }
    throw new Error(`FakeClock.runAll: more than ${limit} timers; a timer keeps re-arming itself`);
  }
}

/** Lets every queued promise callback run (several turns, for chains of awaits). */
export async function flushMicrotasks(turns = 20): Promise<void> {
  for (let i = 0; i < turns; i++) await Promise.resolve();
}
