import type { Clock } from '../core/clock.js';
import type { AttemptFn } from '../core/context.js';
import { BlastwallError } from '../core/errors.js';
import { type Linked, LinkedQueue } from '../core/linked-queue.js';
import { operationStorage } from '../core/operation-context.js';
import { runInBackground } from '../policies/concurrency/index.js';

/**
 * What a call to a `deferrable` dependency resolves with once the work is queued (it has not run yet): the
 * work runs in the background, and if it fails after every attempt the wall emits a `deferred-dead` event
 * with the same `id`.
 */
export interface DeferReceipt {
  /** The item's number, increasing from 1 per dependency and process; matches the `id` of its `deferred-dead` event. */
  id: number;
  /** Items waiting in the dependency's queue right after this one was added (this one included). */
  queued: number;
}

interface DeferredItem extends Linked<DeferredItem> {
  id: number;
  fn: AttemptFn<unknown>;
  enqueuedAt: number;
}

/** What the deferred queue needs from its dependency. */
export interface DeferredHooks {
  /** Runs one item through the dependency's pipeline (timeouts, retries, breaker). */
  run(fn: AttemptFn<unknown>): Promise<unknown>;
  isClosed(): boolean;
  /** The item was queued. */
  accepted(id: number): void;
  done(id: number): void;
  /** The item failed after every attempt. */
  dead(id: number, error: BlastwallError): void;
}

/**
 * A `deferrable` dependency's bounded in-memory queue: work is accepted at once (or refused with
 * `QUEUE_FULL`) and run in the background by at most `workers` workers, outside the caller's operation, as
 * `background` calls (the lowest class at the dependency's concurrency limit; see `runInBackground`).
 * Lost on restart; the durable queue (integrity) is the persistent counterpart.
 */
export class DeferredQueue {
  private readonly items = new LinkedQueue<DeferredItem>();
  private active = 0;
  private seq = 0;
  private idle: (() => void) | undefined;

  constructor(
    private readonly dependency: string,
    readonly maxQueue: number,
    readonly workers: number,
    private readonly clock: Clock,
    private readonly hooks: DeferredHooks,
  ) {}

  enqueue(fn: AttemptFn<unknown>): Promise<DeferReceipt> {
    if (this.hooks.isClosed()) return Promise.reject(new BlastwallError('CLOSED', 'The wall is closed', { dependency: this.dependency }));
    if (this.items.size >= this.maxQueue) {
      return Promise.reject(
        new BlastwallError('QUEUE_FULL', `Deferred queue of '${this.dependency}' is full (${this.maxQueue} items waiting); the work was not accepted`, {
          dependency: this.dependency,
          retryAfterMs: 1000,
        }),
      );
    }
    const item: DeferredItem = { id: ++this.seq, fn, enqueuedAt: this.clock.now(), prev: undefined, next: undefined };
    this.items.push(item);
    this.hooks.accepted(item.id);
    if (this.active < this.workers) {
      this.active++;
      // run outside the caller's operation: its deadline must not cut background work
      operationStorage.exit(() => queueMicrotask(() => void this.work()));
    }
    return Promise.resolve({ id: item.id, queued: this.items.size });
  }

  private async work(): Promise<void> {
    try {
      for (let item = this.take(); item !== undefined; item = this.take()) {
        try {
          // background work: it waits in the lowest class at the dependency's concurrency limit
          const fn = item.fn;
          await runInBackground(() => this.hooks.run(fn));
          this.hooks.done(item.id);
        } catch (e) {
          this.hooks.dead(item.id, e as BlastwallError);
        }
      }
    } finally {
      this.active--;
      if (this.active === 0 && this.idle !== undefined) this.idle();
    }
  }

  private take(): DeferredItem | undefined {
    // once the wall is closed, workers stop unless close() is draining within its grace period
    if (this.hooks.isClosed() && this.idle === undefined) return undefined;
    return this.items.shift();
  }

  /** Items waiting, age of the oldest, and workers running. */
  backlog(): { size: number; oldestAgeMs: number; active: number } {
    const head = this.items.head;
    return { size: this.items.size, oldestAgeMs: head === undefined ? 0 : this.clock.now() - head.enqueuedAt, active: this.active };
  }

  /** Waits for the workers to finish the queued work. */
  drain(): Promise<void> {
    if (this.active === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.idle = () => {
        this.idle = undefined;
        resolve();
      };
    });
  }

  /** Drops the queued work; returns how many items were dropped. */
  drop(): number {
    const n = this.items.size;
    this.items.clear();
    return n;
  }
}
