/**
 * `blastwall`: the wall, the resilience policies, degradation modes and integrity guards. Every name here is
 * chosen (no `export *`): internals stay internal. Integrations live at subpaths and load only when
 * imported: `blastwall/stores/<sqlite|redis|postgres|memory>`, `blastwall/timeline`, `blastwall/telemetry`,
 * `blastwall/drift`, `blastwall/http`, `blastwall/testing`. Importing this entry loads neither
 * better-sqlite3, prom-client nor an OpenTelemetry SDK (test/architecture/module-load.test.ts).
 */

// ---- errors, time, calls ----
export { BlastwallError, isBlastwallError, isNonRetryable, retryAfterOf, type BlastwallErrorOptions, type ErrorCode } from './core/errors.js';
export { realClock, sleep, type Clock, type TimerHandle } from './core/clock.js';
export { formatDuration, type Duration, type DurationUnit } from './core/duration.js';
export type { Listener, Subscribe } from './core/events.js';
export type { AttemptContext, AttemptFn, CallContext } from './core/context.js';
export { currentOperation, PRIORITIES, type OperationContext, type Priority } from './core/operation-context.js';

// ---- policies (plain verbs; each returns a Policy) ----
export { Pipeline, PolicyBase, pipeline, type Next, type Policy } from './core/policy.js';
// side effect: registers the fused fast path that `pipeline()` uses for the built-in policies
import './policies/fused.js';
export { TimeoutPolicy, timeout, type TimeoutEvent, type TimeoutOptions } from './policies/timeout/index.js';
export { RetryPolicy, retry, type GiveUpEvent, type RetryEvent, type RetryOptions } from './policies/retry/index.js';
export { RetryBudget, retryBudget, type RetryBudgetOptions, type RetryBudgetSnapshot } from './policies/retry/budget.js';
export { constant, exponential, type BackoffSpec, type ExponentialOptions, type Jitter, type Schedule } from './policies/retry/schedule.js';
export {
  CircuitBreakerPolicy,
  circuitBreaker,
  type BreakerSnapshot,
  type BreakerState,
  type CircuitBreakerOptions,
  type OpenSchedule,
  type StateChange,
} from './policies/circuit-breaker/index.js';
export { BulkheadPolicy, bulkhead, type BulkheadOptions, type BulkheadRejection } from './policies/concurrency/index.js';
export {
  CALL_CLASSES,
  currentCallClass,
  DEFAULT_PRIORITY,
  inBackground,
  runInBackground,
  type CallClass,
  type ConcurrencyPriorityOptions,
  type PrioritySettings,
} from './policies/concurrency/priority-lanes.js';
export { FallbackPolicy, fallback, type FallbackEvent, type FallbackOptions } from './policies/fallback/index.js';
export { FreshnessCache, cache, type CacheOptions, type CacheResult, type CacheSource, type CacheStats, type SharedCacheStore } from './policies/cache/index.js';
export { redisCacheStore, type RedisLike } from './policies/cache/redis.js';
export { ThrottlePolicy, throttle, type ThrottleOptions } from './policies/throttle/index.js';
export { AdaptiveConcurrencyPolicy, adaptiveConcurrency, type AdaptiveConcurrencyOptions } from './policies/adaptive-concurrency/index.js';
export { Gradient2Limit, type Gradient2Options } from './policies/adaptive-concurrency/gradient2.js';

// ---- the wall ----
export { Wall, createWall, type WallOptions } from './wall/wall.js';
export { Dependency } from './wall/dependency.js';
export { CRITICALITIES, type Criticality, type DependencySpec } from './wall/dependency-spec.js';
export type { CallOptions, Outcome, Source } from './wall/call-types.js';
export type { DeferReceipt } from './wall/deferred-queue.js';
export type { DependencyHealth, ServiceStatus, WallEvent, WallHealth } from './wall/events.js';
export { Operation, type OperationImpact, type OperationSpec, type RunOptions } from './wall/operation.js';
export type { StandardIssue, StandardResult, StandardSchemaV1 } from './wall/schema.js';
export type { Topology } from './wall/topology.js';
export type { TelemetryOptions } from './wall/telemetry.js';
export { watchStore, type WatchStoreOptions } from './wall/store-watch.js';
export type { DependencyView, TelemetrySink } from './telemetry/sink.js';
export type { HealthState } from './health/classifier.js';
export type { SignalTotals } from './health/rolling.js';

// ---- degradation ----
export { MODES, MODE_PRECEDENCE, modeRules, type Mode, type ModeChange, type ModeRule, type ModeSnapshot } from './degrade/modes.js';
export { type Feature, type Cost, type FeatureSpec } from './degrade/features.js';
export { partial, type PartialResult } from './degrade/partial.js';
export { readOnlyGuard, type WriteGate } from './degrade/read-only.js';
export { AdmissionController, type AdmissionSnapshot, type AdmitOptions, type Ticket } from './degrade/admission/controller.js';
export type { AdmissionOptions } from './degrade/admission/options.js';

// ---- drift (the detectors; NAB scoring and the math helpers are at blastwall/drift) ----
export { BurnRateMonitor, WORKBOOK_RULES, type BurnRateAlert, type BurnRateRule } from './drift/burn-rate.js';
export { RobustDriftDetector, type Detector, type RobustDetectorOptions } from './drift/detector.js';
export { LikelihoodDriftDetector, type LikelihoodDetectorOptions } from './drift/likelihood.js';
export { ArtimeDriftDetector, type ArtimeDetectorOptions } from './drift/artime.js';
export { DriftMonitor, type DriftAlert, type DriftMonitorOptions } from './drift/monitor.js';

