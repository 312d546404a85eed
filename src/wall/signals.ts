import type { Clock } from '../core/clock.js';
import { BurnRateMonitor } from '../drift/burn-rate.js';
import { DriftMonitor, type DriftMonitorOptions } from '../drift/monitor.js';
import type { TimelineEntryInput } from '../timeline/index.js';
import type { Dependency } from './dependency.js';
import type { WallEvent } from './events.js';
import type { Operation } from './operation.js';

interface BurnWatch {
  monitor: BurnRateMonitor;
  /** Good and bad counts already fed to the monitor. */
  good: number;
  bad: number;
}

/**
 * The wall's signals feed, read once per health interval: every dependency's and operation's signals go
 * to the drift detectors, their good/bad counts to the burn-rate monitors, and each operation's failures
 * since the last interval are reported as impact. Dead letters are summarised here too (one timeline
 * entry per dependency and interval).
 */
export class SignalsFeed {
  private readonly drift: DriftMonitor | undefined;
  private readonly burn = new Map<string, BurnWatch>();
  /** Dead letters since the last health interval, by dependency and code. */
  private readonly deadLetters = new Map<string, Map<string, number>>();

  constructor(
    private readonly clock: Clock,
    drift: DriftMonitorOptions | false | undefined,
    private readonly intervalMs: number,
    private readonly emit: (e: WallEvent) => void,
    /** Records a timeline entry (never throws). */
    private readonly record: ((entry: TimelineEntryInput) => void) | undefined,
  ) {
    if (drift === false) return;
    this.drift = new DriftMonitor(clock, drift ?? {});
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

  /** Watches the error-budget burn of an availability objective (`dependency:<name>` or `operation:<name>`). */
  watchBurn(objective: string, availability: number): void {
    const monitor = new BurnRateMonitor(objective, availability, this.clock);
    monitor.alerts.subscribe((a) => this.emit({ type: 'burn-rate', ...a }));
    this.burn.set(objective, { monitor, good: 0, bad: 0 });
  }

  /** Counts one dead-lettered deferred item (summarised at the next `reportImpact`). */
  deadLettered(dependency: string, code: string): void {
    const byCode = this.deadLetters.get(dependency) ?? new Map<string, number>();
    byCode.set(code, (byCode.get(code) ?? 0) + 1);
    this.deadLetters.set(dependency, byCode);
  }

  /** Feeds this interval's signals to the drift detectors and the burn-rate monitors. */
  observe(dependencies: Iterable<Dependency>, operations: Iterable<Operation>): void {
    for (const d of dependencies) this.observeDependency(d);
    for (const op of operations) this.observeOperation(op);
  }

  private observeDependency(d: Dependency): void {
    const b = this.burn.get(`dependency:${d.name}`);
    if (b !== undefined) feedBurn(b, d.counters.ok, d.counters.bad);
    const cacheAge = d.takeCacheAge();
    const drift = this.drift;
    if (drift === undefined) return;
    if (cacheAge !== undefined) drift.observe(`${d.name}.cache.ageMs`, cacheAge);
    const t = d.totals();
    const judged = t.calls - t.rejected;
    drift.observe(`${d.name}.latency.p99`, t.p99);
    if (judged > 0) {
      drift.observe(`${d.name}.error.ratio`, (t.failures + t.invalid) / judged);
      drift.observe(`${d.name}.retry.ratio`, t.retries / judged);
    }
    if (t.calls > 0) drift.observe(`${d.name}.fallback.ratio`, t.fallbacks / t.calls);
    if (d.criticality === 'deferrable') {
      const bl = d.backlog();
      drift.observe(`${d.name}.backlog`, bl.size);
      drift.observe(`${d.name}.backlog.oldestAgeMs`, bl.oldestAgeMs);
    }
  }

  private observeOperation(op: Operation): void {
    if (this.drift !== undefined) {
      const t = op.stats.totals(this.clock.now());
      this.drift.observe(`op:${op.name}.latency.p99`, t.p99);
      if (t.calls > 0) {
        this.drift.observe(`op:${op.name}.error.ratio`, t.failures / t.calls);
        this.drift.observe(`op:${op.name}.degraded.ratio`, t.fallbacks / t.calls);
      }
    }
    const b = this.burn.get(`operation:${op.name}`);
    if (b === undefined) return;
    const bad = op.counts.failed + op.counts.shed;
    feedBurn(b, op.counts.requests - bad, bad);
  }

  /** Emits, per operation, what went wrong since the last report (only when something did). */
  reportImpact(operations: Iterable<Operation>): void {
    for (const [dependency, byCode] of this.deadLetters) {
      const total = [...byCode.values()].reduce((a, b) => a + b, 0);
      this.record?.({
        at: this.clock.now(),
        kind: 'action',
        severity: 'warning',
        title: `${dependency}: ${total} deferred item(s) dead-lettered after their retries (${[...byCode].map(([c, n]) => `${c}×${n}`).join(', ')})`,
        dependency,
        data: { deadLettered: total, codes: Object.fromEntries(byCode) },
      });
    }
    this.deadLetters.clear();
    for (const op of operations) {
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
          intervalMs: this.intervalMs,
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
}

/** Feeds the change in cumulative good/bad counts since the last interval to a burn-rate monitor. */
function feedBurn(b: BurnWatch, good: number, bad: number): void {
  b.monitor.record(good - b.good, bad - b.bad);
  b.good = good;
  b.bad = bad;
  b.monitor.evaluate();
}
