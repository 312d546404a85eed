import type { Clock, TimerHandle } from '../core/clock.js';
import { realClock } from '../core/clock.js';
import { durationOption, type Duration } from '../core/duration.js';
import { BlastwallError } from '../core/errors.js';
import { Emitter } from '../core/events.js';
import { DeadlineScheduler } from '../core/scheduler.js';
import { configError, enumOption, isPlainObject, objectOption, ratioOption, stringOption } from '../core/validate.js';
import type { HealthState } from '../health/classifier.js';
import { CallKind, RollingStats, type SignalTotals } from '../health/rolling.js';
import { OpenTelemetryExporter } from '../telemetry/otel.js';
import { PrometheusExporter } from '../telemetry/prometheus.js';
import type { Meter } from '@opentelemetry/api';
import type { Registry } from 'prom-client';
import type { TimelineEntryInput } from '../timeline/index.js';
import type { IntegrityStore } from '../stores/types.js';
import { watchStore } from '../integrity/watch.js';
import { storeOption } from '../stores/options.js';
import { type Priority, PRIORITIES, type OperationContext, operationStorage } from './context.js';
import { type Feature, FeatureRegistry, type FeatureSpec } from '../degrade/features.js';
import { type Mode, type ModeChange, ModeController, type ModeRule, type ModeSnapshot } from '../degrade/modes.js';
import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import { BurnRateMonitor } from '../drift/burn-rate.js';
import { DriftMonitor, type DriftMonitorOptions } from '../drift/monitor.js';
import { type Criticality, Dependency, type DependencyHost, type DependencySpec, type TelemetrySink } from './dependency.js';

export type ServiceStatus = 'ok' | 'degraded' | 'unavailable';

export interface WallOptions {
  service: string;
  clock?: Clock;
  /**
   * The durable store for idempotency records, deferred work and the outbox (`sqliteStore(path)`,
   * `redisStore(url)`, `postgresStore(url)`, `memoryStore()`). The wall watches it as the `core`
   * dependency `store:<kind>` (timeout, breaker, health) and exposes the watched store as `wall.store`;
   * `wall.close()` closes it.
   */
  store?: IntegrityStore;
  /** Receives every wall event as a timeline entry (see src/timeline). */
  timeline?: { record(entry: TimelineEntryInput): unknown };
  telemetry?: {
    prometheus?: boolean | { registry?: Registry };
    openTelemetry?: boolean | { meter?: Meter };
  };
  /** How often health is re-evaluated (transition events are emitted then). Default 1s. */
  healthInterval?: Duration;
  /** How long `close()` waits for deferred work before dropping it. Default 5s. */
  closeGrace?: Duration;
  /** A mode entered by a rule is held at least this long. Default 30s. */
  modeDwell?: Duration;
  /** Drift detection over every dependency's signals, each health interval (`false` to turn it off). */
  drift?: DriftMonitorOptions | false;
}


export interface DependencyHealth {
  state: HealthState;
  since: number;
  reason: string;
  criticality: Criticality;
  breaker: string | undefined;
  signals: SignalTotals & { backlog?: number; oldestDeferredAgeMs?: number };
}

export interface WallHealth {
  service: string;
  status: ServiceStatus;
  mode: Mode;
  at: number;
  dependencies: Record<string, DependencyHealth>;
}

export type WallEvent =
  | {
      type: 'health';
      at: number;
      dependency: string;
      criticality: Criticality;
      from: HealthState;
      to: HealthState;
      reason: string;
    }
  | { type: 'breaker'; at: number; dependency: string; from: string; to: string; reason: string }
  | { type: 'deferred-dead'; at: number; dependency: string; id: number; code: string; message: string }
  | { type: 'quarantine'; at: number; dependency: string }
  | { type: 'status'; at: number; from: ServiceStatus; to: ServiceStatus; reason: string }
  | ({ type: 'mode' } & ModeChange)
  | { type: 'feature'; at: number; feature: string; state: 'on' | 'off' | 'auto'; reason: string }
  | {
      type: 'drift';
      at: number;
      state: 'raised' | 'cleared';
      /** The dependency or the operation whose signal drifted. */
      dependency?: string;
      operation?: string;
      signal: string;
      onset: number;
      baseline: number;
      level: number;
    }
  | { type: 'burn-rate'; at: number; state: 'raised' | 'cleared'; objective: string; rule: string; severity: 'page' | 'ticket'; longBurn: number; shortBurn: number }
  | { type: 'impact'; at: number; operation: string; intervalMs: number; requests: number; failed: number; degraded: number; shed: number; codes: Record<string, number> };

