import type { Clock, TimerHandle } from '../core/clock.js';
import { realClock } from '../core/clock.js';
import { durationOption, type Duration } from '../core/duration.js';
import { BlastwallError } from '../core/errors.js';
import { enumOption, intOption, numberOption, objectOption } from '../core/validate.js';
import { Gradient2Limit, type Gradient2Options } from '../policies/adaptive-concurrency/gradient2.js';
import { PRIORITIES, type Priority } from '../wall/context.js';

/** Index of the last critical class (`critical`); classes after it are sheddable. */
const CRITICAL = PRIORITIES.indexOf('critical');

export interface AdmissionOptions {
  /** A fixed in-flight limit, or `{ adaptive: Gradient2Options }`. Default adaptive. */
  limit?: number | { adaptive: Gradient2Options };
  /** Requests that may wait for a slot. Default 256. */
  queue?: number;
  /** CoDel: the queue-time limit once the queue has not been empty for `interval`. Default 5ms. */
  target?: Duration;
  /** CoDel: the queue-time limit while the queue empties regularly, and the interval that tells. Default 100ms. */
  interval?: Duration;
  /** Quiet time before the shed level falls one class (hysteresis against oscillation). Default: `interval`. */
  recovery?: Duration;
  /** Event-loop delay above which the service counts as overloaded (ms). Default 100. */
  maxEventLoopDelayMs?: number;
  /** Reads the current event-loop delay (ms); injected by tests, measured by the HTTP adapters. */
  eventLoopDelay?: () => number;
  clock?: Clock;
}

interface Waiter {
  priority: number;
  at: number;
  resolve: (t: Ticket) => void;
  reject: (e: unknown) => void;
  next: Waiter | undefined;
}

export interface Ticket {
  /** Call when the work is done; `ok: false` for failures (they do not teach the limiter). */
  release(ok?: boolean): void;
  readonly queuedMs: number;
}

/**
 * Admission control for inbound work by priority class (critical-plus, critical, sheddable-plus,
 * sheddable). Work beyond the in-flight limit waits in per-class FIFOs, highest class first. Queue time is
 * bounded CoDel-style ("Fail at Scale"): 100 ms while the queue empties regularly, 5 ms once it has not been
 * empty for 100 ms (for the lowest sheddable class waiting; critical classes keep 100 ms). Sustained overload (a standing queue or event-loop delay) raises a shed level one class
 * per interval, so a class is refused at once only when every lower class already is; the level falls
 * again one class per quiet interval. Shed work is answered at once with `SHED`, never left to time out.
 */
export class AdmissionController {
  private readonly clock: Clock;
  private readonly fixed: number | undefined;
  readonly limiter: Gradient2Limit | undefined;
  private readonly maxQueue: number;
  private readonly targetMs: number;
  private readonly intervalMs: number;
  private readonly maxLoopDelay: number;
  private readonly loopDelay: (() => number) | undefined;
  private readonly queues: { head: Waiter | undefined; tail: Waiter | undefined }[] = PRIORITIES.map(() => ({ head: undefined, tail: undefined }));
  private queued = 0;
  private inflight = 0;
  /** Classes at or above index (4 − level) are shed at the door: 0 = none, 3 = all but critical-plus. */
  private level = 0;
  private lastEmptyAt: number;
  /** Waiters dropped for waiting too long since the last level check: CoDel at work means overload. */
  private recentDrops = 0;
  private lastLevelChange: number;
  private lastBusyAt = Number.NEGATIVE_INFINITY;
  private readonly recoveryMs: number;
  private timer: TimerHandle | undefined;
  readonly stats = { admitted: 0, shed: 0, queued: 0, dropped: 0 };

