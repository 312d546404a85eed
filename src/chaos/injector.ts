/**
 * The fault injector: time-bounded, seeded injections per dependency, applied at the user's function slot.
 * Independent of the wall: `createFaultInjector({ clock })` and `injector.wrap('payments', fn)` work on
 * their own; the wall installs the slot on a dependency only while something is active on it.
 */
import { type Clock, realClock } from '../core/clock.js';
import type { AttemptFn } from '../core/context.js';
import { type Duration, durationOption, formatDuration } from '../core/duration.js';
import { BlastwallError } from '../core/errors.js';
import { Emitter } from '../core/events.js';
import { configError, objectOption, ratioOption, stringOption } from '../core/validate.js';
import { type Fault, type FaultKind, compileFault } from './faults.js';
import { Injection, makeWrapper, type SlotState } from './injection.js';
import { seededRandom } from './random.js';

/** Options of `inject` ({@link FaultInjector.inject}, `wall.faults.inject`, the fault admin route). */
export interface InjectOptions {
  /** Share of attempts hit, in (0, 1]. Default 1. */
  rate?: number;
  /**
   * How long the injection lasts; it ends by itself. A duration (`'30s'`, `'5m'`, or a number of ms), from
   * 1 ms to the injector's `maxDuration`. Default 5 minutes (or `maxDuration` when shorter).
   */
  for?: Duration;
  /** Seed of the injection's randomness (which attempts it hits, sampled latencies). Default: derived from the injector's seed and the injection's number. */
  seed?: number | string;
  /** Only attempts made inside these operations are hit. Default: every attempt. */
  operations?: readonly string[];
}

/** Options of {@link createFaultInjector} (a wall passes its own when `faults` is on). */
export interface FaultInjectorOptions {
  /** The clock injections are timed on (their end, latency sleeps). Default the real clock. */
  clock?: Clock;
  /** The longest `for` accepted (a duration, ≥ 1 ms): a forgotten injection cannot outlive it. Default 1 hour. */
  maxDuration?: Duration;
  /** Seed the default per-injection seeds derive from. Default 1. */
  seed?: number | string;
  /** Tells whether a dependency exists (the wall passes its registry); unknown names are refused at `inject`. */
  knows?: (dependency: string) => boolean;
}

/**
 * Why an injection ended: `expired` (its `for` ran out), `stopped` (its handle's `stop()` or the injector's
 * `stop(id)`), `cleared` (`clear()`), `closed` (the injector or the wall closed).
 */
export type EndReason = 'expired' | 'stopped' | 'cleared' | 'closed';

/**
 * The start or end of an injection, as {@link FaultInjector.onFault} (and the wall's event stream, and so
 * its timeline) tells it. Times are ms on the injector's clock.
 */
export interface FaultEvent {
  type: 'fault';
  state: 'started' | 'ended';
  /** When it happened. */
  at: number;
  /** The injection's id (as {@link FaultHandle.id}). */
  id: number;
  dependency: string;
  fault: FaultKind;
  /** The fault for people, e.g. `error: HTTP 503 (Retry-After 2s)`. */
  description: string;
  /** Share of attempts hit, in (0, 1]. */
  rate: number;
  startedAt: number;
  /** When it ends (or was due to end, for one that ended early). */
  endsAt: number;
  /** The operations it is limited to; undefined: every attempt. */
  operations: string[] | undefined;
  /** Set when `state` is `ended`. */
  reason?: EndReason;
  /** Attempts that reached the slot while the injection was active, and those it hit. */
  attempts: number;
  hits: number;
}

/**
 * An active injection as {@link FaultInjector.active} lists it (and the fault admin route's `GET` answers):
 * plain data, safe to serialise. Times are ms on the injector's clock.
 */
export interface ActiveFault {
  id: number;
  dependency: string;
  /** The fault in JSON form (durations in ms, functions shown by name). */
  fault: Record<string, unknown>;
  /** The fault for people, e.g. `latency p50 200ms / p99 2s (log-normal)`. */
  description: string;
  /** Share of attempts hit, in (0, 1]. */
  rate: number;
  /** The seed of its randomness: inject again with it to replay the same hits and latencies. */
  seed: number | string;
  startedAt: number;
  endsAt: number;
  /** The operations it is limited to; undefined: every attempt. */
  operations: string[] | undefined;
  /** Attempts that reached the slot (in its operations) so far. */
  attempts: number;
  /** Of those, the attempts it hit. */
  hits: number;
}

/**
 * A running injection, as `inject` returns it: stop it early, wait for its end, read its counts. It ends by
 * itself after its `for` in any case.
 */