export interface OperationSpec {
  priority?: Priority;
  /** The longest this operation may take, end to end. */
  deadline?: Duration;
  /** Availability objective: multi-window burn-rate alerts are raised against it. */
  slo?: { availability: number };
}

export interface RunOptions {
  /** Remaining time granted by the caller (e.g. from a deadline header); the smaller of this and the operation's deadline wins. */
  deadlineMs?: number;
  /** This run's priority class when it differs from the operation's (e.g. a trusted priority header). */
  priority?: Priority;
  idempotencyKey?: string;
}

export class Operation {
  readonly priority: Priority;
  readonly deadlineMs: number;
  /** Dependencies this operation has been seen calling. */
  readonly edges = new Set<string>();
  /** Cumulative outcomes of runs (the wall reports the change per health interval as impact). */
  readonly counts = { requests: 0, failed: 0, degraded: 0, shed: 0 };
  readonly failureCodes = new Map<string, number>();
  /** @internal Counts at the last impact report. */
  reported = { requests: 0, failed: 0, degraded: 0, shed: 0 };
  readonly availability: number | undefined;
  /** Rolling latency and outcome signals of this operation's runs (for drift detection and health). */
  readonly stats = new RollingStats(60_000);

  constructor(
    readonly name: string,
    spec: OperationSpec,
    private readonly clock: Clock,
  ) {
    const o = objectOption(`operation '${name}'`, spec, ['priority', 'deadline', 'slo']);
    if (o.slo !== undefined) {
      const slo = objectOption(`${name}.slo`, o.slo, ['availability']);
      this.availability = ratioOption(`${name}.slo.availability`, slo.availability);
    }
    this.priority = o.priority === undefined ? 'critical' : enumOption(`${name}.priority`, o.priority, PRIORITIES);
    this.deadlineMs = o.deadline === undefined ? Number.POSITIVE_INFINITY : durationOption(`${name}.deadline`, o.deadline);
  }

  private failedWith(code: string): void {
    if (code === 'SHED') this.counts.shed++;
    else this.counts.failed++;
    this.failureCodes.set(code, (this.failureCodes.get(code) ?? 0) + 1);
  }

  /**
   * Runs `fn` inside this operation: every dependency call made within it (through async code too) is
   * capped by the operation's deadline and recorded as an edge. Work whose deadline already passed is
   * not started (`DEADLINE_EXCEEDED`).
   */
  run<T>(fn: () => T | Promise<T>, options: RunOptions = {}): Promise<T> {
    let budget = this.deadlineMs;
    if (options.deadlineMs !== undefined) {
      if (typeof options.deadlineMs !== 'number' || Number.isNaN(options.deadlineMs)) {
        return Promise.reject(configError('deadlineMs', 'a number of milliseconds', options.deadlineMs));
      }
      budget = Math.min(budget, options.deadlineMs);
    }
    this.counts.requests++;
    if (budget <= 0) {
      this.failedWith('DEADLINE_EXCEEDED');
      return Promise.reject(new BlastwallError('DEADLINE_EXCEEDED', `Operation '${this.name}' arrived with no time left; not started`));
    }
    if (options.priority !== undefined && !(PRIORITIES as readonly string[]).includes(options.priority)) {
      return Promise.reject(configError('priority', `one of ${PRIORITIES.map((p) => `'${p}'`).join(', ')}`, options.priority));
    }
    const edges = new Set<string>();
    const ctx: OperationContext = {
      operation: this.name,
      priority: options.priority ?? this.priority,
      deadline: this.clock.now() + budget,
      idempotencyKey: options.idempotencyKey,
      edges,
      degraded: false,
    };
    const started = this.clock.now();
    return operationStorage.run(ctx, async () => {
      try {
        const value = await fn();
        if (ctx.degraded) this.counts.degraded++;
        const now = this.clock.now();
        this.stats.record(now, CallKind.Success, now - started, 0, false);
        if (ctx.degraded) this.stats.recordFallback(now);
        return value;
      } catch (err) {
        this.failedWith(err instanceof BlastwallError ? err.code : 'ERROR');
        const now = this.clock.now();
        this.stats.record(now, CallKind.Failure, now - started, 0, false);
        throw err;
      } finally {
        for (const e of edges) this.edges.add(e);
      }
    });
  }
}

