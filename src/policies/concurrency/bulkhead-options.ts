/** The options of `bulkhead()` and what its rejection events carry (the policy itself is in bulkhead.ts). */
import type { Clock } from '../../core/clock.js';
import type { Duration } from '../../core/duration.js';
import { optionNames } from '../../core/option-names.js';
import type { ConcurrencyPriorityOptions } from './priority-lanes.js';

/** Options of {@link bulkhead}. Only `limit` is required; an unknown option or a value out of range throws `CONFIG_INVALID`. */
export interface BulkheadOptions {
  /** Calls allowed to run at once (an integer ≥ 1). */
  limit: number;
  /** Calls allowed to wait for a slot (served highest class first, FIFO within a class). Default 0: reject at once when full. */
  queue?: number;
  /**
   * Longest a call waits in the queue (1ms to 2^31−1 ms) before it is refused with `QUEUE_TIMEOUT`. Default:
   * until its deadline (then `DEADLINE_EXCEEDED`) or the caller's abort (`ABORTED`).
   */
  queueTimeout?: Duration;
  /**
   * How the slots are shared between call classes (the priority of the operation a call runs in, or
   * background work): slots reserved for critical classes and the most background work may hold under
   * contention (see docs/priority.md). Default `{ reserved: 0.2, background: 0.25 }`; `false`: one FIFO
   * queue for every call.
   */
  priority?: ConcurrencyPriorityOptions | false;
  /** The clock queue waits are measured on. Default the real clock; tests pass a `FakeClock`. */
  clock?: Clock;
  /** Names the policy in its errors (as the dependency) when the call does not go through a wall dependency. */
  name?: string;
}

/** Emitted by {@link BulkheadPolicy.onReject} each time a call is refused with `BULKHEAD_FULL` or `QUEUE_TIMEOUT`. */
export interface BulkheadRejection {
  /**
   * `full`: no slot and no queue place was free (or a waiter of a lower class gave its place up to a higher
   * one), refused with `BULKHEAD_FULL`; `queue-timeout`: waited `queueTimeout` in vain, refused with
   * `QUEUE_TIMEOUT`.
   */
  reason: 'full' | 'queue-timeout';
  /** Calls running when it was refused. */
  active: number;
  /** Calls waiting when it was refused. */
  queued: number;
}

/** Every option of `bulkhead()`, as its runtime check accepts them (the wall's `concurrency` section reuses the list). */
export const BULKHEAD_OPTION_NAMES = optionNames<BulkheadOptions>()('limit', 'queue', 'queueTimeout', 'priority', 'clock', 'name');
