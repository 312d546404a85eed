import { type Clock, realClock } from '../core/clock.js';
import type { Duration } from '../core/duration.js';
import { fnOption } from '../core/validate.js';
import { wholeMs } from '../stores/options.js';
import { DurableQueue, type DurableQueueOptions, type Delivery, type PollResult } from './durable-queue.js';

/**
 * Options of {@link DurableDeferred}: the {@link DurableQueueOptions} of its queue (store, lease,
 * maxAttempts, backoff, batch, pollInterval …), a `handler`, and a queue name that defaults to the
 * dependency's.
 */
export interface DurableDeferredOptions<P> extends Omit<DurableQueueOptions, 'name'> {
  /** Queue name (default: the dependency's name, characters other than letters, digits and `_.-` replaced by `_`). */
  name?: string;
  /** Performs the deferred work against the dependency; runs inside the dependency's boundaries. */
  handler: (payload: P, delivery: Delivery<P>) => Promise<void> | void;
}

/**
 * Durable deferral for a `deferrable` dependency: `send(payload)` only writes to the store (the caller's
 * path never waits on the dependency); a background consumer calls the dependency through its
 * boundaries (timeout, breaker, retry budget) and the queue retries on its schedule and dead-letters after
 * `maxAttempts`. The queue's backlog and oldest-item age join the dependency's health signals (and so the
 * drift monitors and metrics), refreshed after every send, every poll and every delivery, failed or not — so
 * a dependency that is down shows its backlog growing, which is when the reading matters.
 */
export class DurableDeferred<P = unknown> {
  readonly queue: DurableQueue<P>;
  /** Backlog size and the time its oldest item was enqueued, as of the last refresh. */
  private snapshot = { size: 0, oldestAt: 0 };
  private readonly detach: () => void;
  private readonly clock: Clock;
  /** The clock in whole milliseconds, the stores' unit. */
  private readonly now: () => number;
  /** The refresh in flight (one at a time), and whether another was asked for meanwhile. */
  private refreshing: Promise<void> | undefined;
  private refreshAgain = false;

  constructor(
    private readonly dependency: {
      readonly name: string;
      call<T>(fn: (ctx: { signal: AbortSignal }) => Promise<T> | T, options?: { criticality?: 'core' }): Promise<T>;
      attachBacklog(source: () => { size: number; oldestAgeMs: number }): () => void;
    },
    private readonly options: DurableDeferredOptions<P>,
  ) {
    const { handler: _h, name, ...rest } = options;
    fnOption('handler', options.handler);
    this.queue = new DurableQueue<P>({ ...rest, name: name ?? dependency.name.replace(/[^A-Za-z0-9_.-]/g, '_') });
    this.clock = options.clock ?? realClock;
    this.now = wholeMs(this.clock);
    this.detach = dependency.attachBacklog(() => ({
      size: this.snapshot.size,
      oldestAgeMs: this.snapshot.size === 0 ? 0 : Math.max(0, this.clock.now() - this.snapshot.oldestAt),
    }));
  }

  /**
   * Durably queues the work; resolves with the message id once it is stored. The backlog reading is
   * refreshed in the background afterwards (one store read at a time, however fast work is sent).
   */
  async send(payload: P, options?: { id?: string; delay?: Duration }): Promise<string> {
    const id = await this.queue.enqueue(payload, options);
    this.refreshSoon();
    return id;
  }

  /** Starts a refresh unless one is running; a request during a refresh runs one more after it. Never rejects. */
  private refreshSoon(): void {
    if (this.refreshing !== undefined) {
      this.refreshAgain = true;
      return;
    }
    this.refreshing = this.refresh()
      .catch(() => undefined)
      .finally(() => {
        this.refreshing = undefined;
        if (this.refreshAgain) {
          this.refreshAgain = false;
          this.refreshSoon();
        }
      });
  }

  /**
   * Reads the queue's backlog and oldest-item age from the store into the snapshot the dependency's
   * health signals read. `send` refreshes after storing, `pollOnce` after every poll and `start` after
   * every delivery, whether it succeeded or failed; call it yourself (e.g. on a timer) to see the age of
   * work waiting out a backoff grow while nothing is sent or delivered. Rejects when the store does
   * (STORE_UNAVAILABLE); the snapshot then keeps its last values.
   */
  async refresh(): Promise<void> {
    const s = await this.queue.queueStats();
    this.snapshot = { size: s.backlog, oldestAt: this.now() - s.oldestAgeMs };
  }

  /** One poll: deliver what is due (deterministic; `start()` repeats it). */
  async pollOnce(): Promise<PollResult> {
    const r = await this.queue.pollOnce((d) => this.dependency.call(() => this.options.handler(d.payload, d), { criticality: 'core' }));
    await this.refresh();
    return r;
  }

  /**
   * Delivers in the background until `stop()` (see {@link DurableQueue.start}): each delivery calls
   * `handler` through the dependency's boundaries with criticality `core`, so an open breaker or a
   * timeout fails the delivery and the queue retries it after its backoff. `onError` receives what a
   * poll could not handle (e.g. the store is unavailable); handler failures are not passed to it.
   */
  start(onError?: (err: unknown) => void): this {
    this.queue.start(async (d) => {
      try {
        await this.dependency.call(() => this.options.handler(d.payload, d), { criticality: 'core' });
      } finally {
        // after a failed delivery too: a dependency that is down is when the backlog reading matters
        await this.refresh().catch(() => undefined);
      }
    }, onError);
    return this;
  }

  /**
   * Stops delivering, waits for the batch in hand, then detaches the backlog from the dependency's
   * health signals. Messages still queued stay in the store for the next consumer; the store stays open.
   */
  async stop(): Promise<void> {
    await this.queue.stop();
    this.refreshAgain = false;
    await this.refreshing;
    this.detach();
  }
}

/** Creates durable deferred work for a `deferrable` dependency (`new DurableDeferred(dependency, options)` does the same). */
export function createDurableDeferred<P = unknown>(dependency: ConstructorParameters<typeof DurableDeferred<P>>[0], options: DurableDeferredOptions<P>): DurableDeferred<P> {
  return new DurableDeferred<P>(dependency, options);
}
