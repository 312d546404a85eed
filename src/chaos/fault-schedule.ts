/**
 * A drill's fault schedule: each fault is injected on the target at its (scaled) time for its (scaled)
 * duration, and each action (a fault below the library, such as a stopped process) is started and ended
 * on time. Every one is a window of the observation and entries on the drill's timeline.
 */
import type { Clock } from '../core/clock.js';
import type { Timeline } from '../timeline/index.js';
import type { Drill } from './drill.js';
import type { DrillObservation, FaultWindow } from './observe.js';
import type { TargetHandle } from './target.js';

/** What the schedule runs on: the drill and its target, the drill's clock, observation and timeline. */
export interface ScheduleContext {
  drill: Drill;
  target: TargetHandle;
  clock: Clock;
  obs: DrillObservation;
  timeline: Timeline;
  /** Multiplies each fault's start and duration (`timeScale`). */
  scale: number;
  /** Runs `fn` after `ms` on the drill's clock (timers the runner clears when the load ends). */
  later(ms: number, fn: () => void): void;
}

/** The scheduled faults as they run. */
export interface FaultSchedule {
  /** Each injected fault's window, with its counts (hits, attempts), read when the load ends. */
  windows: { w: FaultWindow; stats: () => { hits: number; attempts: number } }[];
  /** The ends of the actions still running (an action still running ends with the drill). */
  openActions: Set<() => void>;
  /** Injections and action starts and ends under way (settled before the result). */
  pending: Promise<unknown>[];
}

/** Schedules every fault and action of the drill on `later`. */
export function scheduleFaults(c: ScheduleContext): FaultSchedule {
  const { drill, target, clock, obs, timeline, scale, later } = c;
  const windows: { w: FaultWindow; stats: () => { hits: number; attempts: number } }[] = [];
  const pending: Promise<unknown>[] = [];
  for (const f of drill.faults) {
    later(Math.round(f.atMs * scale), () => {
      const p = target.inject(f, Math.max(1, Math.round(f.forMs * scale))).then(
        (h) => {
          const w: FaultWindow = { id: windows.length + 1, dependency: f.dependency, description: f.compiled.description, startedAt: h.startedAt, endedAt: undefined, hits: 0, attempts: 0 };
          windows.push({ w, stats: h.stats });
          obs.faults.push(w);
          return h.ended.then((at) => {
            w.endedAt = at;
          });
        },
        (err: unknown) => {
          timeline.record({ kind: 'drill', severity: 'critical', title: `drill could not inject a fault on ${f.dependency}: ${String(err)}` });
        },
      );
      pending.push(p);
    });
  }

  const openActions = new Set<() => void>();
  for (const a of drill.actions) {
    let w: FaultWindow | undefined;
    later(Math.round(a.atMs * scale), () => {
      w = { id: obs.faults.length + 1, dependency: '(below the library)', description: a.name, startedAt: clock.now(), endedAt: undefined, hits: 0, attempts: 0 };
      obs.faults.push(w);
      pending.push(Promise.resolve().then(() => a.start(target.app)).catch((err: unknown) => {
        timeline.record({ kind: 'drill', severity: 'critical', title: `drill action '${a.name}' failed to start: ${String(err)}` });
      }));
      timeline.record({ kind: 'fault', severity: 'warning', title: `fault started: ${a.name}`, data: { action: a.name } });
    });
    const end = (): void => {
      openActions.delete(end);
      if (w === undefined) return;
      w.endedAt = clock.now();
      pending.push(Promise.resolve().then(() => a.end(target.app)).catch((err: unknown) => {
        timeline.record({ kind: 'drill', severity: 'critical', title: `drill action '${a.name}' failed to end: ${String(err)}` });
      }));
      timeline.record({ kind: 'fault', severity: 'info', title: `fault ended: ${a.name}`, data: { action: a.name } });
    };
    openActions.add(end);
    later(Math.round((a.atMs + a.forMs) * scale), end);
  }
  return { windows, openActions, pending };
}
