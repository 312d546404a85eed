import type { Clock } from '../core/clock.js';
import { durationOption, type Duration } from '../core/duration.js';
import { BlastwallError } from '../core/errors.js';
import { configError, enumOption, objectOption, ratioOption, stringOption } from '../core/validate.js';
import type { SourceLocation } from './source.js';
import { CallKind, RollingStats } from '../health/rolling.js';
import { type Priority, PRIORITIES, type OperationContext, operationStorage } from '../core/operation-context.js';

/**
 * The declaration of an operation, passed to `wall.operation(name, spec)`. Every field is optional; an
 * unknown or invalid field throws `CONFIG_INVALID` naming it.
 */
export interface OperationSpec {
  /**
   * The operation's priority class: its calls wait ahead of lower classes at a dependency's concurrency
   * limit, and lower classes are shed first under overload. Default `critical`. `priority` and `deadline`
   * can be changed at run time (`wall.configure`).
   */
  priority?: Priority;
  /**
   * The longest this operation may take, end to end: every dependency call inside a run is cut off when it
   * passes (`DEADLINE_EXCEEDED`), and retries that would not fit are not started. Default: none.
   */
  deadline?: Duration;
  /** Availability objective, the share of runs that should succeed (> 0 and ≤ 1): multi-window burn-rate alerts are raised against it. */
  slo?: { availability: number };
  /** The business capability this operation serves ("customers can pay"): shown first on the page. */
  capability?: string;
  /** Who owns this operation, and where its runbook is. */
  owner?: string;
  /** Where the operation's runbook is (a URL or a repository path): shown on the page and in alerts. */
  runbook?: string;
}

/** Per-run options of {@link Operation.run}. */
export interface RunOptions {
  /** Remaining time granted by the caller (e.g. from a deadline header); the smaller of this and the operation's deadline wins. */
  deadlineMs?: number;
  /** This run's priority class when it differs from the operation's (e.g. a trusted priority header). */
  priority?: Priority;
  /** The request's idempotency key (e.g. from an `Idempotency-Key` header), readable in the run as `currentOperation().idempotencyKey`. */
  idempotencyKey?: string;
}

/**
 * A declared operation: a unit of work the service does for a caller (a route, a job), with a priority
 * class and a deadline. Run the work with {@link Operation.run}; every dependency call made inside it is
 * capped by its deadline, waits by its priority, and is recorded as an edge of the topology. Declare it once
 * with `wall.operation(name, spec)` and keep the handle.
 *
 * @example
 * ```ts
 * const search = wall.operation('search', { priority: 'sheddable', deadline: '1.5s', owner: 'team-search' });
 *
 * app.get('/search', async (req, res) => {
 *   const hits = await search.run(() => searchIndex.call(({ signal }) => queryIndex(req.query.q, signal)));
 *   res.json(hits);
 * });
 * ```
 */
export class Operation {
  readonly priority!: Priority;
  readonly deadlineMs!: number;
  /** Dependencies this operation has been seen calling. */
  readonly edges = new Set<string>();
  /** Cumulative outcomes of settled runs (the wall reports the change per health interval as impact). */
  readonly counts = { requests: 0, failed: 0, degraded: 0, shed: 0 };
  readonly failureCodes = new Map<string, number>();
  /** Runs started and not yet settled (for `wall.drain`). */
  inFlight = 0;
  /** @internal Counts at the last impact report. */
  reported = { requests: 0, failed: 0, degraded: 0, shed: 0 };
  readonly availability: number | undefined;
  readonly capability: string | undefined;
  readonly owner: string | undefined;
  readonly runbook: string | undefined;
  /** Where it was declared (set by the wall; for audit findings). */
  source: SourceLocation | undefined;
  /** Rolling latency and outcome signals of this operation's runs (for drift detection and health). */
  readonly stats = new RollingStats(60_000);

  constructor(
    readonly name: string,
    spec: OperationSpec,
    private readonly clock: Clock,
    /** The wall's admission gate: while it is draining, new runs are refused (503 with Retry-After over HTTP). */
    private readonly gate: { readonly draining: boolean } = { draining: false },
  ) {
    const o = objectOption(`operation '${name}'`, spec, ['priority', 'deadline', 'slo', 'capability', 'owner', 'runbook']);
    this.capability = o.capability === undefined ? undefined : stringOption(`${name}.capability`, o.capability);
    this.owner = o.owner === undefined ? undefined : stringOption(`${name}.owner`, o.owner);
    this.runbook = o.runbook === undefined ? undefined : stringOption(`${name}.runbook`, o.runbook);
    if (o.slo !== undefined) {
      const slo = objectOption(`${name}.slo`, o.slo, ['availability']);
      this.availability = ratioOption(`${name}.slo.availability`, slo.availability);
    }
    this.reconfigure({ priority: o.priority, deadline: o.deadline });
  }