export interface OperationImpact {
  requests: number;
  failed: number;
  degraded: number;
  shed: number;
}

const OPTION_KEYS = ['service', 'clock', 'store', 'timeline', 'telemetry', 'healthInterval', 'closeGrace', 'modeDwell', 'drift'];

/** One per service process: the registry of dependencies and operations, with health, events and telemetry. */
export class Wall {
  readonly service: string;
  readonly clock: Clock;
  private readonly deps = new Map<string, Dependency>();
  private readonly ops = new Map<string, Operation>();
  private readonly events = new Emitter<WallEvent>();
  private readonly host: DependencyHost;
  private readonly scheduler: DeadlineScheduler;
  private readonly prometheus: PrometheusExporter | undefined;
  private readonly otel: OpenTelemetryExporter | undefined;
  private readonly timeline: WallOptions['timeline'];
  private readonly healthEveryMs: number;
  private readonly closeGraceMs: number;
  private healthTimer: TimerHandle | undefined;
  private closed = false;
  private lastStatus: ServiceStatus = 'ok';
  private readonly modes: ModeController;
  private readonly featureRegistry: FeatureRegistry;
  /** Dead letters since the last health interval, by dependency and code (summarised on the timeline). */
  private readonly deadLetters = new Map<string, Map<string, number>>();
  private readonly drift: DriftMonitor | undefined;
  private readonly burn = new Map<string, { monitor: BurnRateMonitor; good: number; bad: number }>();
  private extraSignals: (() => Record<string, unknown>) | undefined;
  private loopDelay: IntervalHistogram | undefined;
  /** Subscribe to every event (health transitions, breaker changes, dead letters, ...). */
  readonly onEvent = this.events.subscribe;

