/** Latency histogram bounds, seconds. */
export const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The metric names, documented in the README and checked by the exposition test. */
export const METRIC_NAMES = {
  calls: 'blastwall_dependency_calls_total',
  attempts: 'blastwall_dependency_attempts_total',
  latency: 'blastwall_dependency_latency_seconds',
  errors: 'blastwall_dependency_errors_total',
  rejections: 'blastwall_dependency_rejections_total',
  served: 'blastwall_dependency_served_total',
  breaker: 'blastwall_dependency_breaker_state',
  health: 'blastwall_dependency_health_state',
  backlog: 'blastwall_dependency_deferred_backlog',
} as const;