  constructor(options: AdmissionOptions = {}) {
    const o = objectOption('admission', options, ['limit', 'queue', 'target', 'interval', 'recovery', 'maxEventLoopDelayMs', 'eventLoopDelay', 'clock']);
    this.clock = (o.clock as Clock | undefined) ?? realClock;
    if (typeof o.limit === 'number') this.fixed = intOption('admission.limit', o.limit, 1);
    else {
      const a = objectOption('admission.limit', o.limit, ['adaptive']);
      this.limiter = new Gradient2Limit((a.adaptive as Gradient2Options | undefined) ?? {});
    }
    this.maxQueue = o.queue === undefined ? 256 : intOption('admission.queue', o.queue, 0);
    this.targetMs = o.target === undefined ? 5 : durationOption('admission.target', o.target);
    this.intervalMs = o.interval === undefined ? 100 : durationOption('admission.interval', o.interval);
    this.recoveryMs = o.recovery === undefined ? this.intervalMs : durationOption('admission.recovery', o.recovery, this.intervalMs);
    this.maxLoopDelay = o.maxEventLoopDelayMs === undefined ? 100 : numberOption('admission.maxEventLoopDelayMs', o.maxEventLoopDelayMs, 1);
    this.loopDelay = o.eventLoopDelay as (() => number) | undefined;
    this.lastEmptyAt = this.lastLevelChange = this.clock.now();
  }

  get limit(): number {
    return this.fixed ?? this.limiter!.limit;
  }

  snapshot(): { inflight: number; queued: number; limit: number; shedLevel: number; shedClasses: Priority[] } {
    return {
      inflight: this.inflight,
      queued: this.queued,
      limit: this.limit,
      shedLevel: this.level,
      shedClasses: PRIORITIES.filter((_, i) => this.isShed(i)),
    };
  }

  private isShed(cls: number): boolean {
    return cls >= PRIORITIES.length - this.level;
  }

  private waitingAtOrAbove(cls: number): boolean {
    for (let c = 0; c <= cls; c++) if (this.queues[c]!.head !== undefined) return true;
    return false;
  }

  /**
   * In-flight work a class may start: sheddable work leaves 20% of the limit, sheddable-plus 10%, to the
   * critical classes, so critical arrivals find a slot while sheddable traffic surges.
   */
  private limitFor(cls: number): number {
    const limit = this.limit;
    return cls <= CRITICAL ? limit : Math.max(1, Math.floor(limit * (cls === CRITICAL + 1 ? 0.9 : 0.8)));
  }

  /** Admits work of a class now, queues it, or refuses it with `SHED`. */
  admit(priority: Priority): Promise<Ticket> {
    const cls = PRIORITIES.indexOf(enumOption('priority', priority, PRIORITIES));
    const now = this.clock.now();
    this.updateLevel(now);
    if (this.isShed(cls)) return Promise.reject(this.shedError(priority, 'overloaded: this class is being shed'));
    // room for this class, and nobody of this class or above waiting: start now (lower classes may wait)
    if (this.inflight < this.limitFor(cls) && !this.waitingAtOrAbove(cls)) return Promise.resolve(this.start(now, now));
    if (this.queued >= this.maxQueue) {
      // full: make room by dropping the newest waiter of a lower class, else refuse this one
      const victim = this.lowestBelow(cls);
      if (victim === undefined) return Promise.reject(this.shedError(priority, 'admission queue full'));
      this.drop(victim, 'admission queue full; a higher class arrived');
    }
    return new Promise<Ticket>((resolve, reject) => {
      const w: Waiter = { priority: cls, at: now, resolve, reject, next: undefined };
      const q = this.queues[cls]!;
      if (q.tail === undefined) q.head = q.tail = w;
      else {
        q.tail.next = w;
        q.tail = w;
      }
      this.queued++;
      this.stats.queued++;
      this.armTimer();
    });
  }

  private start(now: number, queuedAt: number): Ticket {
    this.inflight++;
    this.stats.admitted++;
    const startedInflight = this.inflight;
    let done = false;
    return {
      queuedMs: now - queuedAt,
      release: (ok = true) => {
        if (done) return;
        done = true;
        this.inflight--;
        if (ok) this.limiter?.sample(this.clock.now() - now, startedInflight);
        this.drain();
      },
    };
  }

