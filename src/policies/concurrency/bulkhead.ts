import type { TimerHandle } from '../../core/clock.js';
import type { CallContext } from '../../core/context.js';
import { timerDurationOption } from '../../core/duration.js';
import { BlastwallError } from '../../core/errors.js';
import { Emitter } from '../../core/events.js';
import type { Linked } from '../../core/linked-queue.js';
import { abortedError, type Next, PolicyBase } from '../../core/policy.js';
import { clockOption, intOption, nameOption, objectOption } from '../../core/validate.js';
import {
  backgroundSlots,
  type CallClass,
  CALL_CLASSES,
  currentLane,
  inBackground,
  LANE_BACKGROUND,
  LANE_CRITICAL,
  Lanes,
  priorityOption,
  type PrioritySettings,
  reservedSlots,
} from './priority-lanes.js';
import { Scavenger } from './scavenger.js';
import { BULKHEAD_OPTION_NAMES, type BulkheadOptions, type BulkheadRejection } from './bulkhead-options.js';

export { BULKHEAD_OPTION_NAMES, type BulkheadOptions, type BulkheadRejection };

class Waiter implements Linked<Waiter> {
  prev: Waiter | undefined = undefined;
  next: Waiter | undefined = undefined;
  timer: TimerHandle | undefined = undefined;
  onAbort: (() => void) | undefined = undefined;
  constructor(
    readonly ctx: CallContext,
    readonly lane: number,
    readonly resolve: () => void,
    readonly reject: (e: unknown) => void,
  ) {}
}

/**
 * Concurrency limit with a bounded queue that knows call classes: waiters are served highest class first
 * (FIFO within a class), a share of the slots is kept for critical classes, and background work holds at
 * most its share while anything else runs or waits (see `ConcurrencyPriorityOptions`). The waiters sit in
 * the core linked queue, so an aborted or timed-out waiter leaves at once and frees its place. The fast
 * path (a free unreserved slot, nobody waiting) allocates nothing of its own.
 */
export class BulkheadPolicy extends PolicyBase {
  readonly name: string | undefined;
  private maxActive: number;
  private maxWaiting: number;
  private queueTimeoutMs: number;
  private prio: PrioritySettings | false;
  /** Calls of non-critical classes start only while fewer than this many run (`limit − reserved`). */
  private unreserved = 0;
  /** Background calls held at most while other classes run or wait. */
  private bgSlots = 0;
  private active = 0;
  /** Running calls that started as background work (classes on). */
  private bgActive = 0;
  /** Calls of other classes than background started so far (read by `idle()`, a counter: no clock on the fast path). */
  private otherStarts = 0;
  private seenStarts = 0;
  /** Until when the limit counts as busy (a call of another class was seen starting within `idleAfter`). */
  private busyUntil = 0;
  private wake: TimerHandle | undefined = undefined;
  /** The scavenger in force (undefined: classes off, no background share, or `scavenger: false`). */
  private scav: Scavenger | undefined = undefined;
  /** The scavenger this limit made, kept while classes are off so its state carries over. */
  private scavKept: Scavenger | undefined = undefined;
  private readonly wakeUp = (): void => this.dispatch();
  /** One queue per call class, highest first (only the first is used when classes are off). */
  private readonly waiters = new Lanes<Waiter>();
  private readonly onRejectEmitter = new Emitter<BulkheadRejection>();
  readonly onReject = this.onRejectEmitter.subscribe;

  constructor(options: BulkheadOptions) {
    const o = objectOption('concurrency', options, BULKHEAD_OPTION_NAMES);
    super(clockOption('concurrency.clock', o.clock));
    this.name = nameOption('concurrency.name', o.name);
    this.maxActive = intOption('concurrency.limit', o.limit, 1);
    this.maxWaiting = o.queue === undefined ? 0 : intOption('concurrency.queue', o.queue, 0);
    this.queueTimeoutMs = o.queueTimeout === undefined ? Number.POSITIVE_INFINITY : timerDurationOption('concurrency.queueTimeout', o.queueTimeout);
    this.prio = priorityOption('concurrency.priority', o.priority);
    this.resize();
  }

  /** Calls allowed to run at once now (changed by `setLimit`, live configuration or an adaptive limiter). */
  get limit(): number {
    return this.maxActive;
  }

