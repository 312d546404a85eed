import type { Attributes, Counter, Histogram, Meter } from '@opentelemetry/api';
import type { ErrorCode } from '../core/errors.js';
import type { HealthState } from '../health/classifier.js';
import type { CallKind } from '../health/rolling.js';
import type { AnswerSource, DependencyView, TelemetrySink } from './sink.js';

const OUTCOMES = ['success', 'failure', 'rejected', 'invalid'] as const;
const HEALTH_CODE: Record<HealthState, number> = { healthy: 0, delayed: 1, retrying: 2, degraded: 3, corrupt: 4, unavailable: 5 };
const BREAKER_CODE: Record<string, number> = { closed: 0, 'half-open': 1, open: 2, isolated: 3 };

/**
 * OpenTelemetry metrics on a `Meter` of `@opentelemetry/api` (the wall passes the global one,
 * `metrics.getMeter('blastwall')`, unless given one): they reach whatever MeterProvider the application
 * registered (and cost a no-op call when none is). Attribute objects are built once per dependency and
 * outcome. This file loads nothing at run time (types only).
 */
export class OpenTelemetryExporter implements TelemetrySink {
  private readonly calls: Counter;
  private readonly attempts: Counter;
  private readonly duration: Histogram;
  private readonly servedCounter: Counter;
  private readonly attrs = new Map<DependencyView, { outcome: Attributes[]; base: Attributes; byCode: Map<string, Attributes>; source: Record<AnswerSource, Attributes> }>();

  constructor(
    private readonly service: string,
    health: (dep: DependencyView) => HealthState,
    deps: () => Iterable<DependencyView>,
    meter: Meter,
  ) {
    this.calls = meter.createCounter('blastwall.dependency.calls', { description: 'Dependency calls by outcome' });
    this.attempts = meter.createCounter('blastwall.dependency.attempts', { description: 'Attempts made against the dependency' });
    this.duration = meter.createHistogram('blastwall.dependency.duration', { description: 'Call latency, all attempts included', unit: 'ms' });
    this.servedCounter = meter.createCounter('blastwall.dependency.served', { description: 'Answers given to callers by source' });
    meter
      .createObservableGauge('blastwall.dependency.health', { description: 'Health state: 0 healthy, 1 delayed, 2 retrying, 3 degraded, 4 corrupt, 5 unavailable' })
      .addCallback((r) => {
        for (const d of deps()) r.observe(HEALTH_CODE[health(d)], this.of(d).base);
      });
    meter
      .createObservableGauge('blastwall.dependency.breaker', { description: 'Breaker state: 0 closed, 1 half-open, 2 open, 3 isolated' })
      .addCallback((r) => {
        for (const d of deps()) if (d.breaker) r.observe(BREAKER_CODE[d.breaker.state] ?? 0, this.of(d).base);
      });
  }

  private of(dep: DependencyView) {
    let a = this.attrs.get(dep);
    if (a === undefined) {
      const base = { 'service.name': this.service, dependency: dep.name };
      a = {
        base,
        outcome: OUTCOMES.map((o) => ({ ...base, outcome: o })),
        byCode: new Map(),
        source: { live: { ...base, source: 'live' }, cache: { ...base, source: 'cache' }, fallback: { ...base, source: 'fallback' } },
      };
      this.attrs.set(dep, a);
    }
    return a;
  }

  call(dep: DependencyView, kind: CallKind, source: AnswerSource, durationMs: number, attempts: number, code: ErrorCode | undefined): void {
    const a = this.of(dep);
    let attrs = a.outcome[kind]!;
    if (code !== undefined) {
      const key = `${kind}:${code}`;
      let withCode = a.byCode.get(key);
      if (withCode === undefined) {
        withCode = { ...attrs, code };
        a.byCode.set(key, withCode);
      }
      attrs = withCode;
    }
    this.calls.add(1, attrs);
    if (kind !== 2) {
      this.attempts.add(attempts, a.base);
      this.duration.record(durationMs, a.base);
    }
    if (kind === 0) this.servedCounter.add(1, a.source[source]);
  }

  served(dep: DependencyView, source: AnswerSource): void {
    this.servedCounter.add(1, this.of(dep).source[source]);
  }
}
