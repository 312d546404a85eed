import type { Clock } from '../core/clock.js';
import type { BlastwallError, ErrorCode } from '../core/errors.js';
import type { DeadlineScheduler } from '../core/scheduler.js';
import type { CallKind } from '../health/rolling.js';
import type { Source } from './call-types.js';
import type { Dependency } from './dependency.js';

/** Hooks the wall gives each dependency: telemetry and events, called only when someone listens. */
export interface DependencyHost {
  readonly clock: Clock;
  /** The wall's own deadline scheduler: closing the wall ends its pending calls, not other walls'. */
  readonly scheduler: DeadlineScheduler;
  /** Non-null only when a telemetry exporter is enabled. */
  telemetry: TelemetrySink | undefined;
  onBreakerChange(dep: Dependency, from: string, to: string, reason: string): void;
  onDeferredDead(dep: Dependency, id: number, error: BlastwallError): void;
  onQuarantine(dep: Dependency): void;
  isClosed(): boolean;
}

export interface TelemetrySink {
  /** One finished call. `code` is set when the call failed or was refused. */
  call(dep: Dependency, kind: CallKind, source: Source, durationMs: number, attempts: number, code: ErrorCode | undefined): void;
  /** A failed call answered from the cache or the fallback. */
  served(dep: Dependency, source: Source): void;
}