  /** Calls allowed to wait for a slot. */
  get maxQueued(): number {
    return this.maxWaiting;
  }

  /** Calls running now. */
  get inFlight(): number {
    return this.active;
  }

  /** The priority settings in force, or `false` when every call waits in one FIFO queue. */
  get priority(): PrioritySettings | false {
    return this.prio;
  }

  /** Changes the limit at run time (adaptive limiters use this); a raise admits queued calls at once. */
  setLimit(limit: number): void {
    this.maxActive = intOption('concurrency.limit', limit, 1);
    this.resize();
    this.dispatch();
  }

  /**
   * @internal Live configuration: takes the limit, queue, queue timeout and priority of `other` (a freshly
   * parsed limit) and keeps its own state, so calls in flight keep their slots and count against the new
   * limit, and waiters keep their places. A raise admits waiters at once; a cut stops no running call.
   */
  adopt(other: BulkheadPolicy): void {
    this.maxActive = other.maxActive;
    this.maxWaiting = other.maxWaiting;
    this.queueTimeoutMs = other.queueTimeoutMs;
    this.prio = other.prio;
    this.resize();
    this.dispatch();
  }

  private resize(): void {
    const p = this.prio;
    this.unreserved = p === false ? this.maxActive : this.maxActive - reservedSlots(this.maxActive, p);
    this.bgSlots = p === false ? this.maxActive : backgroundSlots(this.maxActive, p);
    const s = p === false || this.bgSlots === 0 ? false : p.scavenger;
    if (s === false) this.scav?.stop();
    else (this.scavKept ??= new Scavenger(this.clock, s, this.bgSlots, this.wakeUp)).configure(s, this.bgSlots);
    this.scav = s === false ? undefined : this.scavKept;
  }

  /**
   * The limit's state now: `active` calls running (`backgroundActive` of them background work) and `queued`
   * waiting, against the `limit`, the `queue` size and the `reserved` slots that only critical classes may
   * take, and `backgroundWindow`, the background occupancy the scavenger allows now (in slots; the share
   * when it is off). A fresh object each call; reading it changes nothing.
   */
  stats(): { active: number; queued: number; limit: number; queue: number; reserved: number; backgroundActive: number; backgroundWindow: number } {
    return {
      active: this.active,
      queued: this.waiters.size,
      limit: this.maxActive,
      queue: this.maxWaiting,
      reserved: this.maxActive - this.unreserved,
      backgroundActive: this.bgActive,
      backgroundWindow: this.scav === undefined ? this.bgSlots : this.scav.window,
    };
  }

  /** Calls of class `cls` waiting for a slot (with classes off every waiter counts as `critical`). */
  waiting(cls: CallClass): number {
    const lane = CALL_CLASSES.indexOf(cls);
    return this.prio === false ? (lane === LANE_CRITICAL ? this.waiters.size : 0) : this.waiters.count(lane);
  }

  private readonly releaseOk = (v: unknown): unknown => {
    this.release();
    return v;
  };

  private readonly releaseErr = (e: unknown): never => {
    this.release();
    throw e;
  };

  private readonly releaseBgOk = (v: unknown): unknown => {
    this.bgEnd();
    this.release();
    return v;
  };

  private readonly releaseBgErr = (e: unknown): never => {
    this.bgEnd();
    this.release();
    throw e;
  };

  private bgStart(): void {
    this.scav?.account(this.bgActive);
    this.bgActive++;
  }

  private bgEnd(): void {
    this.scav?.ended(this.bgActive);
    this.bgActive--;
  }

  /**
   * Runs `next` (the rest of a pipeline) for the call `ctx` once it holds a slot, and gives the slot back
   * however it ends. This is how {@link pipeline} links policies; to make a call, use `execute(fn)`. Rejects
   * with `BULKHEAD_FULL` when no slot and no queue place is free, with `QUEUE_TIMEOUT`, `DEADLINE_EXCEEDED`
   * or `ABORTED` when the wait ends first; otherwise settles as `next` does.
   */
  run(ctx: CallContext, next: Next): Promise<unknown> {
    // the fast path: an unreserved slot is free, nobody waits, and the call is not background work
    if (this.waiters.size === 0 && this.active < this.unreserved && (this.prio === false || !inBackground())) {
      this.active++;
      this.otherStarts++;
      if (this.scav?.engaged === true) return this.timed(ctx, next);
      let p: Promise<unknown>;
      try {
        p = next(ctx);
      } catch (e) {
        this.release();
        return Promise.reject(e);
      }
      return p.then(this.releaseOk, this.releaseErr);
    }
    const lane = this.prio === false ? 0 : currentLane();
    if (this.waiters.noneFrom(lane) && this.admits(lane)) {
      this.active++;
      const bg = lane === LANE_BACKGROUND;
      if (bg) this.bgStart();
      else this.otherStarts++;
      return this.started(ctx, next, bg);
    }
    if (this.waiters.size >= this.maxWaiting && !this.evictBelow(lane)) return Promise.reject(this.rejection(ctx, 'full'));
    return this.enqueue(ctx, lane).then(() => this.started(ctx, next, this.prio !== false && lane === LANE_BACKGROUND));
  }

