import { drainWall, type DrainReport } from './drain.js';
import { LiveConfig, type ConfigVersion, type ConfigureOptions } from './live-config.js';
import type { ConfigPatch } from '../config/patch.js';
import { captureSource } from './source.js';
import type { Clock, TimerHandle } from '../core/clock.js';
import { realClock } from '../core/clock.js';
import { timerDurationOption, type Duration } from '../core/duration.js';
import { BlastwallError } from '../core/errors.js';
import { Emitter } from '../core/events.js';
import { DeadlineScheduler } from '../core/scheduler.js';
import { clockOption, configError, isPlainObject, objectOption, stringOption } from '../core/validate.js';
import type { TimelineEntryInput } from '../timeline/index.js';
import type { IntegrityStore } from '../stores/types.js';
import { watchStore } from './store-watch.js';
import { storeOption } from '../stores/options.js';
import { type Feature, FeatureRegistry, type FeatureSpec } from '../degrade/features.js';
import { type Mode, ModeController, type ModeRule, type ModeSnapshot } from '../degrade/modes.js';
import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import type { DriftMonitorOptions } from '../drift/monitor.js';
import { Dependency, type DependencyHost } from './dependency.js';
import type { DependencySpec } from './dependency-spec.js';
import type { DependencyHealth, ServiceStatus, WallEvent, WallHealth } from './events.js';
import { Operation, type OperationSpec } from './operation.js';
import { SignalsFeed } from './signals.js';
import { WallTelemetry, sinksOption } from './telemetry.js';
import { toTimelineEntry } from './timeline-entry.js';
import { CapabilityWatch, type Impact, impactOf } from './capabilities.js';
import { type WallFaults, createWallFaults } from '../chaos/wall-faults.js';
import type { FaultInjector } from '../chaos/injector.js';
import { serviceStatus } from './status.js';
import { type Topology, topologyOf } from './topology.js';

import { OPTION_KEYS, type WallOptions } from './wall-options.js';

// the wall's parts, re-exported here so `wall/wall.js` keeps offering what it always did
export type { DependencyHealth, ServiceStatus, WallEvent, WallHealth } from './events.js';
export type { Topology } from './topology.js';
export { Operation, type OperationImpact, type OperationSpec, type RunOptions } from './operation.js';
export type { WallOptions } from './wall-options.js';


/**
 * One per service process: the registry of dependencies and operations, and the health loop that
 * evaluates them every `healthInterval` (health and status events, modes, the signals feed).
 */
export class Wall {
  readonly service: string;
  readonly clock: Clock;
  private readonly deps = new Map<string, Dependency>();
  private readonly ops = new Map<string, Operation>();
  private readonly events = new Emitter<WallEvent>();
  private readonly host: DependencyHost;
  private readonly scheduler: DeadlineScheduler;
  private readonly telemetry: WallTelemetry;
  private readonly timeline: WallOptions['timeline'];
  private readonly healthEveryMs: number;
  private readonly closeGraceMs: number;
  private healthTimer: TimerHandle | undefined;
  private closed = false;
  private lastStatus: ServiceStatus = 'ok';
  private readonly modes: ModeController;
  /** When the wall was created (its clock): the observed window of the topology never reaches before it. */
  private readonly startedAt: number;
  private readonly featureRegistry: FeatureRegistry;
  private readonly signals: SignalsFeed;
  private extraSignals: (() => Record<string, unknown>) | undefined;
  private loopDelay: IntervalHistogram | undefined;
  /** Subscribe to every event (health transitions, breaker changes, dead letters, ...). */
  readonly onEvent = this.events.subscribe;

