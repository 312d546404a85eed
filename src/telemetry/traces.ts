/**
 * OpenTelemetry traces: one span per dependency call, a child of whatever span is active where the call
 * was made (the user's request span, through the application's context manager), so the states on the
 * dashboard can be followed into the user's trace backend.
 *
 * The span is written when the call finishes (start time = end − duration), with the call's outcome as
 * attributes and one event per thing the boundaries did: each retry, a timeout, a breaker or concurrency
 * rejection, a budget refusal, an invalid response. When a failed call is answered from the cache or the
 * fallback, that is an event on the caller's active span. Installed as a sink, it costs nothing when not
 * used: `createWall({ sinks: [openTelemetryTraces()] })`.
 */
import { type Span, SpanStatusCode, type Tracer, trace } from '@opentelemetry/api';
import type { ErrorCode } from '../core/errors.js';
import type { CallKind } from '../health/rolling.js';
import type { AnswerSource, DependencyView, TelemetrySink } from './sink.js';

const OUTCOME = ['success', 'failure', 'rejected', 'invalid'] as const;

/** What the boundary that ended a call did, as a span event name. */
const EVENT_OF: Partial<Record<ErrorCode, string>> = {
  TIMEOUT: 'blastwall.timeout',
  CIRCUIT_OPEN: 'blastwall.breaker_rejected',
  BULKHEAD_FULL: 'blastwall.concurrency_rejected',
  QUEUE_TIMEOUT: 'blastwall.concurrency_rejected',
  RETRY_BUDGET_EXHAUSTED: 'blastwall.retry_budget_exhausted',
  DEADLINE_EXCEEDED: 'blastwall.deadline_exceeded',
  INVALID_RESPONSE: 'blastwall.invalid_response',
  SHED: 'blastwall.shed',
};

/** Options of `openTelemetryTraces`. */
export interface TracesOptions {
  /** The tracer (default: `trace.getTracer('blastwall')`, the application's registered provider). */
  tracer?: Tracer;
  /** `service.name`-like attribute on every span. */
  service?: string;
}

/** A telemetry sink writing one span per dependency call (see the file comment). */
export function openTelemetryTraces(options: TracesOptions = {}): TelemetrySink {
  const tracer = options.tracer ?? trace.getTracer('blastwall');
  return {
    call(dep: DependencyView, kind: CallKind, source: AnswerSource, durationMs: number, attempts: number, code: ErrorCode | undefined): void {
      const end = Date.now();
      const span: Span = tracer.startSpan(`${dep.name} call`, {
        startTime: end - durationMs,
        attributes: {
          'blastwall.dependency': dep.name,
          'blastwall.criticality': dep.criticality,
          'blastwall.outcome': OUTCOME[kind] ?? 'failure',
          'blastwall.attempts': attempts,
          'blastwall.source': source,
          'blastwall.breaker': dep.breaker?.state ?? 'none',
          'blastwall.health': dep.classifier.state,
          ...(options.service === undefined ? {} : { 'blastwall.service': options.service }),
          ...(code === undefined ? {} : { 'blastwall.code': code }),
        },
      });
      for (let i = 2; i <= attempts; i++) span.addEvent('blastwall.retry', { 'blastwall.attempt': i });
      const event = code === undefined ? undefined : EVENT_OF[code];
      if (event !== undefined) span.addEvent(event);
      if (kind !== 0) span.setStatus({ code: SpanStatusCode.ERROR, message: code ?? 'failed' });
      span.end(end);
    },
    served(dep: DependencyView, source: AnswerSource): void {
      trace.getActiveSpan()?.addEvent(source === 'cache' ? 'blastwall.served_from_cache' : 'blastwall.served_fallback', { 'blastwall.dependency': dep.name });
    },
  };
}
