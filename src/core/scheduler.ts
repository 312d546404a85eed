import type { Clock, TimerHandle } from './clock.js';

/** Something with a deadline that the scheduler expires unless it settles first. */
export interface Expirable {
  /** Absolute time (clock ms) at which `expire()` runs. */
  readonly at: number;
  /** Set to true by the owner when it finishes first; the scheduler then drops it lazily. */
  settled: boolean;
  expire(): void;
  /** Ends the entry early with `reason` (when its scheduler closes); falls back to `expire()`. */
  cancel?(reason: unknown): void;
}

/** A FIFO of entries whose deadlines are non-decreasing (same duration, monotonic clock). */
class Lane {
  items: (Expirable | undefined)[] = [];
  head = 0;
  tail = 0;

  push(e: Expirable): void {
    // drop settled heads first so a sequential caller keeps the lane at one entry
    this.dropSettled();
    this.items[this.tail++] = e;
  }

  dropSettled(): void {
    const items = this.items;
    while (this.head < this.tail && items[this.head]!.settled) {
      items[this.head++] = undefined;
    }
    if (this.head === this.tail) {
      this.head = this.tail = 0; // keep the array's capacity
    } else if (this.head > 1024 && this.head * 2 > this.tail) {
      this.items = items.slice(this.head, this.tail);
      this.tail -= this.head;
      this.head = 0;
    }
  }

  peek(): Expirable | undefined {
    this.dropSettled();
    return this.head < this.tail ? this.items[this.head] : undefined;
  }

  shift(): void {
    this.items[this.head++] = undefined;
  }

  get size(): number {
    return this.tail - this.head;
  }
}

/**
 * One shared deadline scheduler per clock: a single armed timer serves every pending call. Calls with the
 * same timeout share a lane whose deadlines are in order, so adding is O(1) and settling is a flag write.
 * The timer is re-armed only when it fires, so a stream of fast successful calls costs no timer
 * operations at all. While a call is pending the timer keeps the process alive (like any timeout); once
 * every call has settled it is unref'd and disarms itself at its next firing (at most one timeout after
 * the last call). `close()` disarms it at once.
 */
export class DeadlineScheduler {
  private lanes = new Map<number, Lane>();
  private lastKey = Number.NaN;
  private lastLane: Lane | undefined;
  private timer: TimerHandle | undefined;
  private armedAt = Number.POSITIVE_INFINITY;
  /** Entries added and neither settled nor expired: while > 0 the timer keeps the process alive. */
  private live = 0;
  private refd = false;

  constructor(private readonly clock: Clock) {}

  /** Registers `e`. `laneKey` groups entries whose deadlines are added in order (e.g. the timeout ms). */
  add(e: Expirable, laneKey: number): void {
    let lane: Lane | undefined;
    if (laneKey === this.lastKey) lane = this.lastLane!;
    else {
      lane = this.lanes.get(laneKey);
      if (lane === undefined) {
        lane = new Lane();
        this.lanes.set(laneKey, lane);
      }
      this.lastKey = laneKey;
      this.lastLane = lane;
    }
    lane.push(e);
    this.live++;
    if (e.at < this.armedAt) this.arm(e.at);
    else if (!this.refd) this.ref(true);
  }

  /** The owner of `e` finished before its deadline. */
  settle(e: Expirable): void {
    e.settled = true;
    if (--this.live === 0 && this.refd) this.ref(false);
  }

  private ref(on: boolean): void {
    this.refd = on;
    if (this.timer !== undefined) this.clock.refTimer?.(this.timer, on);
  }

  /** Entries not yet settled or expired are counted here only approximately (settled ones leave lazily). */
  get pending(): number {
    let n = 0;
    for (const lane of this.lanes.values()) {
      lane.dropSettled();
      n += lane.size;
    }
    return n;
  }

  /** True when the scheduler holds a timer. */
  get armed(): boolean {
    return this.timer !== undefined;
  }

  private arm(at: number): void {
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    this.armedAt = at;
    this.timer = this.clock.setTimer(this.onTimer, Math.max(0, at - this.clock.now()));
    this.refd = true;
    if (this.live === 0) this.ref(false);
  }

  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.armedAt = Number.POSITIVE_INFINITY;
    const now = this.clock.now();
    let earliest = Number.POSITIVE_INFINITY;
    for (const [key, lane] of this.lanes) {
      for (let e = lane.peek(); e !== undefined && e.at <= now; e = lane.peek()) {
        lane.shift();
        e.settled = true;
        this.live--;
        e.expire();
      }
      const head = lane.peek();
      if (head === undefined) {
        this.lanes.delete(key);
        if (this.lastLane === lane) {
          this.lastLane = undefined;
          this.lastKey = Number.NaN;
        }
      } else if (head.at < earliest) earliest = head.at;
    }
    if (earliest < this.armedAt) this.arm(earliest);
  };

  /** Disarms the timer and forgets every entry (pending calls will then never time out). */
  /**
   * Disarms the timer. Entries still pending are ended now with `reason` (their calls reject with it, so
   * nothing waits forever on a closed scheduler); without a reason they are forgotten.
   */
  close(reason?: unknown): void {
    if (reason !== undefined) {
      for (const lane of this.lanes.values()) {
        for (let e = lane.peek(); e !== undefined; e = lane.peek()) {
          lane.shift();
          e.settled = true;
          if (e.cancel) e.cancel(reason);
          else e.expire();
        }
      }
    }
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    this.timer = undefined;
    this.armedAt = Number.POSITIVE_INFINITY;
    this.live = 0;
    this.refd = false;
    this.lanes.clear();
    this.lastLane = undefined;
    this.lastKey = Number.NaN;
  }
}

const schedulers = new WeakMap<Clock, DeadlineScheduler>();

/** The shared scheduler of a clock. */
export function schedulerFor(clock: Clock): DeadlineScheduler {
  let s = schedulers.get(clock);
  if (s === undefined) {
    s = new DeadlineScheduler(clock);
    schedulers.set(clock, s);
  }
  return s;
}
