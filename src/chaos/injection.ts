/**
 * One injection and the slot it is applied at: an {@link Injection} decides which attempts it hits (in its
 * operations, by its rate, seeded) and counts them; a dependency's slot wrapper counts each attempt and
 * applies every active injection that hits it, the first declared outermost.
 */
import type { Clock, TimerHandle } from '../core/clock.js';
import type { AttemptContext, AttemptFn } from '../core/context.js';
import type { CompiledFault, EffectEnv } from './faults.js';
import type { ActiveFault, EndReason, FaultHandle, SlotWrapper } from './injector.js';

/**
 * One running injection: its fault, rate, seeded randomness and operations, the timer that ends it, and
 * its counts. Its `owner` ends it (expiry and `stop()` go through the injector, which keeps the slots).
 */
export class Injection implements EffectEnv, FaultHandle {
  attempts = 0;
  hits = 0;
  private timer: TimerHandle | undefined;
  private endListeners = new Set<() => void>();
  private done = false;
  private resolveEnded!: (r: EndReason) => void;
  readonly ended = new Promise<EndReason>((r) => (this.resolveEnded = r));

  constructor(
    private readonly owner: { end(inj: Injection, reason: EndReason): boolean },
    readonly id: number,
    readonly dependency: string,
    readonly compiled: CompiledFault,
    readonly rate: number,
    readonly seed: number | string,
    readonly random: () => number,
    readonly operations: ReadonlySet<string> | undefined,
    readonly clock: Clock,
    readonly startedAt: number,
    readonly endsAt: number,
  ) {
    this.timer = clock.setTimer(() => {
      this.timer = undefined;
      owner.end(this, 'expired');
    }, endsAt - startedAt);
    clock.refTimer?.(this.timer, false);
  }

  get active(): boolean {
    return !this.done;
  }

  stop(): boolean {
    return this.owner.end(this, 'stopped');
  }

  onEnd(fn: () => void): () => void {
    if (this.done) {
      fn();
      return () => undefined;
    }
    this.endListeners.add(fn);
    return () => void this.endListeners.delete(fn);
  }

  /** @internal Called by the injector once. */
  finish(reason: EndReason): void {
    this.done = true;
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    this.timer = undefined;
    const ls = [...this.endListeners];
    this.endListeners.clear();
    for (const l of ls) l();
    this.resolveEnded(reason);
  }

  /** Whether this attempt is hit: in one of the operations (when given), then by rate (seeded). */
  hits_(ctx: AttemptContext): boolean {
    if (this.operations !== undefined && (ctx.operation === undefined || !this.operations.has(ctx.operation))) return false;
    this.attempts++;
    if (this.rate < 1 && this.random() >= this.rate) return false;
    this.hits++;
    return true;
  }

  describe(): ActiveFault {
    return {
      id: this.id,
      dependency: this.dependency,
      fault: this.compiled.json,
      description: this.compiled.description,
      rate: this.rate,
      seed: this.seed,
      startedAt: this.startedAt,
      endsAt: this.endsAt,
      operations: this.operations === undefined ? undefined : [...this.operations],
      attempts: this.attempts,
      hits: this.hits,
    };
  }
}

/** A dependency's slot: the injections active on it, first declared first, and its observers and attempt count. */
export interface SlotState {
  injections: Injection[];
  observers: number;
  attempts: number;
  wrapper: SlotWrapper | undefined;
}

/** The slot: counts the attempt, then applies each active injection that hits it, first declared outermost. */
export function makeWrapper(slot: SlotState): SlotWrapper {
  return (fn) => (ctx) => {
    slot.attempts++;
    return run(slot.injections, 0, ctx, fn);
  };
}

function run(list: readonly Injection[], i: number, ctx: AttemptContext, fn: AttemptFn<unknown>): unknown {
  for (; i < list.length; i++) {
    const inj = list[i]!;
    if (!inj.active || !inj.hits_(ctx)) continue;
    const j = i + 1;
    const inner: AttemptFn<unknown> = j < list.length ? (c) => run(list, j, c, fn) : fn;
    return inj.compiled.effect(ctx, inner, inj);
  }
  return fn(ctx);
}
