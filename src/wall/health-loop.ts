/**
 * The wall's health view and its loop: `wall.health()` (each dependency's state and signals, and the
 * service status that follows from their criticality), the snapshots the mode rules read, and the timer
 * that re-evaluates all of it every health interval (signals feed, live configuration, modes, capabilities).
 */
import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import type { Clock, TimerHandle } from '../core/clock.js';
import type { ModeController, ModeSnapshot } from '../degrade/modes.js';
import { CapabilityWatch } from './capabilities.js';
import type { Dependency } from './dependency.js';
import type { DependencyHealth, ServiceStatus, WallEvent, WallHealth } from './events.js';
import type { Operation } from './operation.js';
import type { SignalsFeed } from './signals.js';
import { serviceStatus } from './status.js';

/** What the health loop reads and tells of its wall. */
export interface HealthLoopHost {
  readonly service: string;
  readonly clock: Clock;
  readonly deps: ReadonlyMap<string, Dependency>;
  readonly ops: ReadonlyMap<string, Operation>;
  readonly modes: ModeController;
  readonly signals: SignalsFeed;
  /** Live configuration's turn, once per interval (guarded changes, deploy watches). */
  tick(now: number): void;
  emit(e: WallEvent): void;
  isClosed(): boolean;
}

/**
 * Evaluates a wall's health: on demand (`health()`, a breaker change) and every `everyMs` while the timer
 * is armed. The timer is armed by each declaration and rule change, and stops with `stop()`.
 */
export class HealthLoop {
  private timer: TimerHandle | undefined;
  private lastStatus: ServiceStatus = 'ok';
  private extraSignals: (() => Record<string, unknown>) | undefined;
  private loopDelay: IntervalHistogram | undefined;
  private readonly capabilityWatch = new CapabilityWatch();

  constructor(
    private readonly h: HealthLoopHost,
    private readonly everyMs: number,
  ) {}

  /** Health of every dependency, and the service status that follows from their criticality. */
  health(): WallHealth {
    const dependencies: Record<string, DependencyHealth> = {};
    for (const d of this.h.deps.values()) {
      this.evaluateOne(d);
      const signals: DependencyHealth['signals'] = d.totals();
      if (d.criticality === 'deferrable') {
        const b = d.backlog();
        signals.backlog = b.size;
        signals.oldestDeferredAgeMs = b.oldestAgeMs;
      }
      dependencies[d.name] = {
        state: d.classifier.state,
        since: d.classifier.since,
        reason: d.classifier.reason,
        criticality: d.criticality,
        breaker: d.breaker?.state,
        signals,
      };
    }
    return { service: this.h.service, status: this.updateStatus().status, mode: this.h.modes.mode, at: this.h.clock.now(), dependencies };
  }

  /** Re-evaluates one dependency's health state; a change is emitted as a `health` event. */
  evaluateOne(d: Dependency): void {
    const prev = d.evaluate();
    if (prev !== undefined) {
      this.h.emit({
        type: 'health',
        at: d.classifier.since,
        dependency: d.name,
        criticality: d.criticality,
        from: prev,
        to: d.classifier.state,
        reason: d.classifier.reason,
      });
    }
  }

  private updateStatus(): { status: ServiceStatus; reason: string } {
    const next = serviceStatus(this.h.deps.values());
    if (next.status !== this.lastStatus) {
      const from = this.lastStatus;
      this.lastStatus = next.status;
      this.h.emit({ type: 'status', at: this.h.clock.now(), from, to: next.status, reason: next.reason });
    }
    return next;
  }

  /**
   * What the mode rules see besides health: `signals` (your own values), and, once there are rules, the
   * event-loop delay (p99, ms), measured from then on.
   */
  useSignals(signals: (() => Record<string, unknown>) | undefined, hasRules: boolean): void {
    this.extraSignals = signals;
    if (this.loopDelay === undefined && hasRules) {
      this.loopDelay = monitorEventLoopDelay({ resolution: 10 });
      this.loopDelay.enable();
    }
  }

  private modeSnapshot(health: WallHealth): ModeSnapshot {
    const snap: ModeSnapshot = {
      ...(this.extraSignals?.() ?? {}),
      status: health.status,
      dependencies: Object.fromEntries(Object.entries(health.dependencies).map(([n, d]) => [n, { state: d.state, criticality: d.criticality }])),
    };
    if (this.loopDelay !== undefined && snap.eventLoopDelayMs === undefined && this.loopDelay.count > 0) {
      snap.eventLoopDelayMs = this.loopDelay.percentile(99) / 1e6;
      this.loopDelay.reset();
    }
    return snap;
  }

  /** The mode-rule snapshot of a healthy service in which only `dependency` is in `state` (for the audit). */
  modeSnapshotWith(dependency: string, state: string): ModeSnapshot {
    const deps: ModeSnapshot['dependencies'] = {};
    for (const d of this.h.deps.values()) deps[d.name] = { state: d.name === dependency ? state : 'healthy', criticality: d.criticality };
    const dep = this.h.deps.get(dependency);
    const status = dep === undefined || state === 'healthy' ? 'ok' : dep.criticality === 'core' ? (state === 'unavailable' ? 'unavailable' : 'degraded') : 'degraded';
    return { status, dependencies: deps };
  }

  /** Arms the timer for the next interval (once; not on a closed wall). */
  arm(): void {
    if (this.timer !== undefined || this.h.isClosed()) return;
    this.timer = this.h.clock.setTimer(this.onTimer, this.everyMs);
    this.h.clock.refTimer?.(this.timer, false);
  }

  /** Stops the timer and the event-loop delay measurement (the wall closes). */
  stop(): void {
    if (this.timer !== undefined) {
      this.h.clock.clearTimer(this.timer);
      this.timer = undefined;
    }
    this.loopDelay?.disable();
    this.loopDelay = undefined;
  }

  private readonly onTimer = (): void => {
    this.timer = undefined;
    const h = this.h;
    if (h.isClosed()) return;
    h.signals.reportImpact(h.ops.values());
    h.tick(h.clock.now());
    h.signals.observe(h.deps.values(), h.ops.values());
    if (h.modes.hasRules || h.modes.describe().manual) h.modes.evaluate(this.modeSnapshot(this.health()));
    else {
      for (const d of h.deps.values()) this.evaluateOne(d);
      this.updateStatus();
    }
    for (const c of this.capabilityWatch.observe(h.deps.values(), h.ops.values(), h.clock.now())) h.emit(c);
    this.arm();
  };
}