  /** Runs a call that holds a slot; the slot is given back however it ends. */
  private started(ctx: CallContext, next: Next, bg: boolean): Promise<unknown> {
    if (!bg && this.scav?.engaged === true) return this.timed(ctx, next);
    let p: Promise<unknown>;
    try {
      p = next(ctx);
    } catch (e) {
      if (bg) this.bgEnd();
      this.release();
      return Promise.reject(e);
    }
    return bg ? p.then(this.releaseBgOk, this.releaseBgErr) : p.then(this.releaseOk, this.releaseErr);
  }

  /** Runs a call of another class than background while the scavenger is engaged, and reports its latency. */
  private timed(ctx: CallContext, next: Next): Promise<unknown> {
    const t0 = this.clock.now();
    const done = (): void => {
      this.scav?.sample(t0, this.bgActive, this.waiters.count(LANE_BACKGROUND) > 0);
      this.release();
    };
    let p: Promise<unknown>;
    try {
      p = next(ctx);
    } catch (e) {
      done();
      return Promise.reject(e);
    }
    return p.then(
      (v) => {
        done();
        return v;
      },
      (e: unknown) => {
        done();
        throw e;
      },
    );
  }

  /** May a call of `lane` start now (ignoring waiters)? */
  private admits(lane: number): boolean {
    if (lane <= LANE_CRITICAL) return this.active < this.maxActive;
    if (this.active >= this.unreserved) return false;
    // background: within its share, or on idle slots when no other class runs, waits or started lately
    return (
      lane !== LANE_BACKGROUND ||
      (this.bgActive < this.bgSlots && (this.scav === undefined || this.scav.allows(this.bgActive))) ||
      (this.bgActive === this.active && this.waiters.size === this.waiters.count(LANE_BACKGROUND) && this.idle())
    );
  }

  /**
   * True when no call of another class started within `idleAfter` (read only when background work wants a
   * slot beyond its share). A start is noticed at the first look after it, so a limit looked at rarely may
   * count as busy for up to `idleAfter` longer than it was. When busy, a timer looks again once it is over.
   */
  private idle(): boolean {
    const ms = this.prio === false ? 0 : this.prio.idleAfterMs;
    if (ms === 0) return true;
    const now = this.clock.now();
    if (this.otherStarts !== this.seenStarts) {
      this.seenStarts = this.otherStarts;
      this.busyUntil = now + ms;
    }
    if (now >= this.busyUntil) return true;
    this.wake ??= this.clock.setTimer(() => {
      this.wake = undefined;
      this.dispatch();
    }, this.busyUntil - now);
    return false;
  }

  /** The queue is full: the newest waiter of the lowest class below `lane` gives its place up (BULKHEAD_FULL). */
  private evictBelow(lane: number): boolean {
    const w = this.prio === false ? undefined : this.waiters.newestBelow(lane);
    if (w === undefined) return false;
    this.remove(w);
    w.reject(this.rejection(w.ctx, 'full'));
    return true;
  }

  private rejection(ctx: CallContext, reason: BulkheadRejection['reason']): BlastwallError {
    if (this.onRejectEmitter.active) this.onRejectEmitter.emit({ reason, active: this.active, queued: this.waiters.size });
    const dependency = ctx.dependency ?? this.name;
    if (reason === 'queue-timeout') return new BlastwallError('QUEUE_TIMEOUT', `Waited too long for one of ${this.maxActive} concurrency slots`, { dependency });
    const reserved = this.maxActive - this.unreserved;
    return this.active < this.maxActive && reserved > 0
      ? new BlastwallError('BULKHEAD_FULL', `${reserved} of ${this.maxActive} concurrency slots are kept for critical calls and the queue of ${this.maxWaiting} is full`, {
          dependency,
        })
      : new BlastwallError('BULKHEAD_FULL', `Concurrency limit ${this.maxActive} reached and queue of ${this.maxWaiting} full`, { dependency });
  }

