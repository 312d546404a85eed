import type { Clock } from '../core/clock.js';
import type { BlastwallError } from '../core/errors.js';
import type { DeadlineScheduler } from '../core/scheduler.js';
import type { TelemetrySink } from '../telemetry/sink.js';
import type { Dependency } from './dependency.js';

// the sink interface is the telemetry floor's (it sees dependencies through a read-only view)
export type { DependencyView, TelemetrySink } from '../telemetry/sink.js';

/** Hooks the wall gives each dependency: telemetry and events, called only when someone listens. */
export interface DependencyHost {
  readonly clock: Clock;
  /** The wall's own deadline scheduler: closing the wall ends its pending calls, not other walls'. */
  readonly scheduler: DeadlineScheduler;
  /** Non-null only when a telemetry sink is attached. */
  telemetry: TelemetrySink | undefined;
  onBreakerChange(dep: Dependency, from: string, to: string, reason: string): void;
  onDeferredDead(dep: Dependency, id: number, error: BlastwallError): void;
  onQuarantine(dep: Dependency): void;
  isClosed(): boolean;
}
