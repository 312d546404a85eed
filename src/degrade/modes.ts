import type { Clock } from '../core/clock.js';
import { durationOption, type Duration } from '../core/duration.js';
import { Emitter } from '../core/events.js';
import { configError, enumOption, fnOption, objectOption, stringOption } from '../core/validate.js';

/**
 * The service's mode, set by hand (`wall.setMode`) or by {@link ModeRule}s. What a mode switches off is up to
 * each feature's `offIn` (by default: `degraded` switches expensive features off, `shedding` moderate and
 * expensive ones, `read-only` expensive ones); in `read-only`, `wall.guardWrite()` also throws `READ_ONLY`.
 * When several rules hold, the most restrictive mode wins (see {@link MODE_PRECEDENCE}).
 */
export type Mode = 'normal' | 'degraded' | 'read-only' | 'shedding';
/** Every {@link Mode} name; configuration and `setMode` reject any other string with `CONFIG_INVALID`. */
export const MODES: readonly Mode[] = ['normal', 'degraded', 'read-only', 'shedding'];
/** When several rules hold, the most restrictive mode wins. */
export const MODE_PRECEDENCE: Record<Mode, number> = { normal: 0, degraded: 1, shedding: 2, 'read-only': 3 };

/** What rules look at: the wall's health, plus load signals. */
export interface ModeSnapshot {
  status: 'ok' | 'degraded' | 'unavailable';
  dependencies: Record<string, { state: string; criticality: string }>;
  /** p99 event-loop delay over the last interval, ms (when measured). */
  eventLoopDelayMs?: number;
  [signal: string]: unknown;
}

/**
 * A rule that puts the service in a mode while a condition over health and load holds. Pass rules to
 * `wall.rules([...])`; they are evaluated with every health evaluation. A rule that throws counts as not
 * holding (and emits a process warning). See {@link modeRules} for ready-made rules.
 */
export interface ModeRule {
  /** Names the rule in the mode's reason (`rule '<name>'`), events, the timeline and the audit. */
  name: string;
  /** The mode the rule asks for while active; `normal` is what remains when no rule is active. */
  mode: Exclude<Mode, 'normal'>;
  /** Enter when this holds. */
  when: (s: ModeSnapshot) => boolean;
  /** Leave only when this holds (hysteresis). Default: `when` no longer holds. */
  clearWhen?: (s: ModeSnapshot) => boolean;
  /** Reason shown in events and the timeline. */
  reason?: (s: ModeSnapshot) => string;
}

/** A change of the service's mode, emitted as the wall event `{ type: 'mode', ... }` and recorded on the timeline. */
export interface ModeChange {
  /** The mode before the change. */
  from: Mode;
  /** The mode after the change. */
  to: Mode;
  /** Why: the reason given to a manual `setMode`, `rule '<name>': <rule reason>`, or why a manual mode ended. */
  reason: string;
  /** Whether an operator set the mode by hand (true) or the rules did (false). */
  manual: boolean;
  /** When the change happened, ms since the Unix epoch (the wall's clock). */
  at: number;
}

interface RuleState {
  rule: ModeRule;
  active: boolean;
  since: number;
}

/**
 * The service's mode: set by hand (optionally until a time) or by rules over health and load, with
 * hysteresis (a rule leaves only when its clear condition holds) and a minimum dwell (a rule stays active
 * at least `minDwell`), so modes do not flap. A manual mode overrides the rules until it expires or is cleared.
 */
export class ModeController {
  private rulesState: RuleState[] = [];
  private manual: { mode: Mode; reason: string; until: number } | undefined;
  private current: Mode = 'normal';
  private since: number;
  private why = 'default';
  readonly minDwellMs: number;
  readonly changes = new Emitter<ModeChange>();