  private enqueue(ctx: CallContext, lane: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const w = new Waiter(ctx, lane, resolve, reject);
      const signal = ctx.outerSignal;
      if (signal?.aborted) {
        reject(abortedError(signal.reason, ctx.dependency ?? this.name));
        return;
      }
      this.waiters.push(w);
      const wait = Math.min(this.queueTimeoutMs, ctx.deadline - this.clock.now());
      if (wait !== Number.POSITIVE_INFINITY) {
        w.timer = this.clock.setTimer(() => {
          w.timer = undefined;
          this.remove(w);
          reject(
            ctx.deadline - this.clock.now() <= 0 && wait < this.queueTimeoutMs
              ? new BlastwallError('DEADLINE_EXCEEDED', 'The deadline passed while waiting for a concurrency slot', {
                  dependency: ctx.dependency ?? this.name,
                })
              : this.rejection(ctx, 'queue-timeout'),
          );
          // a waiter that left may have been what held lower classes back
          this.dispatch();
        }, Math.max(0, wait));
      }
      if (signal !== undefined) {
        w.onAbort = () => {
          w.onAbort = undefined;
          this.remove(w);
          reject(abortedError(signal.reason, ctx.dependency ?? this.name));
          this.dispatch();
        };
        signal.addEventListener('abort', w.onAbort, { once: true });
      }
    });
  }

  /** Unlinks a waiter and clears its timer and listener. */
  private remove(w: Waiter): void {
    this.waiters.remove(w);
    if (w.timer !== undefined) {
      this.clock.clearTimer(w.timer);
      w.timer = undefined;
    }
    if (w.onAbort !== undefined) {
      w.ctx.outerSignal?.removeEventListener('abort', w.onAbort);
      w.onAbort = undefined;
    }
  }

  /** Admits waiters, highest class first, while the head of the highest waiting class may start. */
  private dispatch(): void {
    while (this.waiters.size > 0 && this.active < this.maxActive) {
      const w = this.waiters.head();
      if (w === undefined || !this.admits(w.lane)) return;
      this.remove(w);
      this.active++;
      if (this.prio !== false && w.lane === LANE_BACKGROUND) this.bgStart();
      else this.otherStarts++;
      w.resolve();
    }
  }

  /** @internal Fast path of a fused pipeline: takes a slot if an unreserved one is free, nobody waits and the call is not background work. */
  tryAcquire(): boolean {
    if (this.waiters.size === 0 && this.active < this.unreserved && (this.prio === false || !inBackground()) && this.scav?.engaged !== true) {
      this.active++;
      this.otherStarts++;
      return true;
    }
    return false;
  }

  /** @internal Gives back a slot taken by `tryAcquire` (or by `run`). */
  release(): void {
    this.active--;
    if (this.waiters.size > 0) this.dispatch();
  }
}

/**
 * A policy that limits how many calls run at once (`limit`), so a slow dependency ties up a bounded part of
 * the process instead of all of it. A call beyond the limit waits in a bounded queue (`queue`, default 0:
 * refused at once with `BULKHEAD_FULL`) until a slot frees, its `queueTimeout` passes (`QUEUE_TIMEOUT`) or
 * its deadline does. Waiters are served by call class (the priority of the operation the call runs in),
 * highest first; by default 20% of the slots are kept for critical calls and background work holds at
 * most 25% under contention (see {@link BulkheadOptions.priority}).
 *
 * @throws `CONFIG_INVALID` when an option is invalid.
 * @example
 * ```ts
 * import { bulkhead, pipeline, timeout } from 'blastwall';
 *
 * const policy = pipeline(bulkhead({ limit: 16, queue: 32, queueTimeout: '250ms' }), timeout('2s'));
 * const report = await policy.execute(({ signal }) => renderPdf(invoice, signal));
 * ```
 */
export function bulkhead(options: BulkheadOptions): BulkheadPolicy {
  return new BulkheadPolicy(options);
}
