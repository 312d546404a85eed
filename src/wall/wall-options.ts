import type { Clock } from '../core/clock.js';
import type { Duration } from '../core/duration.js';
import type { DriftMonitorOptions } from '../drift/monitor.js';
import type { IntegrityStore } from '../stores/types.js';
import type { TelemetrySink } from '../telemetry/sink.js';
import type { TimelineEntryInput } from '../timeline/index.js';
import type { FaultsOption } from '../chaos/wall-faults.js';
import type { TelemetryOptions } from './telemetry.js';

/**
 * Options of {@link createWall}. Only `service` is required; an unknown option or an invalid value throws
 * `CONFIG_INVALID`.
 */
export interface WallOptions {
  /** The service's name: labels metrics, telemetry, timeline entries and the health answer. */
  service: string;
  /** The clock every policy, timer and timestamp of the wall uses. Default the real clock; tests pass a `FakeClock`. */
  clock?: Clock;
  /**
   * The durable store for idempotency records, deferred work and the outbox (`sqliteStore(path)`,
   * `redisStore(url)`, `postgresStore(url)`, `memoryStore()`). The wall watches it as the `core`
   * dependency `store:<kind>` (timeout, breaker, health) and exposes the watched store as `wall.store`;
   * `wall.close()` closes it.
   */
  store?: IntegrityStore;
  /** Receives every wall event as a timeline entry (see src/timeline); `flush`, when present, runs at `close()`. */
  timeline?: {
    /**
     * Stores one entry; called synchronously for each wall event as it happens, so it should buffer rather
     * than block. A throw is reported as a process warning and never reaches the caller.
     */
    record(entry: TimelineEntryInput): unknown;
    /** Writes out buffered entries; called once by `wall.close()` (a throw is reported as a warning). The timeline stays yours to close. */
    flush?(): unknown;
  };
  /** Exporters the wall builds for you (prom-client and the OpenTelemetry API are loaded only when asked for). */
  telemetry?: TelemetryOptions;
  /** Your own telemetry sinks: each receives every finished call (see `TelemetrySink`). */
  sinks?: TelemetrySink[];
  /** How often health is re-evaluated (transition events are emitted then). Default 1s. */
  healthInterval?: Duration;
  /** How long `close()` waits for deferred work before dropping it. Default 5s. */
  closeGrace?: Duration;
  /** A mode entered by a rule is held at least this long. Default 30s. */
  modeDwell?: Duration;
  /**
   * A configuration file (JSON or YAML, docs/config.md) laid over the declared boundaries once the code after
   * `createWall` has declared them, and re-read when it changes; a bad file is refused and logged.
   */
  config?: string;
  /** Drift detection over every dependency's signals, each health interval (`false` to turn it off). */
  drift?: DriftMonitorOptions | false;
  /** Fault injection (`wall.faults`, see docs/drills.md): off unless `true` (or `{ maxDuration, seed }`) or `BLASTWALL_FAULTS=1`. */
  faults?: FaultsOption;
}

/** Every option name `createWall` accepts (an unknown one is refused with `CONFIG_INVALID`). */
export const OPTION_KEYS = ['service', 'clock', 'store', 'timeline', 'telemetry', 'healthInterval', 'closeGrace', 'modeDwell', 'drift', 'sinks', 'faults', 'config'];