export interface FaultHandle {
  /** Its id, unique per injector (the admin route's `DELETE …/faults/<id>` takes it). */
  readonly id: number;
  readonly dependency: string;
  /** Ends the injection now (idempotent). Returns false when it had already ended. */
  stop(): boolean;
  /** True while the injection is active. */
  readonly active: boolean;
  /** Resolves when the injection ends (by itself, `stop()`, `clear()` or close). */
  readonly ended: Promise<EndReason>;
  /** Attempts that reached the slot (in its operations) while it was active, and those it hit. */
  readonly attempts: number;
  readonly hits: number;
  readonly startedAt: number;
  readonly endsAt: number;
}

/** Wraps a user's function with the active faults of one dependency. */
export type SlotWrapper = (fn: AttemptFn<unknown>) => AttemptFn<unknown>;

/** How long an injection lasts when `for` is not given: 5 minutes (in ms), capped by the injector's `maxDuration`. */
export const DEFAULT_FAULT_DURATION_MS = 5 * 60_000;

/** Attempts counted at a dependency's slot while an observer is attached (the drill runner's attempt counter). */
export interface SlotObserver {
  /** Attempts that reached the slot since the observer was attached (hit by a fault or not). */
  readonly attempts: number;
  /** Stops counting (idempotent); the slot is removed when nothing else needs it, restoring the fast path. */
  dispose(): void;
}

/**
 * Time-bounded, seeded fault injections per dependency, applied at the user's function slot (each attempt
 * of a dependency call, inside its timeout and retries). A wall with `faults` on has one as `wall.faults`;
 * {@link createFaultInjector} makes a standalone one for {@link FaultInjector.wrap}. A dependency with
 * nothing active pays nothing: the slot is installed only while an injection or observer is attached.
 *
 * @example
 * ```ts
 * import { createFaultInjector, fault } from 'blastwall/testing';
 *
 * const injector = createFaultInjector();
 * // callPayments: your client; the wrapped function checks the active faults at every call
 * const charge = injector.wrap('payments', (ctx) => callPayments({ signal: ctx.signal }));
 * const handle = injector.inject('payments', fault.status(503, { retryAfter: '2s' }), { rate: 0.5, for: '30s' });
 * // half of the attempts now get a 503 answer, for 30 s or until:
 * handle.stop();
 * ```
 */
export class FaultInjector {
  readonly clock: Clock;
  readonly maxDurationMs: number;
  private readonly seed: number | string;
  private readonly knows: ((dependency: string) => boolean) | undefined;
  private readonly slots = new Map<string, SlotState>();
  private readonly byId = new Map<number, Injection>();
  private readonly emitter = new Emitter<FaultEvent>();
  private readonly slotChanges = new Emitter<{ dependency: string; wrapper: SlotWrapper | undefined }>();
  private seq = 0;
  private closed = false;
  /** Start and end of every injection. */
  readonly onFault = this.emitter.subscribe;
  /** @internal The wall installs or removes a dependency's slot wrapper on these. */
  readonly onSlotChange = this.slotChanges.subscribe;

  constructor(options: FaultInjectorOptions = {}) {
    const o = objectOption('faults', options, ['clock', 'maxDuration', 'seed', 'knows']);
    this.clock = (o.clock as Clock | undefined) ?? realClock;
    this.maxDurationMs = o.maxDuration === undefined ? 3_600_000 : durationOption('faults.maxDuration', o.maxDuration, 1);
    if (o.seed !== undefined && typeof o.seed !== 'number' && typeof o.seed !== 'string') throw configError('faults.seed', 'a number or a string', o.seed);
    this.seed = (o.seed as number | string | undefined) ?? 1;
    this.knows = o.knows as ((d: string) => boolean) | undefined;
  }

  /**
   * Starts an injection on `dependency`. Everything is validated first (`CONFIG_INVALID` naming the
   * field); the injection ends by itself after `for` (default 5 min).
   */
  inject(dependency: string, fault: Fault, options: InjectOptions = {}): FaultHandle {
    if (this.closed) throw new BlastwallError('CLOSED', 'The fault injector is closed');
    stringOption('dependency', dependency);
    if (this.knows !== undefined && !this.knows(dependency)) {
      throw configError('dependency', 'the name of a declared dependency', dependency);
    }
    const compiled = compileFault(fault);
    const o = objectOption('options', options, ['rate', 'for', 'seed', 'operations']);
    const rate = o.rate === undefined ? 1 : ratioOption('options.rate', o.rate);
    const forMs = o.for === undefined ? Math.min(DEFAULT_FAULT_DURATION_MS, this.maxDurationMs) : durationOption('options.for', o.for, 1, this.maxDurationMs);
    if (o.seed !== undefined && !(typeof o.seed === 'string' || (typeof o.seed === 'number' && Number.isFinite(o.seed)))) {
      throw configError('options.seed', 'a finite number or a string', o.seed);
    }
    let operations: Set<string> | undefined;
    if (o.operations !== undefined) {
      if (!Array.isArray(o.operations) || o.operations.length === 0) throw configError('options.operations', 'a non-empty array of operation names', o.operations);
      operations = new Set(o.operations.map((n: unknown, i) => stringOption(`options.operations[${i}]`, n)));
    }
    const id = ++this.seq;
    const seed = (o.seed as number | string | undefined) ?? `${String(this.seed)}:${id}`;
    const now = this.clock.now();
    const inj = new Injection(this, id, dependency, compiled, rate, seed, seededRandom(seed), operations, this.clock, now, now + forMs);
    this.byId.set(id, inj);
    const slot = this.slot(dependency);
    slot.injections.push(inj);
    this.refresh(dependency, slot);
    this.emit(inj, 'started');
    return inj;
  }

