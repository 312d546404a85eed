/**
 * Runs a drill: opens the target, checks every name against it before any load is sent, sends the
 * open-loop load (bounded in count and time), applies the fault schedule, samples health and mode, waits
 * for answers (bounded), checks the invariants and returns the result. Time comes from the clock: the real
 * one for real drills; a `FakeClock` is advanced by the runner itself, so tests never sleep.
 */
import { type Clock, type TimerHandle, realClock } from '../core/clock.js';
import { type Timeline, createTimeline } from '../timeline/index.js';
import { type Drill, type DrillRequest, type Priority, checkAgainstTarget } from './drill.js';
import { scheduleFaults } from './fault-schedule.js';
import { TICK_MS, pick, warmUp } from './load.js';
import { DrillObservation } from './observe.js';
import { seededRandom } from './random.js';
import { type TargetHandle, openInProcess, openUrl } from './target.js';

/** A running drill's figures so far, as `onProgress` receives them (about once a second). */
export interface DrillProgress {
  /** The drill's name. */
  drill: string;
  /** Elapsed and planned load time (ms). */
  elapsedMs: number;
  durationMs: number;
  /** Requests sent so far (a naive client's re-sends not counted apart). */
  sent: number;
  /** Requests answered successfully. */
  ok: number;
  /** Requests failed (including those dropped beyond `maxInflight`). */
  failed: number;
  /** Requests waiting for their answer now. */
  inflight: number;
  /** The target's mode and status at the last sample. */
  mode: string;
  status: string;
  /** Faults (and actions) active now. */
  activeFaults: number;
}

/** Options of {@link runDrill}. */
export interface RunDrillOptions {
  /**
   * The drill's clock. Default the real clock (a real drill takes its real duration). A `FakeClock` (one
   * with `advance`) is advanced by the runner itself, so a drill in a unit test runs without sleeping.
   */
  clock?: Clock & {
    /** Moves the clock `ms` forward, firing the timers due, and resolves once they ran (as `FakeClock.advance`). */
    advance?(ms: number): Promise<void>;
  };
  /** The drill's timeline (SQLite path, or ':memory:'). Default ':memory:'. */
  timelinePath?: string;
  /**
   * Multiplies the load duration and the fault schedule, in (0, 1] (e.g. 0.5 for `--short`); invariant
   * windows stay, and the load still lasts long enough to observe them. Ignored for a drill with
   * `fixedTiming`. Default 1.
   */
  timeScale?: number;
  /** Called about once a second. */
  onProgress?: (p: DrillProgress) => void;
}

/** One invariant's verdict in a {@link DrillResult}. */
export interface InvariantOutcome {
  /** The invariant's statement. */
  name: string;
  pass: boolean;
  /** What was observed, for people: `0.987 (1,974 of 2,000)`. */
  observed: string;
  /** The measured figure (ms for durations), or null when nothing could be measured. */
  value: number | null;
}

/**
 * What `runDrill` returns: the verdict of every invariant, everything observed and the drill's timeline.
 * Write it out with `writeReport` (Markdown, chart, JSON, postmortem draft) or `junitReport`.
 */
export interface DrillResult {
  /** The drill's name. */
  drill: string;
  description: string | undefined;
  /** The seed it ran with: run again with it to replay the same arrivals and faults. */
  seed: number | string;
  /** True when every invariant held. */
  passed: boolean;
  /** Start and end of the recorded load (ms on the drill's clock; the warm-up is before `startedAt`). */
  startedAt: number;
  endedAt: number;
  /** The time scale applied (1 for a full run or a drill with `fixedTiming`). */
  timeScale: number;
  invariants: InvariantOutcome[];
  observation: DrillObservation;
  /** The drill's timeline: the wall's transitions and faults, and the drill's own entries. Close it when done. */
  timeline: Timeline;
}

const SAMPLE_MS = 250;
/** How long a dependency's p99 must stay above its objective to count as a breach. */
const BREACH_MS = 1000;

function codeOf(err: unknown): string {
  const c = (err as { code?: unknown } | null)?.code;
  return typeof c === 'string' && c.length > 0 ? c : 'ERROR';
}

