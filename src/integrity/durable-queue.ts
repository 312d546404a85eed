/**
 * Durable deferred work on an IntegrityStore. Delivery is at least once (a message whose consumer dies is
 * delivered again when its lease runs out); effects happen once because a consumer commits what it
 * recorded on its `Work` together with a "processed" mark for the message id, fenced by the lease: when a
 * message that was already processed is delivered again, the handler runs but its work is not committed
 * a second time (a duplicate), and the message is acknowledged.
 */
import { randomUUID } from 'node:crypto';
import { type Clock, realClock } from '../core/clock.js';
import { durationOption, type Duration } from '../core/duration.js';
import { fnOption, intOption, objectOption, stringOption } from '../core/validate.js';
import { exponential, type Schedule } from '../policies/retry/schedule.js';
import { runInBackground } from '../policies/concurrency/index.js';
import { storeOption, wholeMs } from '../stores/options.js';
import type { IntegrityStore, LeasedMessage, QueueStats } from '../stores/types.js';
import { Work } from './work.js';
import { PollLoop } from './poll-loop.js';

/** A queue delivery is fenced at commit by its lease token; nothing aborts it while it runs. */
const NEVER_ABORTED = new AbortController().signal;

/** Options of {@link DurableQueue} / `createDurableQueue`. Durations are milliseconds or strings such as `'30s'`. */
export interface DurableQueueOptions {
  /** Where messages, leases and the processed marks live (any {@link IntegrityStore}). */
  store: IntegrityStore;
  /** Queue name (letters, digits, `-_.`, at most 100 characters): queues on one store are told apart by it. */
  name: string;
  /** The time source for leases, delays and backoff (default: the real clock; a `FakeClock` in tests). */
  clock?: Clock;
  /** How long a consumer owns a message (default 30s). */
  lease?: Duration;
  /** Deliveries before a message is dead-lettered, an integer 1–1000 (default 5): the delivery numbered `maxAttempts` that fails dead-letters it. */
  maxAttempts?: number;
  /** Delay before the next delivery after a failure (default exponential 1s…5min, full jitter). */
  backoff?: Schedule;
  /** Messages leased per poll, an integer 1–10000 (default 16). */
  batch?: number;
  /** Poll interval of `start()` when the queue was empty (default 250ms). */
  pollInterval?: Duration;
  /**
   * The random source of the backoff's jitter, returning numbers in [0, 1) (default `Math.random`); pass a
   * seeded one for reproducible delays in tests.
   */
  random?: () => number;
  /** Messages of a batch handled at once, an integer 1–1000 (default 1: one after the other). */
  concurrency?: number;
  /** Called after a message's unit committed and before it is acknowledged (instrumentation, crash drills). */
  afterCommit?: (id: string) => void | Promise<void>;
}

/** One delivery of a message to a {@link Handler}. */
export interface Delivery<T> {
  /** The message id (given to `enqueue`, or the random UUID it returned); stable across redeliveries, so use it to dedupe. */
  id: string;
  /** The payload as enqueued, after a JSON round trip through the store (a Date becomes a string, a Map an object). */
  payload: T;
  /** Which delivery this is, 1 for the first; a message is dead-lettered when delivery `maxAttempts` fails. */
  attempt: number;
  /**
   * Record here what must become durable (effects, outbox messages, versioned writes, SQL): it is
   * committed with the message's processed mark after the handler returns, only if the lease is still
   * held, and discarded if the handler throws.
   */
  work: Work;
}

/**
 * Handles one delivery. Return (or resolve) to have the delivery's `work` committed and the message
 * acknowledged; throw (or reject) to have it delivered again after the backoff, or dead-lettered with the
 * error as reason once it had `maxAttempts` deliveries. A handler may run more than once for one message
 * (delivery is at least once), so side effects outside `work` must be idempotent.
 */
export type Handler<T> = (delivery: Delivery<T>) => Promise<void> | void;

