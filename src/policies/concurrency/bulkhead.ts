import type { Clock, TimerHandle } from '../../core/clock.js';
import type { CallContext } from '../../core/context.js';
import { optionNames } from '../../core/option-names.js';
import { timerDurationOption, type Duration } from '../../core/duration.js';
import { BlastwallError } from '../../core/errors.js';
import { Emitter } from '../../core/events.js';
import { type Linked, LinkedQueue } from '../../core/linked-queue.js';
import { abortedError, type Next, PolicyBase } from '../../core/policy.js';
import { clockOption, intOption, nameOption, objectOption } from '../../core/validate.js';

export interface BulkheadOptions {
  /** Calls allowed to run at once. */
  limit: number;
  /** Calls allowed to wait for a slot (FIFO). Default 0: reject at once when full. */
  queue?: number;
  /** Longest a call waits in the queue. Default: until its deadline or caller abort. */
  queueTimeout?: Duration;
  clock?: Clock;
  name?: string;
}

export interface BulkheadRejection {
  reason: 'full' | 'queue-timeout';
  active: number;
  queued: number;
}

class Waiter implements Linked<Waiter> {
  prev: Waiter | undefined = undefined;
  next: Waiter | undefined = undefined;
  timer: TimerHandle | undefined = undefined;
  onAbort: (() => void) | undefined = undefined;
  constructor(
    readonly ctx: CallContext,
    readonly resolve: () => void,
    readonly reject: (e: unknown) => void,
  ) {}
}

/** Every option of `bulkhead()`, as its runtime check accepts them (the wall's `concurrency` section reuses the list). */
export const BULKHEAD_OPTION_NAMES = optionNames<BulkheadOptions>()('limit', 'queue', 'queueTimeout', 'clock', 'name');

/**
 * Concurrency limit with a bounded FIFO queue (the core linked queue, so an aborted or timed-out waiter
 * leaves at once and frees its place). The fast path (a free slot) allocates nothing of its own.
 */

export class BulkheadPolicy extends PolicyBase {
  readonly name: string | undefined;
  private maxActive: number;
  readonly maxQueued: number;
  private readonly queueTimeoutMs: number;
  private active = 0;
  private readonly waiters = new LinkedQueue<Waiter>();
  private readonly onRejectEmitter = new Emitter<BulkheadRejection>();
  readonly onReject = this.onRejectEmitter.subscribe;

  constructor(options: BulkheadOptions) {
    const o = objectOption('concurrency', options, BULKHEAD_OPTION_NAMES);
    super(clockOption('concurrency.clock', o.clock));
    this.name = nameOption('concurrency.name', o.name);
    this.maxActive = intOption('concurrency.limit', o.limit, 1);
    this.maxQueued = o.queue === undefined ? 0 : intOption('concurrency.queue', o.queue, 0);
    this.queueTimeoutMs = o.queueTimeout === undefined ? Number.POSITIVE_INFINITY : timerDurationOption('concurrency.queueTimeout', o.queueTimeout);
  }

  get limit(): number {
    return this.maxActive;
  }

  /** Changes the limit at run time (adaptive limiters use this); a raise admits queued calls at once. */
  setLimit(limit: number): void {
    this.maxActive = intOption('concurrency.limit', limit, 1);
    while (this.active < this.maxActive && this.waiters.size > 0) this.admitHead();
  }

  stats(): { active: number; queued: number; limit: number; queue: number } {
    return { active: this.active, queued: this.waiters.size, limit: this.maxActive, queue: this.maxQueued };
  }

  private readonly releaseOk = (v: unknown): unknown => {
    this.release();
    return v;
  };

  private readonly releaseErr = (e: unknown): never => {
    this.release();
    throw e;
  };

  run(ctx: CallContext, next: Next): Promise<unknown> {
    if (this.active < this.maxActive) {
      this.active++;
      let p: Promise<unknown>;
      try {
        p = next(ctx);
      } catch (e) {
        this.release();
        return Promise.reject(e);
      }
      return p.then(this.releaseOk, this.releaseErr);
    }
    if (this.waiters.size >= this.maxQueued) return Promise.reject(this.rejection(ctx, 'full'));
    return this.enqueue(ctx).then(() => next(ctx).then(this.releaseOk, this.releaseErr));
  }

  private rejection(ctx: CallContext, reason: BulkheadRejection['reason']): BlastwallError {
    if (this.onRejectEmitter.active) this.onRejectEmitter.emit({ reason, active: this.active, queued: this.waiters.size });
    const dependency = ctx.dependency ?? this.name;
    return reason === 'full'
      ? new BlastwallError('BULKHEAD_FULL', `Concurrency limit ${this.maxActive} reached and queue of ${this.maxQueued} full`, { dependency })
      : new BlastwallError('QUEUE_TIMEOUT', `Waited too long for one of ${this.maxActive} concurrency slots`, { dependency });
  }

  private enqueue(ctx: CallContext): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const w = new Waiter(ctx, resolve, reject);
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
        }, Math.max(0, wait));
      }
      if (signal !== undefined) {
        w.onAbort = () => {
          w.onAbort = undefined;
          this.remove(w);
          reject(abortedError(signal.reason, ctx.dependency ?? this.name));
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

  private admitHead(): void {
    const w = this.waiters.head!;
    this.remove(w);
    this.active++;
    w.resolve();
  }

  /** @internal Fast path of a fused pipeline: takes a slot if one is free and nobody waits. */
  tryAcquire(): boolean {
    if (this.active < this.maxActive && this.waiters.size === 0) {
      this.active++;
      return true;
    }
    return false;
  }

  /** @internal Gives back a slot taken by `tryAcquire` (or by `run`). */
  release(): void {
    this.active--;
    if (this.waiters.size > 0 && this.active < this.maxActive) this.admitHead();
  }
}

export function bulkhead(options: BulkheadOptions): BulkheadPolicy {
  return new BulkheadPolicy(options);
}
