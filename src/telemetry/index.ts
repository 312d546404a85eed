/**
 * `blastwall/telemetry`: the Prometheus and OpenTelemetry exporters the wall loads when
 * `createWall({ telemetry })` asks for them, and the metric names and latency buckets they use.
 * @module
 */
export { LATENCY_BUCKETS, METRIC_NAMES } from './names.js';
export { OpenTelemetryExporter } from './otel.js';
export { PrometheusExporter } from './prometheus.js';
export type { AnswerSource, DependencyView, TelemetrySink } from './sink.js';
export { openTelemetryTraces, type TracesOptions } from './traces.js';