/** Runs `drill`; throws (before any load is sent) when the drill does not fit its target. */
export async function runDrill(drill: Drill, options: RunDrillOptions = {}): Promise<DrillResult> {
  const clock: Clock & { advance?(ms: number): Promise<void> } = options.clock ?? realClock;
  const scale = drill.fixedTiming ? 1 : (options.timeScale ?? 1);
  if (!(scale > 0 && scale <= 1)) throw new RangeError(`Expected \`timeScale\` to be in (0, 1], got ${scale}`);
  /** Awaits `p`; on a fake clock, advances it meanwhile (at most `limitMs`), so waits on timers end. */
  const drive = async <T>(p: Promise<T>, limitMs: number): Promise<T> => {
    const advance = clock.advance?.bind(clock);
    if (advance !== undefined) {
      let settled = false;
      const mark = (): void => {
        settled = true;
      };
      p.then(mark, mark);
      for (let t = 0; !settled && t <= limitMs; t += TICK_MS) await advance(TICK_MS);
    }
    return p;
  };
  const timeline = createTimeline({ path: options.timelinePath ?? ':memory:', clock, service: drill.name });
  const random = seededRandom(drill.seed);
  let target: TargetHandle;
  try {
    target =
      'app' in drill.target
        ? await openInProcess(drill.target.app, { clock, timeline, wallOptions: { clock, timeline, faults: true }, random, seed: drill.seed })
        : await openUrl(drill.target, clock);
  } catch (err) {
    timeline.close();
    throw err;
  }
  try {
    checkAgainstTarget(drill, target.dependencies, target.operations);
  } catch (err) {
    await target.close();
    timeline.close();
    throw err;
  }
  // a shortened run keeps every invariant window observable: the load lasts at least until the longest
  // "within X of fault end" window after the (scaled) last fault end
  const lastEnd = Math.max(0, ...[...drill.faults, ...drill.actions].map((f) => (f.atMs + f.forMs) * scale));
  const longestAfter = Math.max(0, ...drill.invariants.map((i) => (typeof i.refs.after === 'number' ? i.refs.after : 0)));
  const durationMs = Math.round(Math.max(drill.load.durationMs * scale, Math.min(drill.load.durationMs, lastEnd + longestAfter + 1000)));
  await drive(warmUp(drill, target, clock, random), drill.load.warmupMs + drill.load.drainMs + 1000);
  const startedAt = clock.now();
  const obs = new DrillObservation(startedAt, Object.keys(drill.load.operations));
  obs.app = target.app;
  timeline.record({ kind: 'drill', severity: 'info', title: `drill '${drill.name}' started (${drill.faults.length} fault(s), ${durationMs}ms of load)`, data: { drill: drill.name, seed: drill.seed } });

  const first = await target.health();
  obs.initial.set('mode', first.mode);
  obs.initial.set('status', first.status);
  for (const [n, d] of Object.entries(first.dependencies)) obs.initial.set(`dep:${n}`, d.state);
  const unwatch = target.watch((series, at, to, detail) => obs.transition(series, at, to, detail));
  const readAttempts = target.countAttempts();

  const timers = new Set<TimerHandle>();
  const later = (ms: number, fn: () => void): void => {
    const h = clock.setTimer(() => {
      timers.delete(h);
      fn();
    }, ms);
    timers.add(h);
  };
  const { windows, openActions, pending } = scheduleFaults({ drill, target, clock, obs, timeline, scale, later });

  // open-loop load: arrivals on schedule whatever the answers do
  let inflight = 0;
  let sent = 0;
  let okCount = 0;
  let failed = 0;
  const seqs = new Map<string, number>();
  const carry = new Map<string, number>(Object.keys(drill.load.operations).map((k) => [k, 0]));
  const unfinished = new Set<{ operation: string; priority: Priority; at: number }>();
  let idle: (() => void) | undefined;
  const launch = (operation: string, priority: Priority, clientRetries: number): void => {
    const at = clock.now();
    const seq = (seqs.get(operation) ?? 0) + 1;
    seqs.set(operation, seq);
    sent++;
    if (inflight >= drill.load.maxInflight) {
      failed++;
      obs.requests.push({ operation, priority, at, latencyMs: 0, ok: false, code: 'CLIENT_OVERFLOW', sends: 0 });
      return;
    }
    inflight++;
    const token = { operation, priority, at };
    unfinished.add(token);
    const attempt = (send: number): Promise<{ ok: boolean; code: string | undefined; sends: number }> => {
      const req: DrillRequest = { operation, priority, seq, send, random };
      return target.send(req).then(
        () => ({ ok: true, code: undefined, sends: send }),
        (err: unknown) => (send <= clientRetries ? attempt(send + 1) : { ok: false, code: codeOf(err), sends: send }),
      );
    };
    void attempt(1).then((r) => {
      if (!unfinished.delete(token)) return; // already written off as unfinished
      inflight--;
      if (r.ok) okCount++;
      else failed++;
      obs.requests.push({ operation, priority, at, latencyMs: clock.now() - at, ok: r.ok, code: r.code, sends: r.sends });
      if (inflight === 0) idle?.();
    });
  };
  const loadEnd = startedAt + durationMs;
  let lastTick = startedAt;
  let loadOver = false;
  const tick = (): void => {
    if (loadOver) return;
    const now = Math.min(clock.now(), loadEnd);
    const dt = now - lastTick;
    lastTick = now;
    for (const [op, l] of Object.entries(drill.load.operations)) {
      let c = carry.get(op)! + (l.rate * dt) / 1000;
      while (c >= 1 - 1e-9) {
        c -= 1;
        launch(op, pick(l.priorities, random()), l.clientRetries);
      }
      carry.set(op, c);
    }
    if (clock.now() < loadEnd) later(TICK_MS, tick);
  };
  later(0, tick);

  // samples: mode, status, states and each dependency's p99 against its objective
  let lastSecond = -1;
  const above = new Map<string, number>();
  let sampling: Promise<void> = Promise.resolve();
  const sample = (): void => {
    sampling = target.health().then(
      (h) => {
        const now = clock.now();
        obs.transition('mode', now, h.mode);
        obs.transition('status', now, h.status);
        for (const [n, d] of Object.entries(h.dependencies)) {
          obs.transition(`dep:${n}`, now, d.state);
          // a breach is sustained: the p99 above the objective for a whole second, not one noisy sample
          const objective = target.objectives[n];
          if (objective === undefined || obs.breaches[n] !== undefined) continue;
          if (d.p99 <= objective) above.delete(n);
          else if (!above.has(n)) above.set(n, now);
          else if (now - above.get(n)! >= BREACH_MS) obs.breaches[n] = above.get(n)!;
        }
        const second = Math.floor((now - startedAt) / 1000);
        if (second !== lastSecond) {
          lastSecond = second;
          obs.samples.push({
            t: second,
            status: h.status,
            mode: h.mode,
            states: Object.fromEntries(Object.entries(h.dependencies).map(([n, d]) => [n, d.state])),
            p99: Object.fromEntries(Object.entries(h.dependencies).map(([n, d]) => [n, d.p99])),
          });
          options.onProgress?.({
            drill: drill.name,
            elapsedMs: Math.min(durationMs, now - startedAt),
            durationMs,
            sent,
            ok: okCount,
            failed,
            inflight,
            mode: h.mode,
            status: h.status,
            activeFaults: obs.faults.filter((f) => f.endedAt === undefined).length,
          });
        }
      },
      () => undefined,
    );
    if (clock.now() < loadEnd + drill.load.drainMs) later(SAMPLE_MS, sample);
  };
  later(0, sample);

  // the load ends; answers are awaited for at most `drain`
  const done = new Promise<void>((resolve) => {
    later(durationMs, () => {
      tick(); // the arrivals due up to the end, then no more
      loadOver = true;
      const finish = (): void => {
        idle = undefined;
        resolve();
      };
      if (inflight === 0) return finish();
      idle = finish;
      later(drill.load.drainMs, finish);
    });
  });
  await drive(done, durationMs + drill.load.drainMs + 1000);
  const endedAt = clock.now();
  for (const u of unfinished) {
    failed++;
    obs.requests.push({ operation: u.operation, priority: u.priority, at: u.at, latencyMs: endedAt - u.at, ok: false, code: 'UNFINISHED', sends: 1 });
  }
  unfinished.clear();
  for (const h of timers) clock.clearTimer(h);
  for (const end of [...openActions]) end(); // an action still running ends with the drill
  timers.clear();
  await sampling;
  obs.attempts = readAttempts();
  for (const x of windows) {
    const s = x.stats();
    x.w.hits = s.hits;
    x.w.attempts = s.attempts;
    x.w.endedAt ??= endedAt;
  }
  await drive(target.clearFaults(), 10_000);
  unwatch();
  obs.endedAt = endedAt;
  obs.requests.sort((a, b) => a.at - b.at);

  const invariants: InvariantOutcome[] = [];
  for (const inv of drill.invariants) {
    const r = await drive(Promise.resolve(inv.check(obs)), 60_000);
    invariants.push({ name: inv.name, pass: r.pass, observed: r.observed, value: r.value });
    timeline.record({ kind: 'drill', severity: r.pass ? 'info' : 'critical', title: `invariant ${r.pass ? 'held' : 'FAILED'}: ${inv.name} — observed ${r.observed}`, data: { invariant: inv.name, pass: r.pass, value: r.value } });
  }
  await drive(target.close(), 60_000);
  await drive(Promise.allSettled(pending), 60_000);
  const passed = invariants.every((i) => i.pass);
  timeline.record({ kind: 'drill', severity: passed ? 'info' : 'critical', title: `drill '${drill.name}' ${passed ? 'passed' : 'failed'}: ${invariants.filter((i) => i.pass).length}/${invariants.length} invariants held`, data: { passed } });
  timeline.flush();
  return { drill: drill.name, description: drill.description, seed: drill.seed, passed, startedAt, endedAt, timeScale: scale, invariants, observation: obs, timeline };
}