  /**
   * Live configuration: a new priority and deadline, checked as at declaration (`CONFIG_INVALID` naming the
   * field, nothing changed). Runs already started keep the deadline they started with.
   */
  reconfigure(spec: { priority?: unknown; deadline?: unknown }): void {
    Object.assign(this, operationBoundaries(this.name, spec));
  }

  private failedWith(code: string): void {
    this.counts.requests++;
    if (code === 'SHED') this.counts.shed++;
    else this.counts.failed++;
    this.failureCodes.set(code, (this.failureCodes.get(code) ?? 0) + 1);
  }

  /**
   * Runs `fn` inside this operation: every dependency call made within it (through async code too) is
   * capped by the operation's deadline and recorded as an edge. Work whose deadline already passed is
   * not started (`DEADLINE_EXCEEDED`).
   */
  run<T>(fn: () => T | Promise<T>, options: RunOptions = {}): Promise<T> {
    let budget = this.deadlineMs;
    if (options.deadlineMs !== undefined) {
      if (typeof options.deadlineMs !== 'number' || Number.isNaN(options.deadlineMs)) {
        return Promise.reject(configError('deadlineMs', 'a number of milliseconds', options.deadlineMs));
      }
      budget = Math.min(budget, options.deadlineMs);
    }
    // requests are counted when they settle, like their failures, so an interval's impact never shows more
    // failures than requests (a request that started in one interval and failed in the next)
    if (budget <= 0) {
      this.failedWith('DEADLINE_EXCEEDED');
      return Promise.reject(new BlastwallError('DEADLINE_EXCEEDED', `Operation '${this.name}' arrived with no time left; not started`));
    }
    if (options.priority !== undefined && !(PRIORITIES as readonly string[]).includes(options.priority)) {
      return Promise.reject(configError('priority', `one of ${PRIORITIES.map((p) => `'${p}'`).join(', ')}`, options.priority));
    }
    if (this.gate.draining) {
      return Promise.reject(new BlastwallError('CLOSED', `The service is draining: '${this.name}' is not started`, { retryable: true, retryAfterMs: 5000 }));
    }
    const edges = new Set<string>();
    const ctx: OperationContext = {
      operation: this.name,
      priority: options.priority ?? this.priority,
      deadline: this.clock.now() + budget,
      idempotencyKey: options.idempotencyKey,
      edges,
      degraded: false,
    };
    const started = this.clock.now();
    this.inFlight++;
    return operationStorage.run(ctx, async () => {
      try {
        const value = await fn();
        this.counts.requests++;
        if (ctx.degraded) this.counts.degraded++;
        const now = this.clock.now();
        this.stats.record(now, CallKind.Success, now - started, 0, false);
        if (ctx.degraded) this.stats.recordFallback(now);
        return value;
      } catch (err) {
        this.failedWith(err instanceof BlastwallError ? err.code : 'ERROR');
        const now = this.clock.now();
        this.stats.record(now, CallKind.Failure, now - started, 0, false);
        throw err;
      } finally {
        this.inFlight--;
        for (const e of edges) this.edges.add(e);
      }
    });
  }
}

/** An operation's priority and deadline, checked as at declaration (`CONFIG_INVALID` naming the field). */
export function operationBoundaries(name: string, spec: { priority?: unknown; deadline?: unknown }): { priority: Priority; deadlineMs: number } {
  return {
    priority: spec.priority === undefined ? 'critical' : enumOption(`${name}.priority`, spec.priority, PRIORITIES),
    deadlineMs: spec.deadline === undefined ? Number.POSITIVE_INFINITY : durationOption(`${name}.deadline`, spec.deadline),
  };
}

/** Counts of an operation's settled runs (cumulative since the wall started), as reported in the topology. */
export interface OperationImpact {
  /** Runs that settled, successful or not. */
  requests: number;
  /** Runs that rejected, except those shed. */
  failed: number;
  /** Runs that succeeded with a degraded answer (an optional dependency answered with a fallback or a stale value). */
  degraded: number;
  /** Runs refused by admission control under overload (`SHED`). */
  shed: number;
}
