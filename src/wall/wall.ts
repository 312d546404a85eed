import { closeParts, drainWall, type DrainReport } from './drain.js';
import { LiveConfig, type ConfigVersion, type ConfigureOptions } from './live-config.js';
import type { ConfigPatch } from '../config/patch.js';
import { captureSource } from './source.js';
import type { Clock } from '../core/clock.js';
import { realClock } from '../core/clock.js';
import { timerDurationOption, type Duration } from '../core/duration.js';
import { BlastwallError } from '../core/errors.js';
import type { Subscribe } from '../core/events.js';
import { DeadlineScheduler } from '../core/scheduler.js';
import { clockOption, configError, isPlainObject, objectOption, stringOption } from '../core/validate.js';
import type { IntegrityStore } from '../stores/types.js';
import { watchStore } from './store-watch.js';
import { storeOption } from '../stores/options.js';
import { type Feature, FeatureRegistry, type FeatureSpec } from '../degrade/features.js';
import { type Mode, ModeController, type ModeRule } from '../degrade/modes.js';
import type { DriftMonitorOptions } from '../drift/monitor.js';
import { Dependency, type DependencyHost } from './dependency.js';
import type { DependencySpec } from './dependency-spec.js';
import type { WallEvent, WallHealth } from './events.js';
import { HealthLoop } from './health-loop.js';
import { Operation, type OperationSpec } from './operation.js';
import { SignalsFeed } from './signals.js';
import { WallTelemetry, sinksOption } from './telemetry.js';
import { EventStream } from './event-stream.js';
import { type Impact, impactOf } from './capabilities.js';
import { type WallFaults, createWallFaults } from '../chaos/wall-faults.js';
import type { FaultInjector } from '../chaos/injector.js';
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
  /** Where events go: listeners and the timeline. */
  private readonly events: EventStream;
  private readonly host: DependencyHost;
  private readonly scheduler: DeadlineScheduler;
  private readonly telemetry: WallTelemetry;
  private readonly closeGraceMs: number;
  private closed = false;
  private readonly modes: ModeController;
  /** When the wall was created (its clock): the observed window of the topology never reaches before it. */
  private readonly startedAt: number;
  private readonly featureRegistry: FeatureRegistry;
  private readonly signals: SignalsFeed;
  /** `health()`, the mode snapshots and the health interval's timer. */
  private readonly loop: HealthLoop;
  /** Subscribe to every event (health transitions, breaker changes, dead letters, ...). */
  readonly onEvent: Subscribe<WallEvent>;

  constructor(options: WallOptions) {
    const o = objectOption('createWall options', options, OPTION_KEYS);
    if (!isPlainObject(options)) throw configError('createWall options', 'an object', options);
    this.service = stringOption('service', o.service);
    this.clock = clockOption('clock', o.clock) ?? realClock;
    this.scheduler = new DeadlineScheduler(this.clock);
    // both arm timers: bounded at 2^31−1 ms (a longer setTimeout fires after 1 ms: a '30d' interval would spin)
    const healthEveryMs = o.healthInterval === undefined ? 1000 : timerDurationOption('healthInterval', o.healthInterval, 10);
    this.closeGraceMs = o.closeGrace === undefined ? 5000 : timerDurationOption('closeGrace', o.closeGrace, 0);
    this.events = new EventStream(o.timeline, this.ownerOf);
    this.onEvent = this.events.subscribe;
    this.startedAt = this.clock.now();
    this.modes = new ModeController(this.clock, o.modeDwell === undefined ? {} : { minDwell: o.modeDwell as Duration });
    this.featureRegistry = new FeatureRegistry(this.clock);
    this.signals = new SignalsFeed(
      this.clock,
      o.drift as DriftMonitorOptions | false | undefined,
      healthEveryMs,
      (e) => this.events.emit(e),
      this.events.timeline === undefined ? undefined : (entry) => this.events.record(entry),
    );
    this.loop = new HealthLoop(
      {
        service: this.service,
        clock: this.clock,
        deps: this.deps,
        ops: this.ops,
        modes: this.modes,
        signals: this.signals,
        tick: (now) => this.config.tick(now),
        emit: (e) => this.events.emit(e),
        isClosed: () => this.closed,
      },
      healthEveryMs,
    );
    this.modes.changes.subscribe((c) => {
      this.featureRegistry.onMode(c.to);
      this.events.emit({ type: 'mode', ...c });
    });
    this.telemetry = new WallTelemetry(this.service, o.telemetry, sinksOption(o.sinks), () => this.deps.values());
    this.host = {
      clock: this.clock,
      scheduler: this.scheduler,
      telemetry: undefined,
      onBreakerChange: (dep, from, to, reason) => {
        this.events.emit({ type: 'breaker', at: this.clock.now(), dependency: dep.name, from, to, reason });
        this.loop.evaluateOne(dep);
      },
      onDeferredDead: (dep, id, error) => {
        // listeners get each item; the timeline gets one summary per dependency and health interval
        if (this.events.active) this.events.emit({ type: 'deferred-dead', at: this.clock.now(), dependency: dep.name, id, code: error.code, message: error.message });
        this.signals.deadLettered(dep.name, error.code);
      },
      onQuarantine: (dep) => {
        if (this.events.active) this.events.emit({ type: 'quarantine', at: this.clock.now(), dependency: dep.name });
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
      onEvent: (e) => this.events.emit(e),
    });
    this.faults = f.faults;
    this.injector = f.injector;
    this.config = new LiveConfig({ clock: this.clock, spec: this.host, deps: this.deps, ops: this.ops, features: this.featureRegistry, emit: (e) => this.events.emit(e) });
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
    if (options.guard !== undefined) this.loop.arm();
    return v;
  }

  /** Records a deploy and watches the whole service for `watch` (default 5m): the timeline says what changed after it. */
  markDeploy(version: string, options: { by: string; watch?: Duration }): void {
    this.assertOpen();
    this.config.markDeploy(version, options);
    this.loop.arm();
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
    this.loop.arm();
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
    this.loop.arm();
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
    this.loop.useSignals(options.signals, rules.length > 0);
    this.loop.arm();
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
    this.events.emit({ type: 'feature', at: this.clock.now(), feature: name, state, reason });
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

  /** Health of every dependency, and the service status that follows from their criticality. */
  health(): WallHealth {
    return this.loop.health();
  }

  /** JSON topology: dependencies with criticality and boundaries, operations with priority, deadline and observed edges. */
  topology(): Topology {
    return topologyOf(this.service, this.deps.values(), this.ops.values(), {
      at: this.clock.now(),
      startedAt: this.startedAt,
      features: this.featureRegistry.list(),
      modeRules: this.modes.firesOn((dependency, state) => this.loop.modeSnapshotWith(dependency, state)),
    });
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
    this.events.emit({ type: 'incident', ...declared });
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
    return drainWall({ clock: this.clock, ops: () => this.ops.values(), gate: this.gate, emit: (e) => this.events.emit(e), close: (graceMs) => this.close({ graceMs }) }, deadlineMs);
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
    this.closed = true;
    this.injector?.close();
    this.config.close();
    this.loop.stop();
    const parts = { clock: this.clock, deps: this.deps.values(), scheduler: this.scheduler, events: this.events, store: this.ownedStore };
    return { droppedDeferred: await closeParts(parts, options.graceMs ?? this.closeGraceMs) };
  }

  /** True once `close()` (or a finished `drain()`) began: declarations and new calls are refused with `CLOSED`. */
  get isClosed(): boolean {
    return this.closed;
  }

  private assertOpen(): void {
    if (this.closed) throw new BlastwallError('CLOSED', 'The wall is closed');
  }
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