/** What one {@link DurableQueue.pollOnce} did with the messages it leased (each counted once). */
export interface PollResult {
  /** Handled and committed: their work is durable and the message acknowledged. */
  processed: number;
  /** Handled, but an earlier delivery had already committed: nothing new was written, the message was acknowledged. */
  duplicates: number;
  /** The handler failed: put back for a later delivery after the backoff. */
  retried: number;
  /** The handler failed on the last allowed delivery: dead-lettered. */
  dead: number;
  /** The lease ran out before the outcome was written (another consumer may hold the message now): nothing was written. */
  leaseLost: number;
}

/**
 * A durable, at-least-once work queue on an {@link IntegrityStore}: `enqueue` writes a message, a consumer
 * (`pollOnce` in tests, `start` in a service) leases a batch, runs the handler and commits each message's
 * `work` together with a processed mark, fenced by its lease, so the work of one message is committed at
 * most once even when the message is delivered again. Failed deliveries are retried after `backoff` and
 * dead-lettered after `maxAttempts`. Several processes may consume one queue on a shared store (SQLite,
 * Redis, PostgreSQL); leases keep them from handling a message at the same time, unless a handler
 * outlives its lease.
 *
 * @example
 * ```ts
 * import { createDurableQueue } from 'blastwall';
 * import { createSqliteStore } from 'blastwall/stores/sqlite';
 *
 * declare function sendConfirmation(orderId: string): Promise<void>; // your own code
 *
 * const queue = createDurableQueue<{ orderId: string }>({ store: createSqliteStore('.blastwall/integrity.db'), name: 'emails' });
 * await queue.enqueue({ orderId: 'o-1' }, { id: 'confirm-o-1', delay: '5s' });
 * queue.start(async ({ payload, work }) => {
 *   await sendConfirmation(payload.orderId); // may run again on redelivery
 *   work.effect('emails', payload.orderId, { sent: true });
 * });
 * // … on shutdown
 * await queue.stop();
 * ```
 */
export class DurableQueue<T = unknown> {
  /** The store the queue lives on. */
  readonly store: IntegrityStore;
  /** The queue name (see {@link DurableQueueOptions.name}). */
  readonly name: string;
  /** Counts of this process's deliveries since it was created, by outcome (as in {@link PollResult}), plus versioned writes that were stale. */
  readonly stats = { processed: 0, duplicates: 0, retried: 0, dead: 0, leaseLost: 0, staleWrites: 0 };
  private readonly clock: Clock;
  /** The clock in whole milliseconds, the stores' unit. */
  private readonly now: () => number;
  private readonly leaseMs: number;
  private readonly maxAttempts: number;
  private readonly backoff: (attempt: number) => number;
  private readonly batch: number;
  private readonly poller: PollLoop;
  private readonly afterCommit: ((id: string) => void | Promise<void>) | undefined;
  private readonly concurrency: number;

  constructor(options: DurableQueueOptions) {
    const o = objectOption('queue', options, ['store', 'name', 'clock', 'lease', 'maxAttempts', 'backoff', 'batch', 'pollInterval', 'random', 'afterCommit', 'concurrency']);
    this.concurrency = intOption('concurrency', o.concurrency ?? 1, 1, 1000);
    this.afterCommit = o.afterCommit === undefined ? undefined : fnOption('afterCommit', o.afterCommit);
    this.store = storeOption(o.store);
    this.name = stringOption('name', o.name, /^[A-Za-z0-9_.-]{1,100}$/);
    this.clock = (o.clock as Clock | undefined) ?? realClock;
    this.now = wholeMs(this.clock);
    this.leaseMs = durationOption('lease', o.lease ?? '30s', 100);
    this.maxAttempts = intOption('maxAttempts', o.maxAttempts ?? 5, 1, 1000);
    const schedule = o.backoff === undefined ? exponential({ base: '1s', max: '5m', jitter: 'full' }) : fnOption<Schedule>('backoff', o.backoff);
    const random = o.random === undefined ? Math.random : fnOption<() => number>('random', o.random);
    this.backoff = (attempt) => schedule(random)(attempt);
    this.batch = intOption('batch', o.batch ?? 16, 1, 10_000);
    this.poller = new PollLoop(this.clock, durationOption('pollInterval', o.pollInterval ?? '250ms', 1));
  }

