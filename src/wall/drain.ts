/**
 * The end of a wall's life. A clean drain (`wall.drain`): stop admitting, let the operations in flight
 * finish within the deadline, let deferred work finish in what remains of it, flush the timeline, close the
 * store, and report what did not finish. Deferred work held in memory is a closure, not data: it cannot be
 * handed to a durable queue; what does not finish in time is counted as dropped (work put on the durable
 * queue is already stored). The closing itself (`wall.close`, the drain's last step) is {@link closeParts}.
 */
import type { Clock, TimerHandle } from '../core/clock.js';
import { BlastwallError } from '../core/errors.js';
import type { DeadlineScheduler } from '../core/scheduler.js';
import type { IntegrityStore } from '../stores/types.js';
import type { Dependency } from './dependency.js';
import type { WallEvent } from './events.js';
import type { Operation } from './operation.js';

export interface DrainReport {
  /** Operations running when the drain started. */
  inFlightAtStart: number;
  /** Operations still running at the deadline (their callers get an answer when the wall closes: CLOSED). */
  unfinished: number;
  /** In-memory deferred work not done by the deadline. */
  droppedDeferred: number;
  durationMs: number;
  deadlineMs: number;
}

export interface DrainHost {
  clock: Clock;
  /** The operations (called anew at each look: an iterator is used up by one). */
  ops: () => Iterable<Operation>;
  gate: { draining: boolean };
  emit(e: WallEvent): void;
  close(graceMs: number): Promise<{ droppedDeferred: number }>;
}

function inFlight(ops: () => Iterable<Operation>): number {
  let n = 0;
  for (const o of ops()) n += o.inFlight;
  return n;
}

/** Waits (on the wall's clock, polling every 10 ms) until nothing is in flight or `until` passes. */
function settled(h: DrainHost, until: number): Promise<void> {
  return new Promise((resolve) => {
    let timer: TimerHandle | undefined;
    const check = (): void => {
      if (inFlight(h.ops) === 0 || h.clock.now() >= until) resolve();
      else timer = h.clock.setTimer(check, Math.max(1, Math.min(10, until - h.clock.now())));
    };
    check();
    void timer;
  });
}

export async function drainWall(h: DrainHost, deadlineMs: number): Promise<DrainReport> {
  const startedAt = h.clock.now();
  h.gate.draining = true;
  const atStart = inFlight(h.ops);
  h.emit({ type: 'drain', at: startedAt, state: 'started', detail: `${atStart} operation(s) in flight, deadline ${deadlineMs}ms` });
  await settled(h, startedAt + deadlineMs);
  const unfinished = inFlight(h.ops);
  const report = { inFlightAtStart: atStart, unfinished, droppedDeferred: 0, durationMs: 0, deadlineMs };
  const left = Math.max(0, startedAt + deadlineMs - h.clock.now());
  // recorded before close() flushes the timeline; the dropped count follows in the report
  h.emit({ type: 'drain', at: h.clock.now(), state: 'finished', detail: `${atStart - unfinished} of ${atStart} in-flight operation(s) finished${unfinished > 0 ? `, ${unfinished} did not` : ''}; closing with ${left}ms left for deferred work` });
  const closed = await h.close(left);
  report.droppedDeferred = closed.droppedDeferred;
  report.durationMs = h.clock.now() - startedAt;
  return report;
}

/** The parts of a closing wall that {@link closeParts} ends, once the wall has stopped its own timers. */
export interface ClosingParts {
  clock: Clock;
  deps: Iterable<Dependency>;
  scheduler: DeadlineScheduler;
  /** Listeners let go and the timeline flushed. */
  events: { close(): void };
  /** The store given to `createWall`, closed last. */
  store: IntegrityStore | undefined;
}

/**
 * The end of `wall.close()`: deferred work gets up to `graceMs` to finish and what is still queued is
 * dropped; calls still in flight end with `CLOSED`; listeners are let go; the timeline is flushed and the
 * wall's store closed. Resolves with how many deferred items were dropped.
 */
export async function closeParts(p: ClosingParts, graceMs: number): Promise<number> {
  let dropped = 0;
  const deferrable = [...p.deps].filter((d) => d.criticality === 'deferrable');
  if (deferrable.length > 0 && graceMs > 0) {
    // let in-flight deferred work finish within the grace period, then drop what is left
    let graceTimer: TimerHandle | undefined;
    const grace = new Promise<void>((resolve) => {
      graceTimer = p.clock.setTimer(resolve, graceMs);
    });
    await Promise.race([Promise.all(deferrable.map((d) => d.drainDeferred())), grace]);
    if (graceTimer !== undefined) p.clock.clearTimer(graceTimer);
  }
  for (const d of deferrable) dropped += d.dropDeferred();
  // calls still in flight end now with CLOSED (retries stop on it) instead of waiting on a closed wall
  p.scheduler.close(new BlastwallError('CLOSED', 'The wall closed while this call was in flight'));
  p.events.close();
  await p.store?.close();
  return dropped;
}
