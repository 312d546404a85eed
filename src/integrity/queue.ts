/**
 * Durable deferred work, the outbox relay, the ordering guard and quarantine — all on an IntegrityStore.
 *
 * Delivery is at least once (a message whose consumer dies is delivered again when its lease runs out);
 * effects happen once because a consumer commits what it recorded on its `Work` together with a
 * "processed" mark for the message id, fenced by the lease: a redelivered message that was already
 * processed is acknowledged without running the handler again.
 */
import { randomUUID } from 'node:crypto';
import { type Clock, realClock } from '../core/clock.js';
import { durationOption, type Duration } from '../core/duration.js';
import { configError, fnOption, intOption, objectOption, stringOption } from '../core/validate.js';
import { exponential, type Schedule } from '../policies/retry/schedule.js';
import { storeOption, wholeMs } from '../stores/options.js';
import type { IntegrityStore, LeasedMessage, OutboxRow, QueueStats, VersionedWrite } from '../stores/types.js';
import { Work } from './work.js';

/** A queue delivery is fenced at commit by its lease token; nothing aborts it while it runs. */
const NEVER_ABORTED = new AbortController().signal;

/** Runs `step` until stopped: again at once when it says so (a full batch), else after `everyMs`. */
class PollLoop {
  private timer: ReturnType<Clock['setTimer']> | undefined;
  private running: Promise<unknown> | undefined;
  private stopped = true;

  constructor(
    private readonly clock: Clock,
    private readonly everyMs: number,
  ) {}

  start(step: () => Promise<boolean>, onError: (err: unknown) => void): void {
    if (!this.stopped) return;
    this.stopped = false;
    const loop = (): void => {
      this.timer = undefined;
      if (this.stopped) return;
      this.running = step()
        .catch((err: unknown) => {
          onError(err);
          return false;
        })
        .then((again) => {
          if (!this.stopped) this.timer = this.clock.setTimer(loop, again ? 0 : this.everyMs);
        });
    };
    loop();
  }

  /** Stops and waits for the step in hand. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    this.timer = undefined;
    await this.running;
  }
}

export interface DurableQueueOptions {
  store: IntegrityStore;
  /** Queue name (letters, digits, `-_.`). */
  name: string;
  clock?: Clock;
  /** How long a consumer owns a message (default 30s). */
  lease?: Duration;
  /** Deliveries before a message is dead-lettered (default 5). */
  maxAttempts?: number;
  /** Delay before the next delivery after a failure (default exponential 1s…5min, full jitter). */
  backoff?: Schedule;
  /** Messages leased per poll (default 16). */
  batch?: number;
  /** Poll interval of `start()` when the queue was empty (default 250ms). */
  pollInterval?: Duration;
  random?: () => number;
  /** Messages of a batch handled at once (default 1: one after the other). */
  concurrency?: number;
  /** Called after a message's unit committed and before it is acknowledged (instrumentation, crash drills). */
  afterCommit?: (id: string) => void | Promise<void>;
}

export interface Delivery<T> {
  id: string;
  payload: T;
  attempt: number;
  work: Work;
}

export type Handler<T> = (delivery: Delivery<T>) => Promise<void> | void;

export interface PollResult {
  processed: number;
  duplicates: number;
  retried: number;
  dead: number;
  leaseLost: number;
}

export class DurableQueue<T = unknown> {
  readonly store: IntegrityStore;
  readonly name: string;
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

  deadLetters(limit?: number): ReturnType<IntegrityStore['deadLetters']> {
    return this.store.deadLetters(this.name, limit);
  }

