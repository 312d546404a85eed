/**
 * `npm run bench:overload [-- flags]` — goodput under overload on two services (a slot-bound one and a
 * CPU-bound one), retry amplification, and metastable recovery, every arm in the same run: no protection,
 * cockatiel, @fastify/under-pressure, overload-protection and blastwall.
 *
 * The services run in one child process, the open-loop load generator in another; this process only
 * orchestrates and prints. Every run is bounded in time (`--duration` seconds of load plus the 1 s deadline).
 *
 * Flags (all optional):
 *   --runs N          runs per overload cell at the highest load (default 10); lower loads run min(N, 3)
 *   --services LIST   slot,cpu (default both)
 *   --loads LIST      multiples of C, e.g. 2,4 (default 2,4)
 *   --peers LIST      none,cockatiel,under-pressure,overload-protection,blastwall (default all)
 *   --duration S      seconds of load per overload run (default 15)
 *   --scenarios LIST  overload,failing,chain,metastable (default all)
 *   --write           write the tables into bench/overload.md
 *
 * Environment: OVERLOAD_PHASES=1 prints, per run, the generator's CPU and lateness, where requests spent
 * their time in the service (wire / gate / work) and each class's outcome; OVERLOAD_TRACE=1 prints the
 * admission snapshot every 100 ms; OVERLOAD_PROF=<dir> writes a --cpu-prof of the services process;
 * OVERLOAD_PIN=0 leaves the two processes unpinned (default: services on CPU 0, generator on CPU 1).
 */
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type Arm, ARMS, CLIENT_ARMS, type LoadConfig, type LoadResult, type Prio, PRIOS, SERVICES, type ServiceKind, type ServicesConfig, type ServiceStats } from './common.js';
import { CRIT, figures, OVERLOAD_HEAD, type OverloadFigures, overloadRows, pct, sum, table } from './report.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const SLOTS = 4;
const WORK_MS = 40;
const CPU_MS = 5;
const DEADLINE_MS = 1000;
/** Overload runs: seconds of load at the same rates before the measured ones, not counted (a warm service). */
const WARMUP_MS = 2000;
const META = { pre: 5, trigger: 10, post: 10 };
const FAILING_S = 10;
/** Failing and chain scenarios: a retry-budget window (10 s) of the same load first, not counted (the budget's bound holds over its sliding window). */
const FAILING_WARMUP_MS = 10_000;

interface Flags {
  runs: number;
  services: ServiceKind[];
  loads: number[];
  peers: Arm[];
  duration: number;
  scenarios: string[];
  write: boolean;
}

function list<T extends string>(flag: string, v: string | undefined, allowed: readonly T[]): T[] {
  const items = (v ?? '').split(',').filter((x) => x !== '');
  const bad = items.filter((x) => !allowed.includes(x as T));
  if (items.length === 0 || bad.length > 0) throw new Error(`${flag} expects a comma-separated list of ${allowed.join(', ')}; got ${JSON.stringify(v)}`);
  return items as T[];
}

function positive(flag: string, v: string | undefined, integer: boolean): number {
  const n = Number(v);
  if (v === undefined || !Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n)) || n > 1000) throw new Error(`${flag} expects a ${integer ? 'whole ' : ''}number between 0 and 1000; got ${JSON.stringify(v)}`);
  return n;
}

export function parseFlags(argv: string[]): Flags {
  const f: Flags = { runs: 10, services: [...SERVICES], loads: [2, 4], peers: [...ARMS], duration: 15, scenarios: ['overload', 'failing', 'chain', 'metastable'], write: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = argv[i + 1];
    switch (a) {
      case '--runs':
        f.runs = positive(a, v, true);
        i++;
        break;
      case '--services':
        f.services = list(a, v, SERVICES);
        i++;
        break;
      case '--loads':
        f.loads = (v ?? '').split(',').map((x) => positive(a, x, false));
        i++;
        break;
      case '--peers':
        f.peers = list(a, v, ARMS);
        i++;
        break;
      case '--duration':
        f.duration = positive(a, v, false);
        i++;
        break;
      case '--scenarios':
        f.scenarios = list(a, v, ['overload', 'failing', 'chain', 'metastable'] as const);
        i++;
        break;
      case '--write':
        f.write = true;
        break;
      default:
        throw new Error(`unknown flag ${JSON.stringify(a)}; see the comment at the top of bench/overload/run.ts`);
    }
  }
  return f;
}

/**
 * Compiled (`npm run bench:overload` builds with tsc into .bench-dist and runs the .js): the children run the
 * compiled code too, as a user's service runs the published package. Run from source with tsx, every closure
 * the library creates per request would pay esbuild's keep-names helper (an `Object.defineProperty` each),
 * which the peers, loaded from node_modules as plain JavaScript, do not: measured 10% of a refusal's cost.
 */