  /** Ends every active injection. Returns how many ended. */
  clear(reason: EndReason = 'cleared'): number {
    let n = 0;
    for (const inj of [...this.byId.values()]) if (this.end(inj, reason)) n++;
    return n;
  }

  /** Ends the injection with this id (the admin route's DELETE). */
  stop(id: number): boolean {
    const inj = this.byId.get(id);
    return inj === undefined ? false : this.end(inj, 'stopped');
  }

  /** Active injections, oldest first. */
  active(): ActiveFault[] {
    return [...this.byId.values()].map((i) => i.describe());
  }

  /**
   * Counts attempts reaching `dependency`'s slot until disposed (it installs the slot while attached, so
   * it costs a closure per call only during a drill).
   */
  observe(dependency: string): SlotObserver {
    const slot = this.slot(dependency);
    const base = slot.attempts;
    slot.observers++;
    this.refresh(dependency, slot);
    let disposed = false;
    return {
      get attempts() {
        return slot.attempts - base;
      },
      dispose: () => {
        if (disposed) return;
        disposed = true;
        slot.observers--;
        this.refresh(dependency, slot);
      },
    };
  }

  /** The slot wrapper of `dependency` while anything is active on it, else undefined (the fast path). */
  wrapperOf(dependency: string): SlotWrapper | undefined {
    return this.slots.get(dependency)?.wrapper;
  }

  /** A standalone wrapper: every call checks the dependency's active faults (for use without a wall). */
  wrap<T>(dependency: string, fn: AttemptFn<T>): AttemptFn<T> {
    return (ctx) => {
      const w = this.wrapperOf(dependency);
      return (w === undefined ? fn(ctx) : w(fn as AttemptFn<unknown>)(ctx)) as T | PromiseLike<T>;
    };
  }

  /** Ends everything and refuses new injections. */
  close(): void {
    this.clear('closed');
    this.closed = true;
  }

  /** @internal */
  end(inj: Injection, reason: EndReason): boolean {
    if (!inj.active) return false;
    this.byId.delete(inj.id);
    const slot = this.slots.get(inj.dependency);
    if (slot !== undefined) {
      slot.injections = slot.injections.filter((i) => i !== inj);
      this.refresh(inj.dependency, slot);
    }
    inj.finish(reason);
    this.emit(inj, 'ended', reason);
    return true;
  }

  private slot(dependency: string): SlotState {
    let s = this.slots.get(dependency);
    if (s === undefined) {
      s = { injections: [], observers: 0, attempts: 0, wrapper: undefined };
      this.slots.set(dependency, s);
    }
    return s;
  }

  private refresh(dependency: string, slot: SlotState): void {
    const want = slot.injections.length > 0 || slot.observers > 0;
    if (want === (slot.wrapper !== undefined)) return;
    slot.wrapper = want ? makeWrapper(slot) : undefined;
    if (!want) this.slots.delete(dependency);
    this.slotChanges.emit({ dependency, wrapper: slot.wrapper });
  }

  private emit(inj: Injection, state: 'started' | 'ended', reason?: EndReason): void {
    if (!this.emitter.active) return;
    this.emitter.emit({
      type: 'fault',
      state,
      at: this.clock.now(),
      id: inj.id,
      dependency: inj.dependency,
      fault: inj.compiled.kind,
      description: inj.compiled.description,
      rate: inj.rate,
      startedAt: inj.startedAt,
      endsAt: inj.endsAt,
      operations: inj.operations === undefined ? undefined : [...inj.operations],
      ...(reason === undefined ? {} : { reason }),
      attempts: inj.attempts,
      hits: inj.hits,
    });
  }
}

/** `createFaultInjector({ clock })`: an injector on its own (the wall makes one when `faults` is on). */
export function createFaultInjector(options?: FaultInjectorOptions): FaultInjector {
  return new FaultInjector(options);
}

/** For messages: `error: HTTP 503 on payments (100% of attempts, for 10s)`. */
export function describeInjection(a: Pick<ActiveFault, 'description' | 'dependency' | 'rate' | 'startedAt' | 'endsAt'>): string {
  return `${a.description} on ${a.dependency} (${Math.round(a.rate * 1000) / 10}% of attempts, for ${formatDuration(a.endsAt - a.startedAt)})`;
}
