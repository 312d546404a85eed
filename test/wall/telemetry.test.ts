import { readFileSync } from 'node:fs';
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { createWall } from '../../src/index.js';
import { METRIC_NAMES } from '../../src/telemetry/index.js';
import { FakeClock } from '../../src/testing/index.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A strict parser of the Prometheus text exposition format (0.0.4): HELP/TYPE lines, then samples of declared families. */
function parseExposition(text: string): { types: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  const sampleRe = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (-?[0-9.eE+-]+|NaN|\+Inf|-Inf)$/;
  const labelRe = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"$/;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('# HELP ')) continue;
    if (line.startsWith('# TYPE ')) {
      const [, , name, type] = line.split(' ');
      if (!name || !['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(type ?? '')) throw new Error(`bad TYPE line: ${line}`);
      types.set(name, type!);
      continue;
    }
    const m = sampleRe.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    if (m[3]) {
      for (const part of m[3].split(/,(?=[a-zA-Z_][a-zA-Z0-9_]*=")/)) {
        const lm = labelRe.exec(part);
        if (!lm) throw new Error(`bad label ${part} in ${line}`);
        labels[lm[1]!] = lm[2]!;
      }
    }
    const name = m[1]!;
    const family = name.replace(/_(bucket|sum|count)$/, '');
    if (!types.has(name) && !(types.get(family) === 'histogram')) throw new Error(`sample of undeclared family: ${line}`);
    samples.push({ name, labels, value: Number(m[4]) });
  }
  return { types, samples };
}

describe('Prometheus telemetry', () => {
  it('exposes every documented metric in valid text exposition format', async () => {
    const clock = new FakeClock();
    const wall = createWall({ service: 'shop', clock, telemetry: { prometheus: true } });
    const pay = wall.dependency('payments', { timeout: '1s', retry: { attempts: 2, backoff: 0, budget: false } });
    wall.dependency('email', { criticality: 'deferrable' });
    let n = 0;
    for (let i = 0; i < 10; i++) {
      const p = pay
        .call(
          () =>
            new Promise((resolve, reject) =>
              clock.setTimer(() => (++n % 4 === 0 ? reject(new Error('x')) : resolve('ok')), 30),
            ),
        )
        .catch(() => undefined);
      await clock.advance(100);
      await p;
    }
    pay.breaker!.isolate();
    await pay.call(() => 'x').catch(() => undefined);

    const text = await wall.metrics();
    const { types, samples } = parseExposition(text);
    for (const name of Object.values(METRIC_NAMES)) expect(types.has(name), name).toBe(true);
    const get = (name: string, labels: Record<string, string>) =>
      samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

    const success = get(METRIC_NAMES.calls, { dependency: 'payments', outcome: 'success' })!;
    const failure = get(METRIC_NAMES.calls, { dependency: 'payments', outcome: 'failure' })!;
    expect(success + failure).toBe(10);
    expect(get(METRIC_NAMES.calls, { dependency: 'payments', outcome: 'rejected' })).toBe(1);
    expect(get(METRIC_NAMES.rejections, { dependency: 'payments', code: 'CIRCUIT_OPEN' })).toBe(1);
    expect(get(METRIC_NAMES.attempts, { dependency: 'payments' })).toBe(n);
    expect(get(METRIC_NAMES.breaker, { dependency: 'payments', state: 'isolated' })).toBe(1);
    expect(get(`${METRIC_NAMES.latency}_count`, { dependency: 'payments' })).toBe(10);
    expect(get(`${METRIC_NAMES.latency}_bucket`, { dependency: 'payments', le: '+Inf' })).toBe(10);
    expect(get(`${METRIC_NAMES.latency}_bucket`, { dependency: 'payments', le: '0.01' })).toBe(0);
    // buckets are cumulative
    const buckets = samples.filter((s) => s.name === `${METRIC_NAMES.latency}_bucket` && s.labels.dependency === 'payments').map((s) => s.value);
    expect([...buckets].sort((a, b) => a - b)).toEqual(buckets);
    expect(get(METRIC_NAMES.backlog, { dependency: 'email' })).toBe(0);
    expect(get(METRIC_NAMES.health, { dependency: 'payments', state: 'unavailable' })).toBe(1);
    for (const s of samples) expect(s.labels.service).toBe('shop');
    await wall.close();
  });

  it('the README documents every metric name', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    for (const name of Object.values(METRIC_NAMES)) expect(readme).toContain(name);
  });

  it('metrics() explains how to enable Prometheus when it is off', async () => {
    const wall = createWall({ service: 's', clock: new FakeClock() });
    await expect(wall.metrics()).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: /prometheus: true/ });
    await wall.close();
  });
});

describe('OpenTelemetry telemetry', () => {
  it('records calls, attempts and latency on the registered meter', async () => {
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 1_000_000 });
    const provider = new MeterProvider({ readers: [reader] });
    const clock = new FakeClock();
    const wall = createWall({ service: 'shop', clock, telemetry: { openTelemetry: { meter: provider.getMeter('blastwall') } } });
    const dep = wall.dependency('db', { timeout: '1s', retry: false });
    await dep.call(() => 1);
    await dep.call(() => 2);
    await dep.call(() => Promise.reject(new Error('x'))).catch(() => undefined);
    await reader.forceFlush();
    const metrics = exporter.getMetrics().flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics));
    const calls = metrics.find((m) => m.descriptor.name === 'blastwall.dependency.calls')!;
    const byOutcome = Object.fromEntries(calls.dataPoints.map((p) => [`${p.attributes.outcome}${p.attributes.code ? `:${p.attributes.code}` : ''}`, p.value]));
    expect(byOutcome).toEqual({ success: 2, 'failure:DEPENDENCY_FAILED': 1 });
    const duration = metrics.find((m) => m.descriptor.name === 'blastwall.dependency.duration')!;
    expect((duration.dataPoints[0]!.value as { count: number }).count).toBe(3);
    const health = metrics.find((m) => m.descriptor.name === 'blastwall.dependency.health')!;
    expect(health.dataPoints[0]!.value).toBe(0);
    await provider.shutdown();
    await wall.close();
  });
});