  constructor(options: WallOptions) {
    const o = objectOption('createWall options', options, OPTION_KEYS);
    if (!isPlainObject(options)) throw configError('createWall options', 'an object', options);
    this.service = stringOption('service', o.service);
    this.clock = clockOption('clock', o.clock) ?? realClock;
    this.scheduler = new DeadlineScheduler(this.clock);
    // both arm timers: bounded at 2^31−1 ms (a longer setTimeout fires after 1 ms: a '30d' interval would spin)
    this.healthEveryMs = o.healthInterval === undefined ? 1000 : timerDurationOption('healthInterval', o.healthInterval, 10);
    this.closeGraceMs = o.closeGrace === undefined ? 5000 : timerDurationOption('closeGrace', o.closeGrace, 0);
    if (o.timeline !== undefined && (o.timeline === null || typeof (o.timeline as { record?: unknown }).record !== 'function')) {
      throw configError('timeline', 'an object with a record(entry) method (see createTimeline)', o.timeline);
    }
    this.timeline = o.timeline as WallOptions['timeline'];
    this.startedAt = this.clock.now();
    this.modes = new ModeController(this.clock, o.modeDwell === undefined ? {} : { minDwell: o.modeDwell as Duration });
    this.featureRegistry = new FeatureRegistry(this.clock);
    this.signals = new SignalsFeed(
      this.clock,
      o.drift as DriftMonitorOptions | false | undefined,
      this.healthEveryMs,
      (e) => this.emit(e),
      this.timeline === undefined ? undefined : (entry) => this.record(entry),
    );
    this.modes.changes.subscribe((c) => {
      this.featureRegistry.onMode(c.to);
      this.emit({ type: 'mode', ...c });
    });
    this.telemetry = new WallTelemetry(this.service, o.telemetry, sinksOption(o.sinks), () => this.deps.values());
    this.host = {
      clock: this.clock,
      scheduler: this.scheduler,
      telemetry: undefined,
      onBreakerChange: (dep, from, to, reason) => {
        this.emit({ type: 'breaker', at: this.clock.now(), dependency: dep.name, from, to, reason });
        this.evaluateOne(dep);
      },
      onDeferredDead: (dep, id, error) => {
        // listeners get each item; the timeline gets one summary per dependency and health interval
        if (this.events.active) this.events.emit({ type: 'deferred-dead', at: this.clock.now(), dependency: dep.name, id, code: error.code, message: error.message });
        this.signals.deadLettered(dep.name, error.code);
      },
      onQuarantine: (dep) => {
        if (this.events.active) this.emit({ type: 'quarantine', at: this.clock.now(), dependency: dep.name });
      },
      isClosed: () => this.closed,
    };
    this.telemetry.attach(this.host);
    const f = createWallFaults(o.faults, {
      clock: this.clock,
      knows: (name) => this.deps.has(name),
      setSlot: (name, wrapper) => {
        const d = this.deps.get(name);
        if (d !== undefined) d.faultSlot = wrapper;
      },
      onEvent: (e) => this.emit(e),
    });
    this.faults = f.faults;
    this.injector = f.injector;
    this.config = new LiveConfig({ clock: this.clock, spec: this.host, deps: this.deps, ops: this.ops, features: this.featureRegistry, emit: (e) => this.emit(e) });
    if (o.config !== undefined) {
      // applied once the declaring code that follows createWall has run (the file names what it declares)
      this.config.useFile(stringOption('config', o.config));
      queueMicrotask(() => void this.config.reloadFile());
    }
    if (o.store !== undefined) {
      const st = storeOption(o.store);
      this.ownedStore = st;
      this.store = watchStore(this, st);
    }
  }

  /** Live configuration: `current()`, `history()`, `rollback(version, { reason, by })` (see `configure`). */
  readonly config: LiveConfig;

  /**
   * Changes boundaries at run time (docs/config.md): `{ dependencies: { payments: { timeout: '400ms' } } }`.
   * Checked whole first (`CONFIG_INVALID` naming the field; then nothing changed), applied in one step,
   * versioned, diffed and recorded; with `guard` it is watched and rolled back when its signals worsen.
   */
  configure(patch: ConfigPatch, options: ConfigureOptions): ConfigVersion {
    this.assertOpen();
    const v = this.config.configure(patch, options);
    if (options.guard !== undefined) this.armHealthTimer();
    return v;
  }

  /** Records a deploy and watches the whole service for `watch` (default 5m): the timeline says what changed after it. */
  markDeploy(version: string, options: { by: string; watch?: Duration }): void {
    this.assertOpen();
    this.config.markDeploy(version, options);
    this.armHealthTimer();
  }

  /** Fault injection: `inject(dependency, fault, options)`, `stop(id)`, `clear()`, `active()`; throws on `inject` when off. */
  readonly faults: WallFaults;
  private readonly injector: FaultInjector | undefined;

  /** The durable store given as `store`, watched as the dependency `store:<kind>` (undefined without one). */
  readonly store: IntegrityStore | undefined;
  private readonly ownedStore: IntegrityStore | undefined;

