import type { HealthState } from '../health/classifier.js';
import type { SignalTotals } from '../health/rolling.js';
import type { Mode, ModeChange } from '../degrade/modes.js';
import type { Criticality } from './dependency-spec.js';
import type { FaultEvent } from '../chaos/injector.js';
import type { CapabilityChange } from './capabilities.js';

/** The service status that follows from its dependencies' health and criticality. */
export type ServiceStatus = 'ok' | 'degraded' | 'unavailable';

/** One dependency's entry in {@link WallHealth}: its health state, why, and the signals it was judged on. */
export interface DependencyHealth {
  /** The health state now, judged from the signals over the dependency's health window (default 60s). */
  state: HealthState;
  /** When the dependency entered `state`, ms since the Unix epoch (the wall's clock). */
  since: number;
  /** Why it is in `state`, for people (e.g. which rate crossed which threshold). */
  reason: string;
  /** The dependency's declared criticality, which decides how its state affects the service `status`. */
  criticality: Criticality;
  /** Its circuit breaker's state (`closed`, `open`, `half-open`, `isolated`), or undefined without a breaker. */
  breaker: string | undefined;
  /**
   * Counts and latency percentiles (ms) over the health window; for a `deferrable` dependency also the
   * `backlog` (items waiting, in memory and in attached durable queues) and the age of the oldest (ms).
   */
  signals: SignalTotals & { backlog?: number; oldestDeferredAgeMs?: number };
}

/** What `wall.health()` returns: the service's status and mode, and each dependency's health. Evaluated on each read. */
export interface WallHealth {
  /** The service name given to `createWall`. */
  service: string;
  /** `ok`, `degraded` or `unavailable`, following from the dependencies' states and criticality. */
  status: ServiceStatus;
  /** The service's mode now (`normal` unless set by hand or by rules). */
  mode: Mode;
  /** When this was evaluated, ms since the Unix epoch (the wall's clock). */
  at: number;
  /** Each declared dependency's health, by name. */
  dependencies: Record<string, DependencyHealth>;
}

/** Everything the wall reports: to `onEvent` listeners, and (except per-item dead letters) to the timeline. */
export type WallEvent =
  | {
      type: 'health';
      at: number;
      dependency: string;
      criticality: Criticality;
      from: HealthState;
      to: HealthState;
      reason: string;
    }
  | { type: 'breaker'; at: number; dependency: string; from: string; to: string; reason: string }
  | { type: 'deferred-dead'; at: number; dependency: string; id: number; code: string; message: string }
  | { type: 'quarantine'; at: number; dependency: string }
  | { type: 'status'; at: number; from: ServiceStatus; to: ServiceStatus; reason: string }
  | ({ type: 'mode' } & ModeChange)
  | { type: 'feature'; at: number; feature: string; state: 'on' | 'off' | 'auto'; reason: string }
  | {
      type: 'drift';
      at: number;
      state: 'raised' | 'cleared';
      /** The dependency or the operation whose signal drifted. */
      dependency?: string;
      operation?: string;
      signal: string;
      onset: number;
      baseline: number;
      level: number;
    }
  | { type: 'burn-rate'; at: number; state: 'raised' | 'cleared'; objective: string; rule: string; severity: 'page' | 'ticket'; longBurn: number; shortBurn: number }
  | { type: 'incident'; at: number; lead: string; title: string }
  | CapabilityChange
  | { type: 'impact'; at: number; operation: string; intervalMs: number; requests: number; failed: number; degraded: number; shed: number; codes: Record<string, number> }
  | {
      type: 'config';
      at: number;
      version: number;
      by: string;
      reason: string;
      /** The diff, one `path: from → to` per change. */
      changes: string;
      rollbackTo?: number;
      /** The wall rolled a guarded change back by itself. */
      automatic: boolean;
      guardForMs?: number;
    }
  | { type: 'config-guard'; at: number; version: number; outcome: 'kept' | 'rolled-back'; detail: string }
  | { type: 'config-refused'; at: number; source: string; error: string }
  | { type: 'drain'; at: number; state: 'started' | 'finished'; detail: string }
  | { type: 'deploy'; at: number; version: string; by: string }
  | { type: 'deploy-watch'; at: number; version: string; outcome: 'steady' | 'worse'; detail: string }
  | FaultEvent;