  /** Leases one batch and handles it. Deterministic: what tests and `start()` use. */
  async pollOnce(handler: Handler<T>): Promise<PollResult> {
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

  /** Polls in the background until `stop()`: immediately again after a full batch, else after `pollInterval`. */
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

export interface OutboxRelayOptions {
  store: IntegrityStore;
  /** Delivers one message (to a broker, or to a DurableQueue with `queue.enqueue(payload, { id })`). */
  publish: (row: OutboxRow) => Promise<void> | void;
  clock?: Clock;
  batch?: number;
  pollInterval?: Duration;
}

/**
 * Moves committed outbox rows to `publish`, oldest first, marking each sent after it was published.
 * It selects by state (unsent), not by a cursor, so a row whose id committed after a higher id is still
 * sent. A crash between publish and mark publishes again: consumers dedupe by message id.
 */
export class OutboxRelay {
  readonly stats = { published: 0, failures: 0 };
  private readonly store: IntegrityStore;
  private readonly publish: OutboxRelayOptions['publish'];
  private readonly clock: Clock;
  /** The clock in whole milliseconds, the stores' unit. */
  private readonly now: () => number;
  private readonly batch: number;
  private readonly poller: PollLoop;

  constructor(options: OutboxRelayOptions) {
    const o = objectOption('relay', options, ['store', 'publish', 'clock', 'batch', 'pollInterval']);
    this.store = storeOption(o.store);
    this.publish = fnOption('publish', o.publish);
    this.clock = (o.clock as Clock | undefined) ?? realClock;
    this.now = wholeMs(this.clock);
    this.batch = intOption('batch', o.batch ?? 100, 1, 10_000);
    this.poller = new PollLoop(this.clock, durationOption('pollInterval', o.pollInterval ?? '250ms', 1));
  }

  /**
   * Relays one batch in order, then marks what was published as sent in one write; stops at the first
   * failed publish (later rows wait, order is kept). Returns how many were sent.
   */
  async relayOnce(): Promise<number> {
    const rows = await this.store.outboxPending(this.batch);
    const sent: string[] = [];
    for (const row of rows) {
      try {
        await this.publish(row);
      } catch {
        this.stats.failures++;
        break;
      }
      sent.push(row.id);
    }
    if (sent.length > 0) await this.store.markSent(sent, this.now());
    this.stats.published += sent.length;
    return sent.length;
  }

  /** Relays in the background until `stop()`: immediately again after a full batch, else after `pollInterval`. */
  start(onError: (err: unknown) => void = () => undefined): this {
    this.poller.start(async () => (await this.relayOnce()) >= this.batch, onError);
    return this;
  }

  stop(): Promise<void> {
    return this.poller.stop();
  }
}

/**
 * Ordering guard: `apply(entity, version, write)` stores `write`'s value only if `version` is newer than
 * the stored one (compare-and-set on the store). Stale writes are counted and reported, never applied.
 */
export class OrderingGuard {
  readonly stats = { applied: 0, stale: 0 };
  private readonly store: IntegrityStore;
  private readonly clock: Clock;
  /** The clock in whole milliseconds, the stores' unit. */
  private readonly now: () => number;
  private readonly onStale: ((w: VersionedWrite) => void) | undefined;

  constructor(options: { store: IntegrityStore; clock?: Clock; onStale?: (w: VersionedWrite) => void }) {
    const o = objectOption('guard', options, ['store', 'clock', 'onStale']);
    this.store = storeOption(o.store);
    this.clock = (o.clock as Clock | undefined) ?? realClock;
    this.now = wholeMs(this.clock);
    this.onStale = o.onStale === undefined ? undefined : fnOption('onStale', o.onStale);
  }

  /**
   * `write` is the new value or a function computing it; it is not called when the stored version is
   * already newer. Returns whether it was applied and the version now stored.
   */
  async apply<V>(entity: string, version: number, write: V | (() => V | Promise<V>)): Promise<{ applied: boolean; version: number }> {
    if (typeof entity !== 'string' || entity.length === 0) throw configError('entity', 'a non-empty string', entity);
    if (typeof version !== 'number' || !Number.isFinite(version)) throw configError('version', 'a finite number', version);
    const cur = await this.store.version(entity);
    if (cur !== undefined && cur.version >= version) return this.stale({ entity, version, value: undefined }, cur.version);
    const value = typeof write === 'function' ? await (write as () => V | Promise<V>)() : write;
    const r = await this.store.commit({ now: this.now(), versions: [{ entity, version, value }] });
    if (r.ok && r.stale.length === 0) {
      this.stats.applied++;
      return { applied: true, version };
    }
    return this.stale({ entity, version, value }, (await this.store.version(entity))?.version ?? version);
  }

  current(entity: string): Promise<{ version: number; value: unknown } | undefined> {
    return this.store.version(entity);
  }

  private stale(w: VersionedWrite, stored: number): { applied: boolean; version: number } {
    this.stats.stale++;
    this.onStale?.(w);
    return { applied: false, version: stored };
  }
}

/**
 * Validates payloads before they reach business tables or the outbox; rejects are stored with their
 * reason and listable. `check` returns `undefined` when valid, or the reason.
 */
export class Quarantine {
  readonly stats = { accepted: 0, quarantined: 0 };
  private readonly store: IntegrityStore;
  private readonly clock: Clock;
  /** The clock in whole milliseconds, the stores' unit. */
  private readonly now: () => number;

  constructor(options: { store: IntegrityStore; clock?: Clock }) {
    const o = objectOption('quarantine', options, ['store', 'clock']);
    this.store = storeOption(o.store);
    this.clock = (o.clock as Clock | undefined) ?? realClock;
    this.now = wholeMs(this.clock);
  }

  /** Returns true when `payload` passes; otherwise stores it under `source` with the reason and returns false. */
  async admit(source: string, payload: unknown, check: (payload: unknown) => string | undefined): Promise<boolean> {
    const reason = check(payload);
    if (reason === undefined) {
      this.stats.accepted++;
      return true;
    }
    this.stats.quarantined++;
    let text: string;
    try {
      text = typeof payload === 'string' ? payload : (JSON.stringify(payload) ?? String(payload));
    } catch {
      text = String(payload);
    }
    await this.store.putQuarantine({ source, reason, payload: text, at: this.now() });
    return false;
  }

  list(source?: string, limit?: number): ReturnType<IntegrityStore['quarantined']> {
    return this.store.quarantined(source, limit);
  }
}

export interface DurableDeferredOptions<P> extends Omit<DurableQueueOptions, 'name'> {
  /** Queue name (default: the dependency's name). */
  name?: string;
  /** Performs the deferred work against the dependency; runs inside the dependency's boundaries. */
  handler: (payload: P, delivery: Delivery<P>) => Promise<void> | void;
}

/**
 * Durable deferral for a `deferrable` dependency: `send(payload)` only writes to the store (the caller's
 * path never waits on the dependency); a background consumer calls the dependency through its
 * boundaries (timeout, breaker, retry budget) and the queue retries on its schedule and dead-letters after
 * `maxAttempts`. The queue's backlog and oldest-item age join the dependency's health signals (and so the
 * drift monitors and metrics), refreshed after every poll.
 */
export class DurableDeferred<P = unknown> {
  readonly queue: DurableQueue<P>;
  /** Backlog size and the time its oldest item was enqueued, as of the last refresh. */
  private snapshot = { size: 0, oldestAt: 0 };
  private readonly detach: () => void;
  private readonly clock: Clock;
  /** The clock in whole milliseconds, the stores' unit. */
  private readonly now: () => number;

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

  /** Durably queues the work; resolves with the message id once it is stored. */
  send(payload: P, options?: { id?: string; delay?: Duration }): Promise<string> {
    return this.queue.enqueue(payload, options);
  }

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

  start(onError?: (err: unknown) => void): this {
    this.queue.start(async (d) => {
      await this.dependency.call(() => this.options.handler(d.payload, d), { criticality: 'core' });
      await this.refresh().catch(() => undefined);
    }, onError);
    return this;
  }

  async stop(): Promise<void> {
    await this.queue.stop();
    this.detach();
  }
}