const compiled = import.meta.url.endsWith('.js');

function child(file: string): ChildProcess {
  const prof = process.env.OVERLOAD_PROF !== undefined && file === 'services.ts' ? ['--cpu-prof', `--cpu-prof-dir=${process.env.OVERLOAD_PROF}`] : [];
  const path = `${here}${compiled ? file.replace(/\.ts$/, '.js') : file}`;
  const proc = fork(path, [], { execArgv: [...(compiled ? [] : ['--import', 'tsx']), ...prof], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  // the services on CPU 0, the generator on CPU 1 (OVERLOAD_PIN=0: not pinned): left to the scheduler, the
  // generator woken by each answer was often run on the service's core, preempting it (measured: 0.81–0.89 C
  // unpinned, 0.88–0.89 C pinned for blastwall on the CPU-bound service, p99 of good answers 750 → 200 ms)
  if (process.env.OVERLOAD_PIN !== '0' && proc.pid !== undefined) {
    try {
      execFileSync('taskset', ['-a', '-p', '-c', file === 'services.ts' ? '0' : '1', String(proc.pid)], { stdio: 'ignore' });
    } catch {
      // no taskset, or one CPU: unpinned
    }
  }
  return proc;
}

function once<T>(proc: ChildProcess, type?: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMsg = (m: unknown) => {
      if (type !== undefined && (m as { type?: string }).type !== type) return;
      proc.off('message', onMsg);
      resolve(m as T);
    };
    proc.on('message', onMsg);
    proc.once('exit', (code) => reject(new Error(`child exited with ${code}`)));
  });
}

interface Outcome {
  load: LoadResult;
  stats: ServiceStats;
}

/** One bounded trial: a services process, a generator process, the generator's result, the services' stats. */
async function trial(services: ServicesConfig, load: Omit<LoadConfig, 'url' | 'epoch' | 'arm'>): Promise<Outcome> {
  const svc = child('services.ts');
  const ready = once<{ ports: { entry: number } }>(svc, 'ready');
  svc.send({ type: 'start', config: services });
  const { ports } = await ready;
  const gen = child('load.ts');
  const result = once<LoadResult>(gen);
  const epoch = Math.max(services.trigger === undefined ? Date.now() : services.trigger.at - META.pre * 1000, Date.now() + 200);
  gen.send({ ...load, arm: services.arm, url: `http://127.0.0.1:${ports.entry}`, epoch } satisfies LoadConfig);
  // the services note their counts when the warm-up ends (the failing and chain scenarios report what came after)
  const mark = load.warmupMs === undefined ? undefined : setTimeout(() => svc.send({ type: 'mark' }), epoch + load.warmupMs - Date.now());
  const loadResult = await result;
  clearTimeout(mark);
  const stats = once<{ stats: ServiceStats }>(svc, 'stats');
  svc.send({ type: 'stop' });
  return { load: loadResult, stats: (await stats).stats };
}

const zero = (): Record<Prio, number> => ({ 'critical-plus': 0, critical: 0, 'sheddable-plus': 0, sheddable: 0 });
const base = (arm: Arm, service: ServiceKind, scenario: ServicesConfig['scenario']): ServicesConfig => ({ arm, scenario, service, slots: SLOTS, workMs: WORK_MS, cpuMs: CPU_MS });
/** 20% critical (5% critical-plus, 15% critical) and 80% sheddable (20% sheddable-plus, 60% sheddable). */
const mix = (total: number): Record<Prio, number> => ({ 'critical-plus': 0.05 * total, critical: 0.15 * total, 'sheddable-plus': 0.2 * total, sheddable: 0.6 * total });

