import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWall } from '../../src/index.js';
import { openTelemetryTraces } from '../../src/telemetry/index.js';
import { FakeClock } from '../../src/testing/index.js';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const tracer = provider.getTracer('test');
const manager = new AsyncLocalStorageContextManager();

beforeAll(() => {
  context.setGlobalContextManager(manager.enable());
});
afterAll(() => {
  context.disable();
});

describe('OpenTelemetry traces', () => {
  it('one span per dependency call, a child of the caller’s span, with an event per retry and per boundary', async () => {
    const clock = new FakeClock();
    const wall = createWall({ service: 'shop', clock, drift: false, sinks: [openTelemetryTraces({ tracer, service: 'shop' })] });
    const pay = wall.dependency('payments', { timeout: '100ms', retry: { attempts: 3, backoff: 0, budget: false } });
    const recs = wall.dependency('recs', { criticality: 'optional', fallback: [], timeout: '50ms' });
    exporter.reset();
    let n = 0;
    await tracer.startActiveSpan('POST /checkout', async (request) => {
      await pay.call(() => (++n < 3 ? Promise.reject(new Error('503')) : Promise.resolve('ok')));
      await recs.call(() => Promise.reject(new Error('down')));
      request.end();
    });
    const spans = exporter.getFinishedSpans();
    const req = spans.find((s) => s.name === 'POST /checkout')!;
    const payments = spans.find((s) => s.name === 'payments call')!;
    expect(payments.parentSpanContext?.spanId).toBe(req.spanContext().spanId);
    expect(payments.attributes).toMatchObject({ 'blastwall.dependency': 'payments', 'blastwall.outcome': 'success', 'blastwall.attempts': 3, 'blastwall.criticality': 'core' });
    expect(payments.events.map((e) => e.name)).toEqual(['blastwall.retry', 'blastwall.retry']);
    const r = spans.find((s) => s.name === 'recs call')!;
    expect(r.attributes['blastwall.outcome']).toBe('failure');
    expect(r.status.code).toBe(2); // ERROR
    // the fallback the caller got is on the caller's span
    expect(req.events.map((e) => e.name)).toContain('blastwall.served_fallback');
    await wall.close();
  });

  it('a breaker rejection and a timeout are events on the call span', async () => {
    const clock = new FakeClock();
    const wall = createWall({ service: 'shop', clock, drift: false, sinks: [openTelemetryTraces({ tracer })] });
    const dep = wall.dependency('payments', { timeout: '100ms', breaker: { failureRate: 0.5, minimumCalls: 2, window: '10s', halfOpenAfter: '5s' } });
    exporter.reset();
    const hang = (ctx: { signal: AbortSignal }) => new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true }));
    for (let i = 0; i < 2; i++) {
      const p = dep.call(hang).catch(() => undefined);
      await clock.advance(150);
      await p;
    }
    await dep.call(() => 'ok').catch(() => undefined);
    const events = exporter.getFinishedSpans().map((s) => s.events.map((e) => e.name).join(','));
    expect(events).toEqual(['blastwall.timeout', 'blastwall.timeout', 'blastwall.breaker_rejected']);
    await wall.close();
  });
});
