/**
 * Guarded changes: after a configuration change (or a deploy), the touched dependencies' and operations'
 * signals are compared with the window before it; when they worsen beyond the bounds, the guard says so
 * with the figures (the wall then rolls the change back, or — for a deploy — records the observation).
 */
import { durationOption, type Duration } from '../core/duration.js';
import { configError, isPlainObject, numberOption, objectOption, ratioOption } from '../core/validate.js';

/** One subject's signals over a window: a dependency (calls, errors, health) or an operation (runs, failed, shed, degraded). */
export interface SubjectSignals {
  subject: string;
  calls: number;
  /** Failed share of calls (dependency errors; an operation's failed runs). */
  errorRatio: number;
  /** Shed share (operations). */
  shedRatio: number;
  /** Degraded share (operations: answered by fallback or stale cache). */
  degradedRatio: number;
  /** Health severity (0 healthy … 5 unavailable), dependencies only. */
  severity: number;
  state?: string;
}

export interface RollbackBounds {
  /** A subject's error ratio after the change may not exceed `increase ×` the ratio before (and `before + floor`). Default 2. */
  increase?: number;
  /** Absolute rise in error/shed ratio tolerated whatever the factor says. Default 0.05. */
  floor?: number;
  /** Calls needed after the change before ratios are judged. Default 20. */
  minCalls?: number;
  /** Roll back when a touched dependency's health gets worse (to degraded or beyond). Default true. */
  health?: boolean;
}

export interface GuardOptions {
  /** How long the change is watched. */
  for: Duration;
  /** Bounds, or a function of (before, after) that returns a reason to roll back, or false. */
  rollbackIf?: RollbackBounds | ((before: readonly SubjectSignals[], after: readonly SubjectSignals[]) => string | false);
}

export interface ParsedGuard {
  forMs: number;
  judge: (before: readonly SubjectSignals[], after: readonly SubjectSignals[]) => string | false;
}

const pct = (x: number): string => `${Math.round(x * 1000) / 10}%`;

/** The default judgement: error or shed ratio up by `increase ×` (and at least `floor`), or health worse. */
export function boundsJudge(b: Required<RollbackBounds>): ParsedGuard['judge'] {
  return (before, after) => {
    const reasons: string[] = [];
    for (const a of after) {
      const p = before.find((x) => x.subject === a.subject);
      if (p === undefined) continue;
      if (a.calls >= b.minCalls) {
        if (a.errorRatio > Math.max(p.errorRatio * b.increase, p.errorRatio + b.floor)) {
          reasons.push(`error ratio of ${a.subject} ${pct(p.errorRatio)} → ${pct(a.errorRatio)} (${a.calls} calls)`);
        }
        if (a.shedRatio > p.shedRatio + b.floor) reasons.push(`shed ratio of ${a.subject} ${pct(p.shedRatio)} → ${pct(a.shedRatio)}`);
      }
      if (b.health && a.severity > p.severity && a.severity >= 3) reasons.push(`${a.subject} ${p.state ?? 'healthy'} → ${a.state ?? '?'}`);
    }
    return reasons.length === 0 ? false : reasons.join('; ');
  };
}

/** Validates `guard` (CONFIG_INVALID naming the field). */
export function parseGuard(field: string, value: unknown): ParsedGuard {
  const o = objectOption(field, value, ['for', 'rollbackIf']);
  const forMs = durationOption(`${field}.for`, o.for, 1, 2 ** 31 - 1);
  if (typeof o.rollbackIf === 'function') {
    const fn = o.rollbackIf as (b: readonly SubjectSignals[], a: readonly SubjectSignals[]) => unknown;
    return {
      forMs,
      judge: (b, a) => {
        try {
          const r = fn(b, a);
          return typeof r === 'string' && r.length > 0 ? r : false;
        } catch (err) {
          // a broken judge must not keep a bad change: rolling back is the safe side
          return `the rollbackIf function threw (${String(err)})`;
        }
      },
    };
  }
  if (o.rollbackIf !== undefined && !isPlainObject(o.rollbackIf)) throw configError(`${field}.rollbackIf`, 'an object of bounds or a function', o.rollbackIf);
  const r = objectOption(`${field}.rollbackIf`, o.rollbackIf, ['increase', 'floor', 'minCalls', 'health']);
  return {
    forMs,
    judge: boundsJudge({
      increase: r.increase === undefined ? 2 : numberOption(`${field}.rollbackIf.increase`, r.increase, 1),
      floor: r.floor === undefined ? 0.05 : ratioOption(`${field}.rollbackIf.floor`, r.floor, true),
      minCalls: r.minCalls === undefined ? 20 : numberOption(`${field}.rollbackIf.minCalls`, r.minCalls, 1),
      health: r.health === undefined ? true : r.health === true,
    }),
  };
}

/** One line comparing before and after, for the timeline ("payments: error ratio 0.4% → 31.0% (212 calls)"). */
export function describeSignals(before: readonly SubjectSignals[], after: readonly SubjectSignals[]): string {
  return after
    .map((a) => {
      const b = before.find((x) => x.subject === a.subject);
      return `${a.subject}: error ratio ${pct(b?.errorRatio ?? 0)} → ${pct(a.errorRatio)} over ${a.calls} calls${a.state !== undefined ? `, ${b?.state ?? '?'} → ${a.state}` : ''}`;
    })
    .join('; ');
}