const SERVICE_LABEL: Record<ServiceKind, string> = {
  slot: `slot-bound: ${SLOTS} slots × ${WORK_MS} ms of waiting (a pool; the loop stays idle)`,
  cpu: `CPU-bound: ${CPU_MS} ms of CPU per request on the event loop`,
};

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2));
  const command = `npm run bench:overload --${process.argv.slice(2).length === 0 ? '' : ` ${process.argv.slice(2).join(' ')}`}`;
  const started = Date.now();
  const out: string[] = [];
  const say = (s: string) => {
    console.log(s);
    out.push(s);
  };
  const want = (s: string) => flags.scenarios.includes(s);
  const top = Math.max(...flags.loads);

  if (want('overload')) {
    for (const service of flags.services) {
      // capacity: closed loop against the unprotected service
      const cap = await trial(base('none', service, 'capacity'), { rates: zero(), durationMs: 3000, deadlineMs: 10_000, clientRetry: false, closedLoop: SLOTS * 3 });
      const C = cap.load.classes.critical.good / 3;
      say(`## ${SERVICE_LABEL[service]}`);
      say('');
      say(`Measured capacity C = ${C.toFixed(1)} req/s (closed loop of ${SLOTS * 3} for 3 s against the unprotected service).`);
      say('');
      for (const m of flags.loads) {
        const runs = m === top ? flags.runs : Math.min(flags.runs, 3);
        const byArm = new Map<Arm, OverloadFigures[]>(flags.peers.map((a) => [a, []]));
        for (let r = 0; r < runs; r++) {
          // arms interleaved run by run, so drift on the shared machine hits every arm alike
          for (const arm of flags.peers) {
            const t = await trial(base(arm, service, 'overload'), { rates: mix(m * C), durationMs: flags.duration * 1000, warmupMs: WARMUP_MS, deadlineMs: DEADLINE_MS, clientRetry: false });
            const f = figures(t.load, t.stats, C, flags.duration);
            byArm.get(arm)!.push(f);
            console.error(`  ${service} ${m}× run ${r + 1}/${runs} ${arm}: goodput ${f.goodputC.toFixed(2)} C, critical ${(100 * f.critical).toFixed(1)}%, p99 ${f.p99} ms, flips ${f.flips ?? '—'}`);
            if (process.env.OVERLOAD_PHASES === '1') {
              const g = t.load.generator;
              if (g !== undefined) console.error(`    generator: CPU ${(100 * g.cpuShare).toFixed(0)}%, late p50 ${g.lateP50Ms} ms, p99 ${g.lateP99Ms} ms, max ${g.lateMaxMs} ms`);
              for (const [k, v] of Object.entries(t.stats.phases ?? {})) console.error(`    ${k}: n ${v.n}, mean ${v.mean.toFixed(3)} ms, p99 ${v.p99.toFixed(3)} ms`);
              console.error(`    critical failures: ${JSON.stringify(f.criticalFailures)}`);
              for (const p of PRIOS) console.error(`    ${p}: ${JSON.stringify(t.load.classes[p])}`);
            }
          }
        }
        say(`### ${service}, offered ${m}× C (${(m * C).toFixed(0)} req/s, 20% critical / 80% sheddable), ${runs} run${runs === 1 ? '' : 's'} of ${flags.duration} s per arm (after ${WARMUP_MS / 1000} s of the same load, not counted)`);
        say(table(OVERLOAD_HEAD, overloadRows(byArm)));
        say('');
      }
    }
  }

  const clientArms = CLIENT_ARMS.filter((a) => flags.peers.includes(a));
  // downstream failing 100%: one level, then a chain of three services
  for (const scenario of (['failing', 'chain'] as const).filter(want)) {
    const rows: string[][] = [];
    const rate = 200;
    // the retry budget's own bound (defaults ratio 0.1, floor 10 retries/s; the floor is a floor, not an addition):
    // attempts/organic ≤ 1 + max(ratio, floor / rate)
    const bound = (1 + Math.max(0.1, 10 / rate)).toFixed(3);
    const variants: { arm: Arm; label: string; breaker?: boolean }[] = clientArms.map((arm) => ({ arm, label: arm }));
    if (clientArms.includes('blastwall')) variants.push({ arm: 'blastwall', label: "blastwall, breakers off (retry budget + don't-retry only)", breaker: false });
    for (const v of variants) {
      const r = await trial(
        { ...base(v.arm, 'slot', scenario), ...(v.breaker === undefined ? {} : { breaker: v.breaker }) },
        { rates: { 'critical-plus': 0, critical: rate, 'sheddable-plus': 0, sheddable: 0 }, durationMs: FAILING_S * 1000, deadlineMs: 5000, clientRetry: false, warmupMs: FAILING_WARMUP_MS },
      );
      // what came after the warm-up (a window of the retry budget): the budget's bound is over a sliding window,
      // and a run that starts with the service lets the window's floor (100 retries) go in its first second
      const c = r.stats.counts;
      const m = r.stats.marked ?? { organic: 0, deepest: 0, inbound: {} };
      const organic = c.organic - m.organic;
      const deepest = c.deepest - m.deepest;
      console.error(`  ${scenario} ${v.label}: received per service ${JSON.stringify(c.inbound)} (at the mark ${JSON.stringify(m.inbound)}), at D ${c.deepest} (${m.deepest})`);
      rows.push([v.label, String(organic), String(deepest), (deepest / Math.max(1, organic)).toFixed(3), v.breaker === false ? bound : '—']);
    }
    say(
      scenario === 'failing'
        ? `### Dependency failing 100% (client → A → D, ${rate} req/s for ${FAILING_S} s, after ${FAILING_WARMUP_MS / 1000} s of the same load, not counted)`
        : `### Chain of three services, deepest dependency failing 100% (client → A → B → C → D, ${rate} req/s for ${FAILING_S} s, after ${FAILING_WARMUP_MS / 1000} s of the same load, not counted)`,
    );
    say(table(['arm', 'organic calls (at A)', 'attempts at D', 'attempts / organic', "retry budget's bound"], rows));
    say('');
  }

  // metastable trigger: 0.9 C with retrying clients; the slot resource is 3× slower for 10 s
  if (want('metastable')) {
    const C = (SLOTS * 1000) / WORK_MS;
    const rates: Record<Prio, number> = { 'critical-plus': 0.1 * 0.9 * C, critical: 0.2 * 0.9 * C, 'sheddable-plus': 0.35 * 0.9 * C, sheddable: 0.35 * 0.9 * C };
    const rows: string[][] = [];
    const total = META.pre + META.trigger + META.post;
    const timelines: string[] = [];
    for (const arm of clientArms) {
      const at = Date.now() + 2500 + META.pre * 1000;
      const r = await trial({ ...base(arm, 'slot', 'metastable'), trigger: { at, durationMs: META.trigger * 1000, factor: 3 } }, { rates, durationMs: total * 1000, deadlineMs: DEADLINE_MS, clientRetry: true });
      const g = r.load.goodPerSecond;
      const mean = (a: number, b: number) => g.slice(a, b).reduce((x, y) => x + y, 0) / Math.max(1, b - a);
      const pre = mean(1, META.pre);
      const end = META.pre + META.trigger;
      let recovered: number | undefined;
      for (let s = end; s < total; s++) {
        if (g[s]! >= 0.95 * pre && (s + 1 >= total || g[s + 1]! >= 0.95 * pre)) {
          recovered = s + 1 - end;
          break;
        }
      }
      rows.push([
        arm,
        pre.toFixed(1),
        mean(META.pre, end).toFixed(1),
        mean(end, total).toFixed(1),
        recovered === undefined ? `not within ${META.post} s` : `${recovered} s`,
        (sum(r.load, PRIOS, 'attempts') / Math.max(1, sum(r.load, PRIOS, 'sent'))).toFixed(2),
        pct(sum(r.load, CRIT, 'good'), sum(r.load, CRIT, 'sent')),
      ]);
      timelines.push(`${arm}: ${g.slice(0, total).join(' ')}`);
    }
    say(`### Metastable trigger (slot service, 0.9 × ${C} req/s with retrying clients; resource 3× slower from ${META.pre} s to ${META.pre + META.trigger} s; target: blastwall back to ≥ 95% of pre-trigger goodput within 5 s)`);
    say(table(['arm', 'goodput/s before', 'during trigger', 'after trigger', 'back to ≥95%', 'attempts / request', 'critical ok'], rows));
    say('');
    say(`Goodput per second (trigger from second ${META.pre} to ${META.pre + META.trigger}):`);
    say('```');
    for (const t of timelines) say(t);
    say('```');
    say('');
  }

  const secs = ((Date.now() - started) / 1000).toFixed(0);
  say(`Whole bench: ${secs} s.`);
  if (!flags.write) return;
  const header = [
    '# Overload benchmark',
    '',
    `Reproduce: \`${command}\` (measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, Node ${process.version}, shared 2-core machine).`,
    '',
    'Arms, all in the same run and on the same service code: **none** — plain node:http (naive clients and services retry 3× back to',
    'back in the failing/chain/metastable scenarios); **cockatiel** — a bulkhead (4 slots, queue 50) on the service, retry (3 attempts,',
    'exponential backoff) + consecutive breaker between services; **under-pressure** — Fastify with @fastify/under-pressure judged every',
    '100 ms on event-loop delay (> 100 ms) and utilisation (> 0.98 over the interval), critical routes exempt; **overload-protection** —',
    'its defaults (event-loop delay sampled every 5 ms, shed above 42 ms), no priorities; **blastwall** — `blastwall/http` nodeHandler',
    '(admission by priority: a saturated event loop used as the slot — one piece of work per loop turn, highest class first — the shed',
    'controller at the door, Gradient2 + CoDel for the slot pool; see docs/overload.md), wall dependencies with retry budget, `createFetch`',
    "(deadline propagation, don't-retry signal).",
    '',
    'Load: an open-loop generator in its own process (node:http, keep-alive agent), 20% critical (5% critical-plus, 15% critical) / 80%',
    "sheddable (20% sheddable-plus, 60% sheddable), 1 s client deadline counted from each request's due time; goodput = 200 answers within",
    'it. Each overload run is measured after 2 s of the same load that is not counted (a warm service). The services process is pinned',
    'to CPU 0 and the generator to CPU 1 (`taskset`). Overload tables give, per arm, the **worst** run for each figure and the median;',
    '"service CPU while refusing" is the mean CPU share of the service process over the 100 ms buckets in which it refused work.',
    '',
  ];
  writeFileSync(`${here}${compiled ? '../../../bench/' : '../'}overload.md`, header.concat(out).join('\n') + '\n');
}

await main();