  constructor(options: WallOptions) {
    const o = objectOption('createWall options', options, OPTION_KEYS);
    if (!isPlainObject(options)) throw configError('createWall options', 'an object', options);
    this.service = stringOption('service', o.service);
    this.clock = (o.clock as Clock | undefined) ?? realClock;
    this.scheduler = new DeadlineScheduler(this.clock);
    this.healthEveryMs = o.healthInterval === undefined ? 1000 : durationOption('healthInterval', o.healthInterval, 10);
    this.closeGraceMs = o.closeGrace === undefined ? 5000 : durationOption('closeGrace', o.closeGrace, 0);
    if (o.timeline !== undefined && typeof (o.timeline as { record?: unknown }).record !== 'function') {
      throw configError('timeline', 'an object with a record(entry) method (see createTimeline)', o.timeline);
    }
    this.timeline = o.timeline as WallOptions['timeline'];
    this.modes = new ModeController(this.clock, o.modeDwell === undefined ? {} : { minDwell: o.modeDwell as Duration });
    this.featureRegistry = new FeatureRegistry(this.clock);
    if (o.drift !== false) {
      this.drift = new DriftMonitor(this.clock, (o.drift as DriftMonitorOptions | undefined) ?? {});
      this.drift.alerts.subscribe((a) => {
        // signals are `<dependency>.<signal>` or `op:<operation>.<signal>`
        const dot = a.signal.indexOf('.');
        const subject = a.signal.slice(0, dot);
        this.emit({
          type: 'drift',
          at: a.at,
          state: a.state,
          ...(subject.startsWith('op:') ? { operation: subject.slice(3) } : { dependency: subject }),
          signal: a.signal.slice(dot + 1),
          onset: a.onset,
          baseline: a.baseline,
          level: a.level,
        });
      });
    }
    this.modes.changes.subscribe((c) => {
      this.featureRegistry.onMode(c.to);
      this.emit({ type: 'mode', ...c });
    });
    const tel = objectOption('telemetry', o.telemetry, ['prometheus', 'openTelemetry']);
    const healthOf = (d: Dependency) => d.classifier.state;
    if (tel.prometheus !== undefined && tel.prometheus !== false) {
      const p = tel.prometheus === true ? {} : objectOption('telemetry.prometheus', tel.prometheus, ['registry']);
      this.prometheus = new PrometheusExporter(this.service, healthOf, p.registry as Registry | undefined);
    }
    if (tel.openTelemetry !== undefined && tel.openTelemetry !== false) {
      const p = tel.openTelemetry === true ? {} : objectOption('telemetry.openTelemetry', tel.openTelemetry, ['meter']);
      this.otel = new OpenTelemetryExporter(this.service, healthOf, () => this.deps.values(), p.meter as Meter | undefined);
    }
    const sinks = [this.prometheus, this.otel].filter((s): s is PrometheusExporter | OpenTelemetryExporter => s !== undefined);
    const telemetry: TelemetrySink | undefined =
      sinks.length === 0
        ? undefined
        : sinks.length === 1
          ? sinks[0]
          : {
              call: (...args) => {
                for (const s of sinks) s.call(...args);
              },
              served: (d, src) => {
                for (const s of sinks) s.served(d, src);
              },
            };
    this.host = {
      clock: this.clock,
      scheduler: this.scheduler,
      telemetry,
      onBreakerChange: (dep, from, to, reason) => {
        this.emit({ type: 'breaker', at: this.clock.now(), dependency: dep.name, from, to, reason });
        this.evaluateOne(dep);
      },
      onDeferredDead: (dep, id, error) => {
        // listeners get each item; the timeline gets one summary per dependency and health interval
        if (this.events.active) this.events.emit({ type: 'deferred-dead', at: this.clock.now(), dependency: dep.name, id, code: error.code, message: error.message });
        const byCode = this.deadLetters.get(dep.name) ?? new Map<string, number>();
        byCode.set(error.code, (byCode.get(error.code) ?? 0) + 1);
        this.deadLetters.set(dep.name, byCode);
      },
      onQuarantine: (dep) => {
        if (this.events.active) this.emit({ type: 'quarantine', at: this.clock.now(), dependency: dep.name });
      },
      isClosed: () => this.closed,
    };
    if (o.store !== undefined) {
      const st = storeOption(o.store);
      this.ownedStore = st;
      this.store = watchStore(this, st);
    }
  }

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
    this.deps.set(name, dep);
    this.watchBurn(`dependency:${name}`, dep.objective.availability);
    this.prometheus?.register(dep);
    this.armHealthTimer();
    return dep;
  }

  /** Declares an operation (a route, a job) with its priority class and deadline. */
  operation(name: string, spec: OperationSpec = {}): Operation {
    this.assertOpen();
    stringOption('operation name', name);
    if (this.ops.has(name)) throw new BlastwallError('CONFIG_INVALID', `Operation '${name}' is already declared`);
    const op = new Operation(name, spec, this.clock);
    this.ops.set(name, op);
    if (op.availability !== undefined) this.watchBurn(`operation:${name}`, op.availability);
    this.armHealthTimer();
    return op;
  }

  /** The declared dependency named `name`. */
  get(name: string): Dependency {
    const d = this.deps.get(name);
    if (d === undefined) throw new BlastwallError('CONFIG_INVALID', `No dependency named '${name}' is declared`);
    return d;
  }

  dependencies(): Dependency[] {
    return [...this.deps.values()];
  }

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

  /**
   * Service status from criticality: a `core` dependency unavailable makes the service unavailable; any
   * other unhealthy core dependency, or an optional/deferrable one that is degraded, corrupt or
   * unavailable, makes it degraded. An optional dependency never makes it unavailable.
   */
  private computeStatus(): { status: ServiceStatus; reason: string } {
    let status: ServiceStatus = 'ok';
    let reason = 'every dependency healthy';
    for (const d of this.deps.values()) {
      const s = d.classifier.state;
      if (s === 'healthy') continue;
      if (d.criticality === 'core') {
        if (s === 'unavailable') return { status: 'unavailable', reason: `core dependency '${d.name}' is unavailable` };
        if (status === 'ok') {
          status = 'degraded';
          reason = `core dependency '${d.name}' is ${s}`;
        }
      } else if ((s === 'unavailable' || s === 'corrupt' || s === 'degraded') && status === 'ok') {
        status = 'degraded';
        reason = `${d.criticality} dependency '${d.name}' is ${s}`;
      }
    }
    return { status, reason };
  }

  private updateStatus(): { status: ServiceStatus; reason: string } {
    const next = this.computeStatus();
    if (next.status !== this.lastStatus) {
      const from = this.lastStatus;
      this.lastStatus = next.status;
      this.emit({ type: 'status', at: this.clock.now(), from, to: next.status, reason: next.reason });
    }
    return next;
  }

  /** JSON topology: dependencies with criticality and boundaries, operations with priority, deadline and observed edges. */
  topology(): {
    service: string;
    dependencies: { name: string; criticality: Criticality; boundaries: Record<string, unknown>; objective: { p99Ms: number; availability: number } }[];
    operations: { name: string; priority: Priority; deadlineMs: number | null; calls: string[] }[];
    edges: { from: string; to: string }[];
  } {
    const operations = [...this.ops.values()].map((o) => ({
      name: o.name,
      priority: o.priority,
      deadlineMs: Number.isFinite(o.deadlineMs) ? o.deadlineMs : null,
      calls: [...o.edges].sort(),
    }));
    return {
      service: this.service,
      dependencies: [...this.deps.values()].map((d) => ({
        name: d.name,
        criticality: d.criticality,
        boundaries: d.boundaries,
        objective: d.objective,
      })),
      operations,
      edges: operations.flatMap((o) => o.calls.map((to) => ({ from: o.name, to }))),
    };
  }

  /** Prometheus text exposition (requires `telemetry: { prometheus: true }`). */
  metrics(): Promise<string> {
    if (this.prometheus === undefined) {
      return Promise.reject(new BlastwallError('CONFIG_INVALID', 'Prometheus telemetry is off: createWall({ telemetry: { prometheus: true } })'));
    }
    return this.prometheus.metrics();
  }

  get metricsContentType(): string {
    return this.prometheus?.contentType ?? 'text/plain; version=0.0.4; charset=utf-8';
  }

  /** Stops accepting calls, waits up to `closeGrace` for deferred work, and releases every timer. */
  async close(): Promise<{ droppedDeferred: number }> {
    if (this.closed) return { droppedDeferred: 0 };
    this.closed = true;
    if (this.healthTimer !== undefined) {
      this.clock.clearTimer(this.healthTimer);
      this.healthTimer = undefined;
    }
    this.loopDelay?.disable();
    this.loopDelay = undefined;
    let dropped = 0;
    const deferrable = [...this.deps.values()].filter((d) => d.criticality === 'deferrable');
    if (deferrable.length > 0 && this.closeGraceMs > 0) {
      // let in-flight deferred work finish within the grace period, then drop what is left
      let graceTimer: TimerHandle | undefined;
      const grace = new Promise<void>((resolve) => {
        graceTimer = this.clock.setTimer(resolve, this.closeGraceMs);
      });
      await Promise.race([Promise.all(deferrable.map((d) => d.drainDeferred())), grace]);
      if (graceTimer !== undefined) this.clock.clearTimer(graceTimer);
    }
    for (const d of deferrable) dropped += d.dropDeferred();
    // calls still in flight end now with CLOSED (retries stop on it) instead of waiting on a closed wall
    this.scheduler.close(new BlastwallError('CLOSED', 'The wall closed while this call was in flight'));
    this.events.clear();
    await this.ownedStore?.close();
    return { droppedDeferred: dropped };
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private assertOpen(): void {
    if (this.closed) throw new BlastwallError('CLOSED', 'The wall is closed');
  }

  private emit(e: WallEvent): void {
    if (this.events.active) this.events.emit(e);
    if (this.timeline !== undefined && e.type !== 'deferred-dead') {
      try {
        this.timeline.record({ at: e.at, ...toTimelineEntry(e) });
      } catch (err) {
        process.emitWarning(`blastwall: the timeline refused an entry: ${String(err)}`);
      }
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

  private watchBurn(objective: string, availability: number): void {
    const monitor = new BurnRateMonitor(objective, availability, this.clock);
    monitor.alerts.subscribe((a) => this.emit({ type: 'burn-rate', ...a }));
    this.burn.set(objective, { monitor, good: 0, bad: 0 });
  }

  /** Feeds this interval's signals to the drift detectors and the burn-rate monitors. */
  private observeSignals(): void {
    for (const d of this.deps.values()) {
      const b = this.burn.get(`dependency:${d.name}`);
      if (b !== undefined) {
        b.monitor.record(d.counters.ok - b.good, d.counters.bad - b.bad);
        b.good = d.counters.ok;
        b.bad = d.counters.bad;
        b.monitor.evaluate();
      }
      const cacheAge = d.takeCacheAge();
      if (this.drift === undefined) continue;
      if (cacheAge !== undefined) this.drift.observe(`${d.name}.cache.ageMs`, cacheAge);
      const t = d.totals();
      const judged = t.calls - t.rejected;
      this.drift.observe(`${d.name}.latency.p99`, t.p99);
      if (judged > 0) {
        this.drift.observe(`${d.name}.error.ratio`, (t.failures + t.invalid) / judged);
        this.drift.observe(`${d.name}.retry.ratio`, t.retries / judged);
      }
      if (t.calls > 0) this.drift.observe(`${d.name}.fallback.ratio`, t.fallbacks / t.calls);
      if (d.criticality === 'deferrable') {
        const bl = d.backlog();
        this.drift.observe(`${d.name}.backlog`, bl.size);
        this.drift.observe(`${d.name}.backlog.oldestAgeMs`, bl.oldestAgeMs);
      }
    }
    for (const op of this.ops.values()) {
      if (this.drift !== undefined) {
        const t = op.stats.totals(this.clock.now());
        this.drift.observe(`op:${op.name}.latency.p99`, t.p99);
        if (t.calls > 0) {
          this.drift.observe(`op:${op.name}.error.ratio`, t.failures / t.calls);
          this.drift.observe(`op:${op.name}.degraded.ratio`, t.fallbacks / t.calls);
        }
      }
      const b = this.burn.get(`operation:${op.name}`);
      if (b === undefined) continue;
      const bad = op.counts.failed + op.counts.shed;
      b.monitor.record(op.counts.requests - bad - b.good, bad - b.bad);
      b.good = op.counts.requests - bad;
      b.bad = bad;
      b.monitor.evaluate();
    }
  }

  /** Emits, per operation, what went wrong since the last report (only when something did). */
  private reportImpact(): void {
    for (const [dependency, byCode] of this.deadLetters) {
      const total = [...byCode.values()].reduce((a, b) => a + b, 0);
      this.timeline?.record({
        at: this.clock.now(),
        kind: 'action',
        severity: 'warning',
        title: `${dependency}: ${total} deferred item(s) dead-lettered after their retries (${[...byCode].map(([c, n]) => `${c}×${n}`).join(', ')})`,
        dependency,
        data: { deadLettered: total, codes: Object.fromEntries(byCode) },
      });
    }
    this.deadLetters.clear();
    for (const op of this.ops.values()) {
      const c = op.counts;
      const r = op.reported;
      const failed = c.failed - r.failed;
      const degraded = c.degraded - r.degraded;
      const shed = c.shed - r.shed;
      if (failed > 0 || degraded > 0 || shed > 0) {
        this.emit({
          type: 'impact',
          at: this.clock.now(),
          operation: op.name,
          intervalMs: this.healthEveryMs,
          requests: c.requests - r.requests,
          failed,
          degraded,
          shed,
          codes: Object.fromEntries(op.failureCodes),
        });
        op.failureCodes.clear();
      }
      op.reported = { ...c };
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
    this.reportImpact();
    this.observeSignals();
    if (this.modes.hasRules || this.modes.describe().manual) this.modes.evaluate(this.modeSnapshot(this.health()));
    else {
      for (const d of this.deps.values()) this.evaluateOne(d);
      this.updateStatus();
    }
    this.armHealthTimer();
  };
}

function toTimelineEntry(e: WallEvent): TimelineEntryInput {
  switch (e.type) {
    case 'health':
      return {
        kind: 'health',
        severity: e.to === 'unavailable' || e.to === 'corrupt' ? 'critical' : e.to === 'healthy' ? 'info' : 'warning',
        title: `${e.dependency} ${e.from} → ${e.to}: ${e.reason}`,
        dependency: e.dependency,
        data: { from: e.from, to: e.to, reason: e.reason, criticality: e.criticality },
      };
    case 'breaker':
      return {
        kind: 'breaker',
        severity: e.to === 'open' || e.to === 'isolated' ? 'critical' : 'info',
        title: `${e.dependency} breaker ${e.from} → ${e.to}: ${e.reason}`,
        dependency: e.dependency,
        data: { from: e.from, to: e.to, reason: e.reason },
      };
    case 'deferred-dead':
      return { kind: 'action', severity: 'warning', title: `${e.dependency}: deferred item ${e.id} dead-lettered (${e.code})`, dependency: e.dependency };
    case 'quarantine':
      return { kind: 'action', severity: 'warning', title: `${e.dependency}: response quarantined`, dependency: e.dependency };
    case 'mode':
      return {
        kind: 'mode',
        severity: e.to === 'normal' ? 'info' : e.to === 'degraded' ? 'warning' : 'critical',
        title: `mode ${e.from} → ${e.to}${e.manual ? ' (by hand)' : ''}: ${e.reason}`,
        data: { from: e.from, to: e.to, reason: e.reason, manual: e.manual },
      };
    case 'feature':
      return {
        kind: 'flag',
        severity: 'info',
        title: `feature ${e.feature} → ${e.state}: ${e.reason}`,
        data: { feature: e.feature, state: e.state, reason: e.reason },
      };
    case 'drift':
      return {
        kind: 'drift',
        severity: e.state === 'raised' ? 'warning' : 'info',
        title:
          e.state === 'raised'
            ? `${e.dependency ?? e.operation} ${e.signal} drifting: ${fmt(e.baseline)} → ${fmt(e.level)} (since ${new Date(e.onset).toISOString()})`
            : `${e.dependency ?? e.operation} ${e.signal} back to normal (${fmt(e.level)})`,
        ...(e.dependency !== undefined ? { dependency: e.dependency } : {}),
        ...(e.operation !== undefined ? { operation: e.operation } : {}),
        data: { state: e.state, signal: e.signal, baseline: e.baseline, level: e.level, onset: e.onset },
      };
    case 'burn-rate':
      return {
        kind: 'burn-rate',
        severity: e.state === 'cleared' ? 'info' : e.severity === 'page' ? 'critical' : 'warning',
        title: `${e.objective} error budget ${e.state === 'raised' ? `burning: ${e.rule} (${e.severity}; ${e.longBurn.toFixed(1)}× long, ${e.shortBurn.toFixed(1)}× short)` : `burn ${e.rule} cleared`}`,
        ...(e.objective.startsWith('dependency:') ? { dependency: e.objective.slice(11) } : { operation: e.objective.slice(10) }),
        data: { state: e.state, rule: e.rule, severity: e.severity, longBurn: e.longBurn, shortBurn: e.shortBurn },
      };
    case 'impact':
      return {
        kind: 'impact',
        severity: e.failed > 0 ? 'critical' : 'warning',
        title: `${e.operation}: ${e.failed} failed, ${e.degraded} degraded, ${e.shed} shed of ${e.requests} requests`,
        operation: e.operation,
        data: { requests: e.requests, failed: e.failed, degraded: e.degraded, shed: e.shed, intervalMs: e.intervalMs, codes: e.codes },
      };
    case 'status':
      return {
        kind: 'health',
        severity: e.to === 'unavailable' ? 'critical' : e.to === 'degraded' ? 'warning' : 'info',
        title: `service ${e.from} → ${e.to}: ${e.reason}`,
        data: { from: e.from, to: e.to, reason: e.reason },
      };
  }
}

function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  return Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 1 ? x.toFixed(1) : x.toPrecision(2);
}

/** Creates the wall of this service process. */
export function createWall(options: WallOptions): Wall {
  return new Wall(options);
}
