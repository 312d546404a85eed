/**
 * How a dependency records the result of each call: its cumulative counters, its rolling health signals
 * and the telemetry sink. A failure becomes the `BlastwallError` the caller sees, always naming the
 * dependency, and counts as rejected (a boundary refused the call) or failed. The recorder is also the
 * response guard's hooks (`ok`, `error`, `quarantined`).
 */
import type { CallContext } from '../core/context.js';
import { BlastwallError, type ErrorCode } from '../core/errors.js';
import { CallKind, type RollingStats } from '../health/rolling.js';
import type { Dependency } from './dependency.js';
import type { DependencyHost } from './host.js';
import { hasTimeoutCause, type ResponseGuardHooks } from './response-guard.js';

/** Outcome kind → how it counts for health, for telemetry. */
const REJECTED: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'CIRCUIT_OPEN',
  'BULKHEAD_FULL',
  'QUEUE_TIMEOUT',
  'SHED',
  'THROTTLED',
  'PAYLOAD_TOO_LARGE',
  'ABORTED',
  'READ_ONLY',
  'QUEUE_FULL',
  // a user callback's bug (isFailure, measure, validate, ...) is not the dependency failing
  'CALLBACK_FAILED',
]);

/** Records each finished call of one dependency. */
export class CallResults implements ResponseGuardHooks {
  constructor(
    private readonly dep: Dependency,
    /** The dependency's cumulative counters (`dependency.counters`), counted here. */
    private readonly counters: { calls: number; ok: number; bad: number; quarantined: number },
    private readonly stats: RollingStats,
    private readonly host: DependencyHost,
  ) {}

  /** Records a success. */
  ok(ctx: CallContext): void {
    const now = this.host.clock.now();
    const dur = now - ctx.startedAt;
    this.counters.calls++;
    this.counters.ok++;
    this.stats.record(now, CallKind.Success, dur, ctx.retries, false);
    const t = this.host.telemetry;
    if (t !== undefined) t.call(this.dep, CallKind.Success, 'live', dur, ctx.attempt || 1, undefined);
  }

  /** Records a failed call and returns the error the caller sees (always a BlastwallError naming this dependency). */
  error(ctx: CallContext, e: unknown, kindOverride?: CallKind): BlastwallError {
    const name = this.dep.name;
    let err: BlastwallError;
    if (e instanceof BlastwallError && (e.dependency === name || e.dependency === undefined)) {
      err = e.dependency === name ? e : e.withDependency(name);
    } else {
      // a plain error, or another dependency's error surfacing through this one's function
      err = new BlastwallError('DEPENDENCY_FAILED', `${name} failed: ${e instanceof Error ? e.message : String(e)}`, {
        dependency: name,
        cause: e,
      });
    }
    const kind = kindOverride ?? (REJECTED.has(err.code) ? CallKind.Rejected : CallKind.Failure);
    const now = this.host.clock.now();
    const dur = now - ctx.startedAt;
    this.counters.calls++;
    if (err.code !== 'ABORTED') this.counters.bad++;
    this.stats.record(now, kind, dur, ctx.retries, err.code === 'TIMEOUT' || err.code === 'DEADLINE_EXCEEDED' || hasTimeoutCause(err));
    const t = this.host.telemetry;
    if (t !== undefined) t.call(this.dep, kind, 'live', dur, ctx.attempt || 1, err.code);
    return err;
  }

  /** A response failed validation (after the quarantine hook ran). */
  quarantined(): void {
    this.counters.quarantined++;
    this.host.onQuarantine(this.dep);
  }
}
