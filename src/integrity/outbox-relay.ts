import { type Clock, realClock } from '../core/clock.js';
import { durationOption, type Duration } from '../core/duration.js';
import { fnOption, intOption, objectOption } from '../core/validate.js';
import { storeOption, wholeMs } from '../stores/options.js';
import type { IntegrityStore, OutboxRow } from '../stores/types.js';
import { PollLoop } from './poll-loop.js';
import { runInBackground } from '../policies/concurrency/index.js';

/** Options of {@link OutboxRelay} / `createOutboxRelay`. */
export interface OutboxRelayOptions {
  /** The store whose outbox is relayed (where `Work.outbox` messages were committed). */
  store: IntegrityStore;
  /**
   * Delivers one message (to a broker, or to a DurableQueue with `queue.enqueue(payload, { id })`).
   * Throwing stops the batch; the row and those after it are tried again on the next poll. A message may
   * be published more than once (a crash before it was marked sent), so the receiver should dedupe on `row.id`.
   */
  publish: (row: OutboxRow) => Promise<void> | void;
  /** The time source for the poll timer and the sent marks (default: the real clock; a `FakeClock` in tests). */
  clock?: Clock;
  /** Rows read and published per poll, an integer 1–10000 (default 100). */
  batch?: number;
  /** How long `start()` waits before polling again after a batch that was not full (default 250ms). */
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
  relayOnce(): Promise<number> {
    // relaying is background work: `publish`'s dependency calls wait in the lowest class (see runInBackground)
    return runInBackground(() => this.relay());
  }

  private async relay(): Promise<number> {
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

  /** Stops relaying and resolves once the batch in hand is published and marked (rows not reached wait in the store). */
  stop(): Promise<void> {
    return this.poller.stop();
  }
}

/** Creates an outbox relay (`new OutboxRelay(options)` does the same). */
export function createOutboxRelay(options: OutboxRelayOptions): OutboxRelay {
  return new OutboxRelay(options);
}
