import type { ErrorCode } from '../core/errors.js';
import type { HealthState } from '../health/classifier.js';
import type { CallKind } from '../health/rolling.js';

/** Where a caller's answer came from. */
export type AnswerSource = 'live' | 'cache' | 'fallback';

/**
 * What a telemetry sink may read of a dependency: a narrow, read-only view (the wall's `Dependency`
 * satisfies it). Sinks never call the dependency or change it.
 */
export interface DependencyView {
  readonly name: string;
  readonly criticality: 'core' | 'optional' | 'deferrable';
  /** The health classifier's current state. */
  readonly classifier: { readonly state: HealthState };
  readonly breaker: { readonly state: 'closed' | 'open' | 'half-open' | 'isolated' } | undefined;
  /** Deferred work waiting (deferrable dependencies). */
  backlog(): { readonly size: number };
}

/**
 * Receives every finished dependency call. Give sinks to the wall (`createWall({ sinks })`), or let it
 * build the Prometheus and OpenTelemetry ones (`telemetry: { prometheus, openTelemetry }`). Called on the
 * hot path: keep it cheap and never throw.
 */
export interface TelemetrySink {
  /** A dependency was declared (before its first call). */
  register?(dep: DependencyView): void;
  /** One finished call. `code` is set when the call failed or was refused. */
  call(dep: DependencyView, kind: CallKind, source: AnswerSource, durationMs: number, attempts: number, code: ErrorCode | undefined): void;
  /** A failed call answered from the cache or the fallback. */
  served(dep: DependencyView, source: AnswerSource): void;
}