// ---- integrity ----
export { Idempotency, createIdempotency, type IdempotencyOptions, type RunResult } from './integrity/idempotency.js';
export {
  IDEMPOTENCY_KEY_HEADER,
  IdempotentHttp,
  REPLAYED_HEADER,
  parseIdempotencyKey,
  type Begin,
  type HttpAnswer,
  type IdempotentHttpOptions,
  type IdempotentRequest,
  type ScopeRequest,
} from './integrity/idempotent-http.js';
export type { IdempotentNodeHandler } from './integrity/http.js';
export { INTEGRITY_METRIC_NAMES, registerIntegrityMetrics, type IntegritySources } from './integrity/metrics.js';
export {
  DurableDeferred,
  DurableQueue,
  OrderingGuard,
  OutboxRelay,
  Quarantine,
  createDurableDeferred,
  createDurableQueue,
  createOrderingGuard,
  createOutboxRelay,
  createQuarantine,
  type Delivery,
  type DurableDeferredOptions,
  type DurableQueueOptions,
  type Handler,
  type OutboxRelayOptions,
  type PollResult,
} from './integrity/queue.js';
export { Work } from './integrity/work.js';

// ---- stores (types; the stores themselves are at blastwall/stores/<kind>) ----
export type {
  ClaimInput,
  ClaimResult,
  CommitResult,
  DeadLetter,
  Effect,
  EnqueueMessage,
  Incarnation,
  IntegrityStore,
  LeasedMessage,
  OutboxMessage,
  OutboxRow,
  QuarantineItem,
  QueueStats,
  StoreKind,
  StoredResponse,
  Unit,
  VersionedWrite,
} from './stores/types.js';

// ---- timeline (types; createTimeline and postmortem are at blastwall/timeline) ----
export type { Severity, TimelineEntry, TimelineEntryInput, TimelineKind, TimelineOptions, TimelineQuery } from './timeline/index.js';

// ---- deprecated since 0.2, removed in 0.3: the same values under their new home (CHANGELOG, Changed) ----
import { expressIdempotency as expressIdempotencyAdapter, honoIdempotency as honoIdempotencyAdapter, idempotentNode as idempotentNodeAdapter, installFastifyIdempotency as installFastifyIdempotencyAdapter } from './integrity/http.js';
import { readBody as readBodyHelper } from './http/body.js';
import { MemoryStore as MemoryStoreClass } from './stores/memory/index.js';
import { SqliteStore as SqliteStoreClass } from './stores/sqlite/index.js';
import { Timeline as TimelineClass, createTimeline as createTimelineFactory, openTimeline as openTimelineFactory } from './timeline/index.js';
import { postmortem as postmortemWriter } from './timeline/postmortem.js';
import { LATENCY_BUCKETS as latencyBuckets, METRIC_NAMES as metricNames } from './telemetry/names.js';
export { memoryStore } from './stores/memory/index.js';
export { sqliteStore, type SqliteStoreOptions } from './stores/sqlite/index.js';
/** @deprecated since 0.2: `import { MemoryStore } from 'blastwall/stores/memory'`. */
export const MemoryStore = MemoryStoreClass;
/** @deprecated since 0.2: `import { MemoryStore } from 'blastwall/stores/memory'`. */
export type MemoryStore = MemoryStoreClass;
/** @deprecated since 0.2: `import { SqliteStore } from 'blastwall/stores/sqlite'`. */
export const SqliteStore = SqliteStoreClass;
/** @deprecated since 0.2: `import { SqliteStore } from 'blastwall/stores/sqlite'`. */
export type SqliteStore = SqliteStoreClass;
/** @deprecated since 0.2: `import { Timeline } from 'blastwall/timeline'`. */
export const Timeline = TimelineClass;
/** @deprecated since 0.2: `import { Timeline } from 'blastwall/timeline'`. */
export type Timeline = TimelineClass;
/** @deprecated since 0.2: `import { createTimeline } from 'blastwall/timeline'`. */
export const createTimeline = createTimelineFactory;
/** @deprecated since 0.2: `import { openTimeline } from 'blastwall/timeline'`. */
export const openTimeline = openTimelineFactory;
/** @deprecated since 0.2: `import { postmortem } from 'blastwall/timeline'`. */
export const postmortem = postmortemWriter;
/** @deprecated since 0.2: `import { idempotency } from 'blastwall/adapters/express'`. */
export const expressIdempotency = expressIdempotencyAdapter;
/** @deprecated since 0.2: `import { idempotency } from 'blastwall/adapters/hono'`. */
export const honoIdempotency = honoIdempotencyAdapter;
/** @deprecated since 0.2: `import { idempotency } from 'blastwall/adapters/node'`. */
export const idempotentNode = idempotentNodeAdapter;
/** @deprecated since 0.2: `import { idempotency } from 'blastwall/adapters/fastify'`. */
export const installFastifyIdempotency = installFastifyIdempotencyAdapter;
/** @deprecated since 0.2: read bodies with `receiveNodeBody` from 'blastwall/http' (it also bounds the wait). */
export const readBody = readBodyHelper;
/** @deprecated since 0.2: `import { METRIC_NAMES } from 'blastwall/telemetry'`. */
export const METRIC_NAMES = metricNames;
/** @deprecated since 0.2: `import { LATENCY_BUCKETS } from 'blastwall/telemetry'`. */
export const LATENCY_BUCKETS = latencyBuckets;
