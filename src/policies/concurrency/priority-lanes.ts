/**
 * Call classes at a concurrency limit: which class a call waits in (the priority of the operation it runs
 * in, or `background`), the background scope the library's own background work runs in, and the priority
 * options of a limit (slots reserved for critical classes, the background share). The admission itself is
 * in `bulkhead.ts`; see docs/priority.md.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { type OperationContext, operationStorage, PRIORITIES, type Priority } from '../../core/operation-context.js';
import { type Duration, timerDurationOption } from '../../core/duration.js';
import { type Linked, LinkedQueue } from '../../core/linked-queue.js';
import { configError, isPlainObject, objectOption, ratioOption } from '../../core/validate.js';
import { DEFAULT_SCAVENGER, scavengerOption } from './scavenger.js';

/**
 * The class a call waits in at a dependency's concurrency limit, highest first: the priority of the
 * operation the call runs in, or `background` (the lowest) for background work. A call outside any operation
 * and outside any background scope is `critical`, the default priority of an operation.
 */
export type CallClass = Priority | 'background';

/** Every call class, highest first (the order in which waiters are served). */
export const CALL_CLASSES: readonly CallClass[] = [...PRIORITIES, 'background'];

/** @internal Lane of each class: its index in `CALL_CLASSES`. */
export const LANE_CRITICAL = 1;
/** @internal */
export const LANE_BACKGROUND = 4;
/** @internal Number of lanes. */
export const LANES = 5;

/** A background scope remembers the operation it was entered in: an operation entered inside it wins. */
interface BackgroundScope {
  readonly under: OperationContext | undefined;
}

const backgroundStorage = new AsyncLocalStorage<BackgroundScope>();

/**
 * Runs `fn` as background work: every dependency call made within it (through async code too) waits in the
 * `background` class at a concurrency limit, below every operation's priority. The wall's deferred queue,
 * durable queue consumers, the outbox relay and cache background refreshes run their work this way; use it
 * for your own batch jobs and workers. An operation run inside `fn` gives its calls its own priority again.
 */
export function runInBackground<T>(fn: () => T): T {
  return backgroundStorage.run({ under: operationStorage.getStore() }, fn);
}

/** True when the current code runs as background work (see `runInBackground`). */
export function inBackground(): boolean {
  const bg = backgroundStorage.getStore();
  return bg !== undefined && bg.under === operationStorage.getStore();
}

/** The class a dependency call made here would wait in (see `CallClass`). */
export function currentCallClass(): CallClass {
  return CALL_CLASSES[currentLane()]!;
}

/** @internal The lane (index in `CALL_CLASSES`) of a call made here. */
export function currentLane(): number {
  const op = operationStorage.getStore();
  const bg = backgroundStorage.getStore();
  if (bg !== undefined && bg.under === op) return LANE_BACKGROUND;
  if (op === undefined) return LANE_CRITICAL;
  const i = PRIORITIES.indexOf(op.priority);
  return i < 0 ? LANE_CRITICAL : i;
}

/**
 * How a concurrency limit shares its slots between call classes (the `priority` option of `bulkhead()` and
 * of a dependency's `concurrency` section). Waiters are always served highest class first, FIFO within a
 * class.
 */
export interface ConcurrencyPriorityOptions {
  /**
   * Share of the limit kept for the critical classes (`critical-plus`, `critical`): other calls start only
   * while fewer than `limit − reserved` calls run. A ratio in [0, 1); default 0.2, rounded down but at least
   * one slot when the limit is 2 or more (none under a limit of 1), and always leaving one slot to the rest.
   */
  reserved?: number;
  /**
   * Most of the limit background calls may hold while calls of any other class run or wait, or started
   * within `idleAfter`: above it a finishing background call is not replaced (none is cancelled). When the
   * limit is idle, background work uses every slot but the reserved ones. A ratio in [0, 1]; default 0.25,
   * rounded down but at least one slot unless 0.
   */
  background?: number;
  /**
   * How long the limit must have started no call of another class before background work takes idle slots
   * beyond its share. Default 100ms: under steady user traffic background keeps to its share, and a
   * backlog drains at full speed once the traffic stops. `0`: as soon as nothing else runs or waits.
   */
  idleAfter?: Duration;
  /**
   * Background as a scavenger class, within its share: while background work runs beside other calls, the
   * limit times those calls and compares their tail excess (the mean time past the 90th percentile of
   * their latency while no background call ran, measured in short probes that take about one part in
   * seventeen of the time) per `interval` (default 250ms, and at least 320 calls) with the probes'; it
   * shrinks the background's allowed occupancy multiplicatively when the inflation is over `target` (a
   * ratio in (0, 1], default 0.1) and grows it additively when it is under; never below `min` slots (a
   * number > 0, default 0.25; a fraction is a duty cycle: 0.25 is one slot a quarter of the time) nor
   * above the share. A limit without background calls is unaffected. `false`: background keeps its whole
   * share under contention (see docs/priority.md, "The scavenger").
   */
  scavenger?: { target?: number; min?: number; interval?: Duration } | false;
}

