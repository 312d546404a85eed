/**
 * A clean drain (`wall.drain`): stop admitting, let the operations in flight finish within the deadline,
 * let deferred work finish in what remains of it, flush the timeline, close the store, and report what did
 * not finish. Deferred work held in memory is a closure, not data: it cannot be handed to a durable queue;
 * what does not finish in time is counted as dropped (work put on the durable queue is already stored).
 */
import type { Clock, TimerHandle } from '../core/clock.js';
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