  constructor(
    private readonly clock: Clock,
    options: { minDwell?: Duration } = {},
  ) {
    const o = objectOption('modes', options, ['minDwell']);
    this.minDwellMs = o.minDwell === undefined ? 30_000 : durationOption('modes.minDwell', o.minDwell, 0);
    this.since = clock.now();
  }

  get mode(): Mode {
    return this.current;
  }

  describe(): { mode: Mode; since: number; reason: string; manual: boolean; until: number | null } {
    return {
      mode: this.current,
      since: this.since,
      reason: this.why,
      manual: this.manual !== undefined,
      until: this.manual && Number.isFinite(this.manual.until) ? this.manual.until : null,
    };
  }

  /** Sets the mode by hand; with `until` it reverts to the rules at that time (checked at each evaluation). */
  set(mode: Mode, options: { reason: string; until?: Duration | Date }): void {
    enumOption('mode', mode, MODES);
    const o = objectOption('setMode options', options, ['reason', 'until']);
    const reason = stringOption('reason', o.reason);
    let until = Number.POSITIVE_INFINITY;
    if (o.until instanceof Date) until = o.until.getTime();
    else if (o.until !== undefined) until = this.clock.now() + durationOption('until', o.until);
    if (until <= this.clock.now()) throw configError('until', 'a time in the future', o.until);
    this.manual = { mode, reason, until };
    this.apply(mode, reason, true);
  }

  /** Hands the mode back to the rules. */
  clear(reason = 'manual mode cleared'): void {
    this.manual = undefined;
    this.why = reason;
    this.evaluateRules(undefined, reason);
  }

  setRules(rules: ModeRule[]): void {
    if (!Array.isArray(rules)) throw configError('rules', 'an array of rules', rules);
    rules.forEach((r, i) => {
      objectOption(`rules[${i}]`, r, ['name', 'mode', 'when', 'clearWhen', 'reason']);
      stringOption(`rules[${i}].name`, r.name);
      enumOption(`rules[${i}].mode`, r.mode, ['degraded', 'read-only', 'shedding'] as const);
      fnOption(`rules[${i}].when`, r.when);
      if (r.clearWhen !== undefined) fnOption(`rules[${i}].clearWhen`, r.clearWhen);
      if (r.reason !== undefined) fnOption(`rules[${i}].reason`, r.reason);
    });
    this.rulesState = rules.map((rule) => ({ rule, active: false, since: this.clock.now() }));
  }

  /**
   * For the audit: each rule and the (dependency, state) pairs for which it would fire, each judged on the
   * snapshot `snapshotWith(dependency, state)` builds (a throwing rule counts as not firing).
   */
  firesOn(snapshotWith: (dependency: string, state: string) => ModeSnapshot, dependencies: readonly string[] = [], states: readonly string[] = ['delayed', 'retrying', 'degraded', 'corrupt', 'unavailable']): { name: string; mode: string; firesOn: { dependency: string; state: string }[] }[] {
    return this.rulesState.map(({ rule }) => {
      const base = snapshotWith('', 'healthy');
      const deps = dependencies.length > 0 ? dependencies : Object.keys(base.dependencies);
      const firesOn: { dependency: string; state: string }[] = [];
      for (const dependency of deps) for (const state of states) if (quietly(rule.when, snapshotWith(dependency, state))) firesOn.push({ dependency, state });
      return { name: rule.name, mode: rule.mode, firesOn };
    });
  }

  get hasRules(): boolean {
    return this.rulesState.length > 0;
  }

  /** Re-evaluates the rules against a snapshot. */
  evaluate(snapshot: ModeSnapshot): Mode {
    const now = this.clock.now();
    if (this.manual !== undefined && now >= this.manual.until) {
      const reason = `manual ${this.manual.mode} expired (${this.manual.reason})`;
      this.manual = undefined;
      this.evaluateRules(snapshot, reason);
      return this.current;
    }
    this.evaluateRules(snapshot, undefined);
    return this.current;
  }