  /** Declares a dependency. Its configuration is validated now; a bad field throws `CONFIG_INVALID`. */
  dependency(name: string, spec: DependencySpec): Dependency {
    this.assertOpen();
    stringOption('dependency name', name, /^[A-Za-z0-9_.:-]{1,100}$/);
    if (this.deps.has(name)) {
      throw new BlastwallError('CONFIG_INVALID', `Dependency '${name}' is already declared; declare each dependency once and share the handle`);
    }
    const dep = new Dependency(name, spec, this.host);
    dep.source = captureSource();
    this.deps.set(name, dep);
    this.signals.watchBurn(`dependency:${name}`, dep.objective.availability);
    this.telemetry.register(dep);
    this.armHealthTimer();
    return dep;
  }

  /** Declares an operation (a route, a job) with its priority class and deadline. */
  operation(name: string, spec: OperationSpec = {}): Operation {
    this.assertOpen();
    stringOption('operation name', name);
    if (this.ops.has(name)) throw new BlastwallError('CONFIG_INVALID', `Operation '${name}' is already declared`);
    const op = new Operation(name, spec, this.clock, this.gate);
    op.source = captureSource();
    this.ops.set(name, op);
    if (op.availability !== undefined) this.signals.watchBurn(`operation:${name}`, op.availability);
    this.armHealthTimer();
    return op;
  }

  /** The declared dependency named `name`. */
  get(name: string): Dependency {
    const d = this.deps.get(name);
    if (d === undefined) throw new BlastwallError('CONFIG_INVALID', `No dependency named '${name}' is declared`);
    return d;
  }

  /** Every declared dependency, in declaration order (a new array each call). */
  dependencies(): Dependency[] {
    return [...this.deps.values()];
  }

  /** Every declared operation, in declaration order (a new array each call). */
  operations(): Operation[] {
    return [...this.ops.values()];
  }

  // ---- modes and features ----

  /** The service's mode: `normal`, `degraded`, `read-only` or `shedding`. */
  get mode(): Mode {
    return this.modes.mode;
  }

  /** Sets the mode by hand (overrides rules); with `until` (a duration or a Date) it reverts by itself. */
  setMode(mode: Mode, options: { reason: string; until?: Duration | Date }): void {
    this.modes.set(mode, options);
  }

  /** Hands the mode back to the rules. */
  clearMode(reason?: string): void {
    this.modes.clear(reason);
  }

  /** Where the mode stands and why. */
  modeState(): ReturnType<ModeController['describe']> {
    return this.modes.describe();
  }

  /**
   * Rules that set the mode from health and load, evaluated with every health evaluation. `signals`
   * adds your own values to the snapshot the rules see; event-loop delay (p99, ms) is measured for them.
   */
  rules(rules: ModeRule[], options: { signals?: () => Record<string, unknown> } = {}): void {
    this.assertOpen();
    this.modes.setRules(rules);
    this.extraSignals = options.signals;
    if (this.loopDelay === undefined && rules.length > 0) {
      this.loopDelay = monitorEventLoopDelay({ resolution: 10 });
      this.loopDelay.enable();
    }
    this.armHealthTimer();
  }

  /** Declares a feature switch; its `enabled` field follows the mode (and hand overrides). */
  feature(name: string, spec: FeatureSpec): Feature {
    this.assertOpen();
    return this.featureRegistry.declare(name, spec);
  }

  /** Whether a feature is on now (costs a map lookup; keep the Feature handle for a field read). */
  enabled(name: string): boolean {
    return this.featureRegistry.get(name).enabled;
  }

  /** Switches a feature on or off by hand, or back to `auto`; recorded on the timeline. */
  setFeature(name: string, state: 'on' | 'off' | 'auto', reason: string): void {
    this.featureRegistry.set(name, state, reason);
    this.emit({ type: 'feature', at: this.clock.now(), feature: name, state, reason });
  }

  /** Every feature with its owner, expiry (and whether it is past it) and current state. */
  features(): ReturnType<FeatureRegistry['list']> {
    return this.featureRegistry.list();
  }