/** The priority options of a concurrency limit, checked (`false`: one FIFO queue, no classes). */
export interface PrioritySettings {
  /** Share of the limit kept for the critical classes. */
  readonly reserved: number;
  /** Most of the limit background calls hold under contention. */
  readonly background: number;
  /** How long the limit must have started no call of another class before background takes idle slots (ms). */
  readonly idleAfterMs: number;
  /** The scavenger's inflation target, least occupancy in slots and control interval (ms), or `false` when off. */
  readonly scavenger: { readonly target: number; readonly min: number; readonly intervalMs: number } | false;
}

/**
 * Default priority options: 20% of the limit reserved for critical classes, 25% for background under
 * contention, idle after 100ms, background a scavenger (10% inflation target, at least a quarter slot, 250ms interval).
 */
export const DEFAULT_PRIORITY: PrioritySettings = { reserved: 0.2, background: 0.25, idleAfterMs: 100, scavenger: DEFAULT_SCAVENGER };

/**
 * Checks the `priority` option of a concurrency limit (`field` names it in `CONFIG_INVALID`): `undefined`
 * is the default, `false` turns classes off (one FIFO queue, as before call classes existed).
 */
export function priorityOption(field: string, value: unknown): PrioritySettings | false {
  if (value === undefined) return DEFAULT_PRIORITY;
  if (value === false) return false;
  if (!isPlainObject(value)) throw configError(field, '{ reserved?, background?, idleAfter?, scavenger? } or false', value);
  const o = objectOption(field, value, ['reserved', 'background', 'idleAfter', 'scavenger']);
  const reserved = o.reserved === undefined ? DEFAULT_PRIORITY.reserved : ratioOption(`${field}.reserved`, o.reserved, true);
  if (reserved >= 1) throw configError(`${field}.reserved`, 'a ratio ≥ 0 and < 1 (the rest of the limit must stay open to other classes)', o.reserved);
  const background = o.background === undefined ? DEFAULT_PRIORITY.background : ratioOption(`${field}.background`, o.background, true);
  const idleAfterMs = o.idleAfter === undefined ? DEFAULT_PRIORITY.idleAfterMs : timerDurationOption(`${field}.idleAfter`, o.idleAfter, 0);
  const scavenger = scavengerOption(`${field}.scavenger`, o.scavenger);
  return { reserved, background, idleAfterMs, scavenger };
}

/** Slots of a limit reserved for critical classes under `p` (see `ConcurrencyPriorityOptions.reserved`). */
export function reservedSlots(limit: number, p: PrioritySettings): number {
  if (limit < 2 || p.reserved === 0) return 0;
  return Math.min(limit - 1, Math.max(1, Math.floor(p.reserved * limit)));
}

/** Slots background calls may hold under contention (see `ConcurrencyPriorityOptions.background`). */
export function backgroundSlots(limit: number, p: PrioritySettings): number {
  if (p.background === 0) return 0;
  return Math.max(1, Math.floor(p.background * limit));
}

/** @internal The waiters of a concurrency limit: one FIFO queue per call class (lane), highest first. */
export class Lanes<W extends Linked<W> & { readonly lane: number }> {
  private readonly queues: LinkedQueue<W>[] = Array.from({ length: LANES }, () => new LinkedQueue<W>());
  /** Waiters in every lane. */
  size = 0;

  push(w: W): void {
    this.queues[w.lane]!.push(w);
    this.size++;
  }

  /** Unlinks `w` (which must be waiting here). */
  remove(w: W): void {
    this.queues[w.lane]!.remove(w);
    this.size--;
  }

  /** Waiters in `lane`. */
  count(lane: number): number {
    return this.queues[lane]?.size ?? 0;
  }

  /** The longest-waiting waiter of the highest class that has one. */
  head(): W | undefined {
    for (const q of this.queues) if (q.head !== undefined) return q.head;
    return undefined;
  }

  /** True when no waiter of class `lane` or a higher one waits. */
  noneFrom(lane: number): boolean {
    if (this.size === 0) return true;
    for (let l = 0; l <= lane; l++) if (this.queues[l]!.size > 0) return false;
    return true;
  }

  /** The newest waiter of the lowest class below `lane`, if any (the one to refuse when the queue is full). */
  newestBelow(lane: number): W | undefined {
    for (let l = LANES - 1; l > lane; l--) if (this.queues[l]!.tail !== undefined) return this.queues[l]!.tail;
    return undefined;
  }
}
