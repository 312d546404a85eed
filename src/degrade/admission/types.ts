/** The admission controller's public shapes: tickets, per-request options, the snapshot. */
import type { LoopReading, ShedState } from './shed.js';
import type { Priority } from '../../core/operation-context.js';
/** An admission slot held by one piece of work: release it exactly once when the work is done. */
export interface Ticket {
  /** Call when the work is done; `ok: false` for failures (they do not teach the limiter). */
  release(ok?: boolean): void;
  /** How long the work waited in the admission queue (ms; 0 when it started at once). */
  readonly queuedMs: number;
}

/** Per-request admission options. */
export interface AdmitOptions {
  /** Time the caller still grants (ms). Critical work waits no longer than this less its expected service time. */
  deadlineMs?: number | undefined;
}

/** What the admission controller is doing now (health endpoint, diagnostics). */
export interface AdmissionSnapshot {
  /** Admitted work not yet released. */
  inflight: number;
  /** Work waiting in the admission queue, all classes. */
  queued: number;
  /** The in-flight limit now (fixed, or Gradient2's current value). */
  limit: number;
  /**
   * The event loop is the slot: it was saturated in the last window, so admitted work starts one piece per
   * loop turn, highest class first, and the rest waits in the admission queue (see the class comment).
   */
  paced: boolean;
  /** How many sheddable classes are refused outright. */
  shedLevel: number;
  shedClasses: Priority[];
  /** Share of arrivals admitted at the door, per class. */
  admitted: Record<Priority, number>;
  /** What the last window showed: `over` (saturated and backlogged), `room`, or `hold` (saturated, no backlog). */
  state: ShedState;
  /** Level changes since the controller was created. */
  levelChanges: number;
  /** The last event-loop reading, when the loop is measured. */
  loop?: LoopReading;
}