  /** Throws `READ_ONLY` while the service is read-only; call it before any write. */
  guardWrite(): void {
    if (this.modes.mode !== 'read-only') return;
    const d = this.modes.describe();
    const retryAfterMs = d.until !== null ? Math.max(1000, d.until - this.clock.now()) : Math.max(1000, this.modes.minDwellMs);
    throw new BlastwallError('READ_ONLY', `The service is read-only: ${d.reason}`, { retryAfterMs });
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

  /** Health of every dependency, and the service status that follows from their criticality. */
  health(): WallHealth {
    const dependencies: Record<string, DependencyHealth> = {};
    for (const d of this.deps.values()) {
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
    return { service: this.service, status: this.updateStatus().status, mode: this.modes.mode, at: this.clock.now(), dependencies };
  }

  private updateStatus(): { status: ServiceStatus; reason: string } {
    const next = serviceStatus(this.deps.values());
    if (next.status !== this.lastStatus) {
      const from = this.lastStatus;
      this.lastStatus = next.status;
      this.emit({ type: 'status', at: this.clock.now(), from, to: next.status, reason: next.reason });
    }
    return next;
  }

  /** JSON topology: dependencies with criticality and boundaries, operations with priority, deadline and observed edges. */
  topology(): Topology {
    return topologyOf(this.service, this.deps.values(), this.ops.values(), {
      at: this.clock.now(),
      startedAt: this.startedAt,
      features: this.featureRegistry.list(),
      modeRules: this.modes.firesOn((dependency, state) => this.modeSnapshotWith(dependency, state)),
    });
  }

  /** The mode-rule snapshot of a healthy service in which only `dependency` is in `state` (for the audit). */
  private modeSnapshotWith(dependency: string, state: string): ModeSnapshot {
    const deps: ModeSnapshot['dependencies'] = {};
    for (const d of this.deps.values()) deps[d.name] = { state: d.name === dependency ? state : 'healthy', criticality: d.criticality };
    const dep = this.deps.get(dependency);
    const status = dep === undefined || state === 'healthy' ? 'ok' : dep.criticality === 'core' ? (state === 'unavailable' ? 'unavailable' : 'degraded') : 'degraded';
    return { status, dependencies: deps };
  }

  /** Each business capability's status (available / limited / down) from its operations and what they call (src/wall/capabilities.ts). */
  impact(): Impact {
    return impactOf(this.deps.values(), this.ops.values(), this.clock.now());
  }

  /** The incident declared last, with its one named lead (undefined before any). */
  incident: { lead: string; title: string; at: number } | undefined;

  /** Declares an incident led by `lead`: a timeline entry (kind `incident`) and an event, shown on the dashboard. */
  declareIncident(incident: { lead: string; title: string }): void {
    const o = objectOption('incident', incident, ['lead', 'title']);
    const declared = { lead: stringOption('incident.lead', o.lead), title: stringOption('incident.title', o.title), at: this.clock.now() };
    this.incident = declared;
    this.emit({ type: 'incident', ...declared });
  }

  private readonly ownerOf = (s: { dependency?: string; operation?: string }): { owner?: string | undefined; runbook?: string | undefined } | undefined =>
    s.dependency !== undefined ? this.deps.get(s.dependency) : s.operation !== undefined ? this.ops.get(s.operation) : undefined;

  /** Prometheus text exposition (requires `telemetry: { prometheus: true }`). */
  metrics(): Promise<string> {
    return this.telemetry.metrics();
  }

  /** The `Content-Type` header to send with the text of {@link Wall.metrics} (the Prometheus text format's, e.g. `text/plain; version=0.0.4; charset=utf-8`). */
  get metricsContentType(): string {
    return this.telemetry.contentType;
  }

  /**
   * Drains the service (docs/config.md): new operations are refused (`CLOSED`, retryable after 5 s; the HTTP
   * adapters answer 503 with Retry-After and /healthz 503), operations in flight finish within `deadline`
   * (default 30s), deferred work within what is left, then the wall closes. Resolves to what did not finish.
   */
  drain(options: { deadline?: Duration } = {}): Promise<DrainReport> {
    const deadlineMs = options.deadline === undefined ? 30_000 : timerDurationOption('drain.deadline', options.deadline, 0);
    if (this.closed) return Promise.resolve({ inFlightAtStart: 0, unfinished: 0, droppedDeferred: 0, durationMs: 0, deadlineMs });
    return drainWall({ clock: this.clock, ops: () => this.ops.values(), gate: this.gate, emit: (e) => this.emit(e), close: (graceMs) => this.close({ graceMs }) }, deadlineMs);
  }

  /** True once `drain()` started: admission refuses new work. */
  get isDraining(): boolean {
    return this.gate.draining;
  }

  private readonly gate = { draining: false };

  /**
   * Stops accepting calls, waits up to `closeGrace` (or `graceMs`, in ms) for deferred work, and releases
   * every timer. Deferred work still queued after that is dropped; calls still in flight reject with
   * `CLOSED`. Then the timeline is flushed and a `store` given to `createWall` is closed. Resolves with how
   * many deferred items were dropped; closing again resolves with 0. Afterwards declarations throw and
   * calls reject with `CLOSED`. Prefer {@link Wall.drain} on shutdown: it lets operations in flight finish first.
   */
  async close(options: { graceMs?: number } = {}): Promise<{ droppedDeferred: number }> {
    if (this.closed) return { droppedDeferred: 0 };
    const graceMs = options.graceMs ?? this.closeGraceMs;
    this.closed = true;
    this.injector?.close();
    this.config.close();
    if (this.healthTimer !== undefined) {
      this.clock.clearTimer(this.healthTimer);
      this.healthTimer = undefined;
    }
    this.loopDelay?.disable();
    this.loopDelay = undefined;
    let dropped = 0;
    const deferrable = [...this.deps.values()].filter((d) => d.criticality === 'deferrable');
    if (deferrable.length > 0 && graceMs > 0) {
      // let in-flight deferred work finish within the grace period, then drop what is left
      let graceTimer: TimerHandle | undefined;
      const grace = new Promise<void>((resolve) => {
        graceTimer = this.clock.setTimer(resolve, graceMs);
      });
      await Promise.race([Promise.all(deferrable.map((d) => d.drainDeferred())), grace]);
      if (graceTimer !== undefined) this.clock.clearTimer(graceTimer);
    }
    for (const d of deferrable) dropped += d.dropDeferred();
    // calls still in flight end now with CLOSED (retries stop on it) instead of waiting on a closed wall
    this.scheduler.close(new BlastwallError('CLOSED', 'The wall closed while this call was in flight'));
    this.events.clear();
    try {
      this.timeline?.flush?.(); // what the wall recorded is written before close() returns; the timeline stays the caller's to close
    } catch (err) {
      process.emitWarning(`blastwall: the timeline could not be flushed at close: ${String(err)}`);
    }
    await this.ownedStore?.close();
    return { droppedDeferred: dropped };
  }

  /** True once `close()` (or a finished `drain()`) began: declarations and new calls are refused with `CLOSED`. */
  get isClosed(): boolean {
    return this.closed;
  }

  private assertOpen(): void {
    if (this.closed) throw new BlastwallError('CLOSED', 'The wall is closed');
  }

  private emit(e: WallEvent): void {
    if (this.events.active) this.events.emit(e);
    if (this.timeline !== undefined && e.type !== 'deferred-dead') this.record({ at: e.at, ...toTimelineEntry(e, this.ownerOf) });
  }

  /** Writes a timeline entry; a timeline that throws is reported, never passed on to the caller. */
  private record(entry: TimelineEntryInput): void {
    try {
      this.timeline?.record(entry);
    } catch (err) {
      process.emitWarning(`blastwall: the timeline refused an entry: ${String(err)}`);
    }
  }

  private evaluateOne(d: Dependency): void {
    const prev = d.evaluate();
    if (prev !== undefined) {
      this.emit({
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

  private armHealthTimer(): void {
    if (this.healthTimer !== undefined || this.closed) return;
    this.healthTimer = this.clock.setTimer(this.onHealthTimer, this.healthEveryMs);
    this.clock.refTimer?.(this.healthTimer, false);
  }

  private readonly onHealthTimer = (): void => {
    this.healthTimer = undefined;
    if (this.closed) return;
    this.signals.reportImpact(this.ops.values());
    this.config.tick(this.clock.now());
    this.signals.observe(this.deps.values(), this.ops.values());
    if (this.modes.hasRules || this.modes.describe().manual) this.modes.evaluate(this.modeSnapshot(this.health()));
    else {
      for (const d of this.deps.values()) this.evaluateOne(d);
      this.updateStatus();
    }
    for (const c of this.capabilityWatch.observe(this.deps.values(), this.ops.values(), this.clock.now())) this.emit(c);
    this.armHealthTimer();
  };

  private readonly capabilityWatch = new CapabilityWatch();
}

/**
 * Creates the wall of this service process: declare each dependency and operation on it once, at startup,
 * and call through the handles.
 *
 * @throws `CONFIG_INVALID` when an option is invalid.
 * @example
 * ```ts
 * import { createWall } from 'blastwall';
 *
 * const wall = createWall({ service: 'checkout' });
 * const payments = wall.dependency('payments', { criticality: 'core', timeout: '800ms', retry: { attempts: 2 } });
 * const checkout = wall.operation('checkout', { priority: 'critical', deadline: '2s' });
 *
 * const receipt = await checkout.run(() => payments.call(({ signal }) => chargeCard(order, signal)));
 * process.on('SIGTERM', () => void wall.drain());
 * ```
 */
export function createWall(options: WallOptions): Wall {
  return new Wall(options);
}