  private evaluateRules(snapshot: ModeSnapshot | undefined, reasonOverride: string | undefined): void {
    const now = this.clock.now();
    let best: { mode: Mode; reason: string } = { mode: 'normal', reason: reasonOverride ?? 'no rule holds' };
    for (const st of this.rulesState) {
      if (snapshot !== undefined) {
        const { rule } = st;
        if (!st.active) {
          if (safe(rule.when, snapshot)) {
            st.active = true;
            st.since = now;
          }
        } else if (now - st.since >= this.minDwellMs) {
          const cleared = rule.clearWhen === undefined ? !safe(rule.when, snapshot) : safe(rule.clearWhen, snapshot);
          if (cleared) {
            st.active = false;
            st.since = now;
          }
        }
      }
      if (st.active && MODE_PRECEDENCE[st.rule.mode] > MODE_PRECEDENCE[best.mode]) {
        best = { mode: st.rule.mode, reason: `rule '${st.rule.name}'${snapshot && st.rule.reason ? `: ${st.rule.reason(snapshot)}` : ''}` };
      }
    }
    if (this.manual !== undefined) return;
    if (best.mode !== this.current) this.apply(best.mode, best.reason, false);
  }

  private apply(mode: Mode, reason: string, manual: boolean): void {
    const from = this.current;
    this.why = reason;
    if (from === mode) return;
    this.current = mode;
    this.since = this.clock.now();
    this.changes.emit({ from, to: mode, reason, manual, at: this.since });
  }
}

/** A rule judged on a hypothetical snapshot: a throw is "does not fire", with no warning. */
function quietly(f: (s: ModeSnapshot) => boolean, s: ModeSnapshot): boolean {
  try {
    return f(s) === true;
  } catch {
    return false;
  }
}

function safe(f: (s: ModeSnapshot) => boolean, s: ModeSnapshot): boolean {
  try {
    return f(s) === true;
  } catch (err) {
    process.emitWarning(`blastwall: a mode rule threw: ${String(err)}`);
    return false;
  }
}

/** Ready-made rules. */
export const modeRules = {
  /** `dependency` in one of `states` → `mode` (e.g. the orders database unavailable → read-only). */
  dependency(dependency: string, states: string[], mode: ModeRule['mode']): ModeRule {
    return {
      name: `${dependency} ${states.join('|')} → ${mode}`,
      mode,
      when: (s) => states.includes(s.dependencies[dependency]?.state ?? 'healthy'),
      reason: (s) => `${dependency} is ${s.dependencies[dependency]?.state}`,
    };
  },
  /** Any core dependency in one of `states` → `mode`. */
  anyCore(states: string[], mode: ModeRule['mode']): ModeRule {
    const hit = (s: ModeSnapshot) => Object.entries(s.dependencies).find(([, d]) => d.criticality === 'core' && states.includes(d.state));
    return {
      name: `any core ${states.join('|')} → ${mode}`,
      mode,
      when: (s) => hit(s) !== undefined,
      reason: (s) => {
        const h = hit(s);
        return h ? `core dependency ${h[0]} is ${h[1].state}` : 'cleared';
      },
    };
  },
  /** Event-loop delay above `enterMs` → `mode`; leaves below `exitMs` (hysteresis). */
  eventLoopDelay(enterMs: number, exitMs: number, mode: ModeRule['mode'] = 'shedding'): ModeRule {
    if (!(exitMs < enterMs)) throw configError('eventLoopDelay exitMs', `a number below enterMs (${enterMs})`, exitMs);
    return {
      name: `event-loop delay > ${enterMs}ms → ${mode}`,
      mode,
      when: (s) => (s.eventLoopDelayMs ?? 0) > enterMs,
      clearWhen: (s) => (s.eventLoopDelayMs ?? 0) < exitMs,
      reason: (s) => `event-loop delay p99 ${Math.round(s.eventLoopDelayMs ?? 0)}ms`,
    };
  },
};