  /** Adds a message (id defaults to a random UUID; an id seen before is ignored). Returns the id. */
  async enqueue(payload: T, options: { id?: string; delay?: Duration } = {}): Promise<string> {
    const id = options.id ?? randomUUID();
    const now = this.now();
    const delay = options.delay === undefined ? 0 : durationOption('delay', options.delay, 0);
    await this.store.enqueue(this.name, [{ id, payload, availableAt: now + delay }], now);
    return id;
  }

  /** Backlog size and oldest-item age (the drift signals), leased and dead counts. */
  queueStats(): Promise<QueueStats> {
    return this.store.queueStats(this.name, this.now());
  }

  /** The dead-lettered messages of this queue in the order they were enqueued, at most `limit` (default 100), with their last error as `reason`. */
  deadLetters(limit?: number): ReturnType<IntegrityStore['deadLetters']> {
    return this.store.deadLetters(this.name, limit);
  }

  /**
   * Leases one batch and handles it. Deterministic: what tests and `start()` use. Runs as background work
   * (see `runInBackground`): the handler's dependency calls, and the store's own if they go through a
   * dependency, wait in the lowest class at a concurrency limit.
   */
  pollOnce(handler: Handler<T>): Promise<PollResult> {
    return runInBackground(() => this.poll(handler));
  }

  private async poll(handler: Handler<T>): Promise<PollResult> {
    const r: PollResult = { processed: 0, duplicates: 0, retried: 0, dead: 0, leaseLost: 0 };
    const msgs = await this.store.lease(this.name, this.batch, this.now(), this.leaseMs);
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < msgs.length) await this.handleOne(msgs[next++]!, handler, r);
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, msgs.length) }, lane));
    this.stats.processed += r.processed;
    this.stats.duplicates += r.duplicates;
    this.stats.retried += r.retried;
    this.stats.dead += r.dead;
    this.stats.leaseLost += r.leaseLost;
    return r;
  }

  private async handleOne(m: LeasedMessage, handler: Handler<T>, r: PollResult): Promise<void> {
    const work = new Work(NEVER_ABORTED);
    try {
      await handler({ id: m.id, payload: m.payload as T, attempt: m.attempt, work });
    } catch (err) {
      const now = this.now();
      const reason = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      if (m.attempt >= this.maxAttempts) {
        if (await this.store.deadLetter(this.name, m.id, m.leaseToken, reason, now)) r.dead++;
        else r.leaseLost++;
      } else if (await this.store.retryLater(this.name, m.id, m.leaseToken, now + Math.max(0, this.backoff(m.attempt)))) {
        r.retried++;
      } else {
        r.leaseLost++;
      }
      return;
    }
    const now = this.now();
    const c = await this.store.commit(work.toUnit(now, { message: { queue: this.name, id: m.id, leaseToken: m.leaseToken }, processed: { group: this.name, id: m.id } }));
    if (!c.ok && c.reason === 'lease-lost') {
      r.leaseLost++;
      return;
    }
    if (c.ok) {
      r.processed++;
      this.stats.staleWrites += c.stale.length;
    } else {
      r.duplicates++;
    }
    if (this.afterCommit !== undefined) await this.afterCommit(m.id);
    await this.store.ack(this.name, m.id, m.leaseToken, this.now());
  }

  /**
   * Polls in the background until `stop()`: immediately again after a full batch, else after `pollInterval`.
   * `onError` receives what a poll could not handle (a store that is unavailable, an `afterCommit` that
   * threw); handler errors are not passed to it (they retry or dead-letter the message). A queue already
   * started ignores a second `start` (the first handler stays).
   */
  start(handler: Handler<T>, onError: (err: unknown) => void = () => undefined): this {
    this.poller.start(async () => {
      const r = await this.pollOnce(handler);
      return r.processed + r.duplicates + r.retried + r.dead + r.leaseLost >= this.batch;
    }, onError);
    return this;
  }

  /** Stops polling and waits for the batch in hand. */
  stop(): Promise<void> {
    return this.poller.stop();
  }
}

/** Creates a durable queue on a store (`new DurableQueue(options)` does the same). */
export function createDurableQueue<T = unknown>(options: DurableQueueOptions): DurableQueue<T> {
  return new DurableQueue<T>(options);
}
