import { Registry } from 'prom-client';
import type { ErrorCode } from '../core/errors.js';
import type { HealthState } from '../health/classifier.js';
import type { CallKind } from '../health/rolling.js';
import { LATENCY_BUCKETS, METRIC_NAMES } from './names.js';
import type { AnswerSource, DependencyView, TelemetrySink } from './sink.js';

export { LATENCY_BUCKETS, METRIC_NAMES } from './names.js';

const BOUNDS_MS = LATENCY_BUCKETS.map((s) => s * 1000);
const OUTCOMES = ['success', 'failure', 'rejected', 'invalid'] as const;
const HEALTH_STATES: HealthState[] = ['healthy', 'delayed', 'degraded', 'retrying', 'unavailable', 'corrupt'];
const BREAKER_STATES = ['closed', 'open', 'half-open', 'isolated'] as const;

class DepCounters {
  readonly outcomes = new Float64Array(4);
  attempts = 0;
  readonly buckets = new Float64Array(BOUNDS_MS.length + 1);
  sumSeconds = 0;
  count = 0;
  readonly errors = new Map<ErrorCode, number>();
  readonly rejections = new Map<ErrorCode, number>();
  readonly served: Record<AnswerSource, number> = { live: 0, cache: 0, fallback: 0 };
  constructor(readonly dep: DependencyView) {}
}

interface MetricValue {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

/**
 * Prometheus exposition through prom-client. Per call it only bumps plain numbers it owns; the
 * prom-client metric objects read them at scrape time, so nothing is computed for a scrape nobody makes,
 * and nothing at all when the exporter is not enabled (the wall then holds no sink).
 */
export class PrometheusExporter implements TelemetrySink {
  readonly registry: Registry;
  private readonly deps = new Map<DependencyView, DepCounters>();

  constructor(
    private readonly service: string,
    private readonly health: (dep: DependencyView) => HealthState,
    registry?: Registry,
  ) {
    this.registry = registry ?? new Registry();
    const m = (name: string, help: string, type: 'counter' | 'gauge' | 'histogram', values: () => MetricValue[]) => {
      this.registry.registerMetric({
        name,
        help,
        type,
        aggregator: 'sum',
        get: async () => ({ name, help, type, values: values(), aggregator: 'sum' }),
      } as never);
    };
    m(METRIC_NAMES.calls, 'Dependency calls by outcome (success, failure, rejected, invalid).', 'counter', () =>
      this.each((c, l) => OUTCOMES.map((o, i) => ({ value: c.outcomes[i]!, labels: { ...l, outcome: o } }))),
    );
    m(METRIC_NAMES.attempts, 'Attempts made against the dependency (first attempts and retries).', 'counter', () =>
      this.each((c, l) => [{ value: c.attempts, labels: l }]),
    );
    m(METRIC_NAMES.latency, 'Call latency in seconds, all attempts included.', 'histogram', () =>
      this.each((c, l) => {
        const out: MetricValue[] = [];
        let cum = 0;
        for (let i = 0; i < BOUNDS_MS.length; i++) {
          cum += c.buckets[i]!;
          out.push({ value: cum, labels: { ...l, le: LATENCY_BUCKETS[i]! }, metricName: `${METRIC_NAMES.latency}_bucket` });
        }
        out.push({ value: c.count, labels: { ...l, le: '+Inf' }, metricName: `${METRIC_NAMES.latency}_bucket` });
        out.push({ value: c.sumSeconds, labels: l, metricName: `${METRIC_NAMES.latency}_sum` });
        out.push({ value: c.count, labels: l, metricName: `${METRIC_NAMES.latency}_count` });
        return out;
      }),
    );
    m(METRIC_NAMES.errors, 'Failed calls by error code.', 'counter', () =>
      this.each((c, l) => [...c.errors].map(([code, n]) => ({ value: n, labels: { ...l, code } }))),
    );
    m(METRIC_NAMES.rejections, 'Calls refused before reaching the dependency, by code.', 'counter', () =>
      this.each((c, l) => [...c.rejections].map(([code, n]) => ({ value: n, labels: { ...l, code } }))),
    );
    m(METRIC_NAMES.served, 'Answers given to callers by source (live, cache, fallback).', 'counter', () =>
      this.each((c, l) => (['live', 'cache', 'fallback'] as const).map((s) => ({ value: c.served[s], labels: { ...l, source: s } }))),
    );
    m(METRIC_NAMES.breaker, 'Circuit breaker state (1 for the current state).', 'gauge', () =>
      this.each((c, l) => {
        const st = c.dep.breaker?.state;
        return st === undefined ? [] : BREAKER_STATES.map((s) => ({ value: s === st ? 1 : 0, labels: { ...l, state: s } }));
      }),
    );
    m(METRIC_NAMES.health, 'Health state (1 for the current state).', 'gauge', () =>
      this.each((c, l) => {
        const st = this.health(c.dep);
        return HEALTH_STATES.map((s) => ({ value: s === st ? 1 : 0, labels: { ...l, state: s } }));
      }),
    );
    m(METRIC_NAMES.backlog, 'Items waiting in the deferred queue.', 'gauge', () =>
      this.each((c, l) => (c.dep.criticality === 'deferrable' ? [{ value: c.dep.backlog().size, labels: l }] : [])),
    );
  }

  register(dep: DependencyView): void {
    if (!this.deps.has(dep)) this.deps.set(dep, new DepCounters(dep));
  }

  private each(f: (c: DepCounters, labels: Record<string, string>) => MetricValue[]): MetricValue[] {
    const out: MetricValue[] = [];
    for (const c of this.deps.values()) out.push(...f(c, { service: this.service, dependency: c.dep.name }));
    return out;
  }

  call(dep: DependencyView, kind: CallKind, source: AnswerSource, durationMs: number, attempts: number, code: ErrorCode | undefined): void {
    let c = this.deps.get(dep);
    if (c === undefined) {
      c = new DepCounters(dep);
      this.deps.set(dep, c);
    }
    c.outcomes[kind]!++;
    if (kind !== 2) {
      c.attempts += attempts;
      let i = 0;
      while (i < BOUNDS_MS.length && durationMs > BOUNDS_MS[i]!) i++;
      c.buckets[i]!++;
      c.sumSeconds += durationMs / 1000;
      c.count++;
    }
    if (kind === 0) c.served[source]++;
    if (code !== undefined) {
      c.errors.set(code, (c.errors.get(code) ?? 0) + 1);
      if (kind === 2) c.rejections.set(code, (c.rejections.get(code) ?? 0) + 1);
    }
  }

  served(dep: DependencyView, source: AnswerSource): void {
    const c = this.deps.get(dep);
    if (c !== undefined) c.served[source]++;
  }

  /**
   * The scrape body: every metric on {@link PrometheusExporter.registry} in the text exposition format
   * (the integrity metrics too, when they were registered on the same registry). Serve it with
   * {@link PrometheusExporter.contentType}. Values are read at this moment; nothing is computed between scrapes.
   */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  /** The `Content-Type` header to answer a scrape with: the registry's (the Prometheus text format, version 0.0.4, unless the registry you passed is an OpenMetrics one). */
  get contentType(): string {
    return this.registry.contentType;
  }
}
