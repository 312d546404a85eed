export { LATENCY_BUCKETS, METRIC_NAMES } from './names.js';
export { OpenTelemetryExporter } from './otel.js';
export { PrometheusExporter } from './prometheus.js';
export type { AnswerSource, DependencyView, TelemetrySink } from './sink.js';
