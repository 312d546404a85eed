import type { SignalTotals } from './rolling.js';

/**
 * A dependency's health, judged over its rolling window against its objectives (worst first when several
 * hold): `unavailable` (breaker open, isolated or half-open, or at least 95% of calls failing),
 * `corrupt` (at least 5% of responses failing validation), `degraded` (failures plus fallbacks above the
 * availability objective's error budget), `retrying` (retries at least 10% of calls), `delayed` (p99
 * above the latency objective), else `healthy`. Ratios are judged from 10 calls in the window; a state is
 * left only below 0.8 × its threshold and after 5 s in it. (The figures are the defaults.)
 */
export type HealthState = 'healthy' | 'delayed' | 'degraded' | 'retrying' | 'unavailable' | 'corrupt';

/** Worst first: when several conditions hold, the first one names the state. */
export const SEVERITY: Record<HealthState, number> = {
  healthy: 0,
  delayed: 1,
  retrying: 2,
  degraded: 3,
  corrupt: 4,
  unavailable: 5,
};

export interface HealthObjective {
  /** p99 latency objective in ms; above it the dependency is `delayed`. */
  p99Ms: number;
  /** Availability objective (0..1); a failure ratio above 1 − availability is `degraded`. */
  availability: number;
}

export interface ClassifierOptions {
  /** Calls needed in the window before ratios are judged. Default 10. */
  minimumCalls: number;
  /** Retry ratio (retries / calls) that counts as `retrying`. Default 0.1. */
  retryRatio: number;
  /** Share of calls failing at which the dependency is `unavailable`. Default 0.95. */
  unavailableRatio: number;
  /** Share of responses failing validation at which the dependency is `corrupt`. Default 0.05. */
  corruptRatio: number;
  /** Leaving a state needs its signal below `exitFactor × threshold` (hysteresis). Default 0.8. */
  exitFactor: number;
  /** A state is held at least this long before it improves (ms). Default 5000. */
  minDwellMs: number;
}

export const DEFAULT_CLASSIFIER: ClassifierOptions = {
  minimumCalls: 10,
  retryRatio: 0.1,
  unavailableRatio: 0.95,
  corruptRatio: 0.05,
  exitFactor: 0.8,
  minDwellMs: 5000,
};

export interface Verdict {
  state: HealthState;
  reason: string;
}

export interface HealthInput {
  totals: SignalTotals;
  breaker: 'closed' | 'open' | 'half-open' | 'isolated' | undefined;
}

function pct(x: number): string {
  return `${Math.round(x * 1000) / 10}%`;
}

/**
 * Judges one state's condition. `factor` is 1 to enter and `exitFactor` to stay: a state is kept while its
 * signal stays above the lower exit threshold, so a signal hovering at the threshold does not flap.
 */
function holds(state: HealthState, input: HealthInput, obj: HealthObjective, o: ClassifierOptions, factor: number): string | undefined {
  const t = input.totals;
  const judged = t.calls - t.rejected;
  switch (state) {
    case 'unavailable': {
      // half-open counts as unavailable until its probes prove the dependency is back
      if (input.breaker === 'open' || input.breaker === 'isolated') return `circuit breaker ${input.breaker}`;
      if (input.breaker === 'half-open') return 'circuit breaker half-open: probing';
      if (judged < o.minimumCalls) return undefined;
      // a dependency that answers, even with nothing but invalid responses, is corrupt, not unavailable
      const r = t.failures / judged;
      return r >= o.unavailableRatio * factor ? `${pct(r)} of ${judged} calls failing` : undefined;
    }
    case 'corrupt': {
      if (judged < o.minimumCalls || t.invalid === 0) return undefined;
      const r = t.invalid / judged;
      return r >= o.corruptRatio * factor ? `${pct(r)} of responses failed validation (${t.invalid} of ${judged})` : undefined;
    }
    case 'degraded': {
      if (t.calls < o.minimumCalls) return undefined;
      const bad = t.failures + t.fallbacks;
      const r = Math.min(1, bad / t.calls);
      const limit = Math.max(1 - obj.availability, 1e-6);
      return r > limit * factor
        ? `${pct(r)} of calls failed or were served by fallback (objective ≤ ${pct(limit)})`
        : undefined;
    }
    case 'retrying': {
      if (judged < o.minimumCalls) return undefined;
      const r = t.retries / judged;
      return r >= o.retryRatio * factor ? `retry ratio ${pct(r)} (${t.retries} retries over ${judged} calls)` : undefined;
    }
    case 'delayed': {
      if (!(t.p99 > 0) || t.successes + t.failures < o.minimumCalls) return undefined;
      return t.p99 > obj.p99Ms * factor ? `p99 ${Math.round(t.p99)}ms above the ${obj.p99Ms}ms objective` : undefined;
    }
    case 'healthy':
      return 'all signals within objectives';
  }
}

const ORDER: HealthState[] = ['unavailable', 'corrupt', 'degraded', 'retrying', 'delayed'];

/**
 * Health state of one dependency with hysteresis: a worse state is entered as soon as its condition
 * holds; the current state is left only when its condition no longer holds even at the relaxed exit
 * threshold and it has been held for `minDwellMs`.
 */
export class HealthClassifier {
  state: HealthState = 'healthy';
  since: number;
  reason = 'no calls yet';

  constructor(
    private readonly objective: HealthObjective,
    private readonly options: ClassifierOptions,
    now: number,
  ) {
    this.since = now;
  }

  /** Re-evaluates; returns the previous state when it changed, otherwise undefined. */
  evaluate(input: HealthInput, now: number): HealthState | undefined {
    let candidate: Verdict = { state: 'healthy', reason: 'all signals within objectives' };
    for (const s of ORDER) {
      const r = holds(s, input, this.objective, this.options, 1);
      if (r !== undefined) {
        candidate = { state: s, reason: r };
        break;
      }
    }
    const cur = this.state;
    if (SEVERITY[candidate.state] > SEVERITY[cur]) return this.move(candidate, now);
    if (candidate.state === cur) {
      this.reason = candidate.reason;
      return undefined;
    }
    // candidate is better than the current state: keep the current one while it still holds at its exit
    // threshold, or while the dwell has not passed (the breaker is exact: no hysteresis on it)
    if (cur !== 'healthy') {
      const still = holds(cur, input, this.objective, this.options, this.options.exitFactor);
      if (still !== undefined) {
        this.reason = still;
        return undefined;
      }
      if (now - this.since < this.options.minDwellMs) return undefined;
    }
    return this.move(candidate, now);
  }

  private move(v: Verdict, now: number): HealthState {
    const prev = this.state;
    this.state = v.state;
    this.reason = v.reason;
    this.since = now;
    return prev;
  }
}