  /** Starts queued work while there is room, highest class first, dropping waiters past the CoDel limit. */
  private drain(): void {
    const now = this.clock.now();
    this.updateLevel(now);
    const standing = now - this.lastEmptyAt > this.intervalMs;
    // The short CoDel target applies to the lowest sheddable class waiting; higher classes keep the interval
    // allowance (critical work is refused only by the shed level, once every lower class is refused).
    let lowest = this.queues.length - 1;
    while (lowest > CRITICAL && this.queues[lowest]!.head === undefined) lowest--;
    for (let cls = 0; cls < this.queues.length; cls++) {
      const q = this.queues[cls]!;
      const limitMs = standing && cls > CRITICAL && cls >= lowest ? this.targetMs : this.intervalMs;
      while (q.head !== undefined) {
        const w = q.head;
        if (this.isShed(cls) || now - w.at > limitMs) {
          if (!this.isShed(cls)) this.recentDrops++;
          this.drop(w, this.isShed(cls) ? 'overloaded: this class is being shed' : `waited ${Math.round(now - w.at)}ms, over the ${limitMs}ms queue limit`);
          continue;
        }
        if (this.inflight >= this.limitFor(cls)) break; // FIFO: the rest of this class waited less than its head
        this.unlink(w);
        w.resolve(this.start(now, w.at));
      }
    }
    if (this.queued === 0) {
      this.lastEmptyAt = now;
      this.disarmTimer();
    }
  }

  /** Raises the shed level one class per interval of sustained overload, lowers it one per quiet interval. */
  private updateLevel(now: number): void {
    if (now - this.lastLevelChange < this.intervalMs) return;
    const standingQueue = (this.queued > 0 && now - this.lastEmptyAt > this.intervalMs) || this.recentDrops > 0;
    const loopBusy = this.loopDelay !== undefined && this.loopDelay() > this.maxLoopDelay;
    this.recentDrops = 0;
    this.lastLevelChange = now;
    if (standingQueue || loopBusy) {
      this.lastBusyAt = now;
      if (this.level < PRIORITIES.length - 1) this.level++;
    } else if (this.level > 0 && now - this.lastBusyAt >= this.recoveryMs) {
      // hysteresis: a class comes back only after `recovery` without overload (one class at a time)
      this.level--;
      this.lastBusyAt = now; // the next class waits another `recovery`
    }
  }

  private lowestBelow(cls: number): Waiter | undefined {
    for (let c = this.queues.length - 1; c > cls; c--) {
      const t = this.queues[c]!.tail;
      if (t !== undefined) return t;
    }
    return undefined;
  }

  private unlink(w: Waiter): void {
    const q = this.queues[w.priority]!;
    if (q.head === w) {
      q.head = w.next;
      if (q.tail === w) q.tail = undefined;
    } else {
      let p = q.head;
      while (p !== undefined && p.next !== w) p = p.next;
      if (p !== undefined) {
        p.next = w.next;
        if (q.tail === w) q.tail = p;
      }
    }
    w.next = undefined;
    this.queued--;
  }

  private drop(w: Waiter, why: string): void {
    this.unlink(w);
    this.stats.dropped++;
    w.reject(this.shedError(PRIORITIES[w.priority]!, why));
  }

  private shedError(priority: Priority, why: string): BlastwallError {
    this.stats.shed++;
    return new BlastwallError('SHED', `Shed ${priority} work: ${why}`, { retryAfterMs: 1000, retryable: false, details: { priority } });
  }

  /** While work waits, a timer drains it at the CoDel limits even if nothing completes. */
  private armTimer(): void {
    if (this.timer !== undefined) return;
    this.timer = this.clock.setTimer(() => {
      this.timer = undefined;
      this.drain();
      if (this.queued > 0) this.armTimer();
    }, this.targetMs);
  }

  private disarmTimer(): void {
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    this.timer = undefined;
  }

  /** Refuses everything waiting and releases the timer. */
  close(): void {
    for (const q of this.queues) while (q.head !== undefined) this.drop(q.head, 'closing');
    this.disarmTimer();
  }
}
