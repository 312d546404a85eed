/**
 * `npm start`: the shop service rides out injected faults, phase by phase, and says what happened.
 * Runs on the real clock for about 10 seconds.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { type BlastwallError, createTimeline, postmortem, realClock, sleep } from 'blastwall';
import { createShop } from './service.js';

mkdirSync('.blastwall', { recursive: true });
rmSync('.blastwall/demo-timeline.db', { force: true });
const timeline = createTimeline({ path: '.blastwall/demo-timeline.db', service: 'shop' });
const startedAt = realClock.now();
// warm-up: the first calls of a fresh process are slow (module loading, JIT); a throwaway shop takes them so
// they do not become the real shop's baseline
{
  const warm = createShop();
  const until = performance.now() + 400;
  while (performance.now() < until) {
    await Promise.allSettled(Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? warm.checkout() : warm.browse())));
  }
  await warm.wall.close();
}
// the demo lasts seconds, not hours: health every 100 ms over a 1 s window, drift baselines from 15 intervals
const shop = createShop({ timeline, healthWindow: '1s', wall: { healthInterval: '100ms', drift: { detector: { warmup: 15 } } } });
const { wall, faults } = shop;
const log: string[] = [];
const t0 = performance.now();
const seconds = () => (performance.now() - t0) / 1000;
const stamp = () => `${seconds().toFixed(1).padStart(4)}s`;
/** When each dependency's first drift alert and first objective breach happened (seconds since start). */
const firstDrift = new Map<string, { at: number; signal: string }>();
const firstBreach = new Map<string, { at: number; state: string }>();
wall.onEvent((e) => {
  if (e.type === 'health') {
    log.push(`${stamp()}  health  ${e.dependency}: ${e.from} → ${e.to} (${e.reason})`);
    if (e.to !== 'healthy' && !firstBreach.has(e.dependency)) firstBreach.set(e.dependency, { at: seconds(), state: e.to });
  } else if (e.type === 'breaker') log.push(`${stamp()}  breaker ${e.dependency}: ${e.from} → ${e.to} (${e.reason})`);
  else if (e.type === 'status') log.push(`${stamp()}  status  service ${e.from} → ${e.to} (${e.reason})`);
  else if (e.type === 'drift' && e.state === 'raised') {
    const subject = e.dependency ?? `op:${e.operation}`;
    log.push(`${stamp()}  drift   ${subject} ${e.signal}: ${e.baseline.toPrecision(3)} → ${e.level.toPrecision(3)}`);
    // the breach a latency drift predicts is a rise: a fall (the start-up settling) predicts nothing
    const rising = e.level > e.baseline;
    if (rising && !firstDrift.has(subject)) firstDrift.set(subject, { at: seconds(), signal: e.signal });
  } else if (e.type === 'burn-rate' && e.state === 'raised') log.push(`${stamp()}  budget  ${e.objective}: ${e.rule} (${e.severity})`);
  else if (e.type === 'deferred-dead') deadLetters.set(e.code, (deadLetters.get(e.code) ?? 0) + 1);
});
const deadLetters = new Map<string, number>();

/** Dependencies a fault has been injected into at some point. */
const everFaulty = new Set<string>();
/** Whether a fault is injected into each dependency right now. */
const faulty = (): Record<string, boolean> => ({
  payments: faults.paymentsLatencyMs > 0 || faults.paymentsErrorRate > 0,
  recommendations: faults.recsHang,
  email: faults.emailDown,
});

interface Tally {
  ok: number;
  failed: Map<string, number>;
  sources: Map<string, number>;
  worstMs: number;
}

async function phase(title: string, ms: number, setup: () => void, during?: (fraction: number) => void): Promise<void> {
  setup();
  const tally: Tally = { ok: 0, failed: new Map(), sources: new Map(), worstMs: 0 };
  const start = performance.now();
  const end = start + ms;
  const inflight: Promise<void>[] = [];
  while (performance.now() < end) {
    during?.((performance.now() - start) / ms);
    for (let i = 0; i < 4; i++) {
      const started = performance.now();
      inflight.push(
        shop.checkout().then(
          () => {
            tally.ok++;
            tally.worstMs = Math.max(tally.worstMs, performance.now() - started);
          },
          (e: BlastwallError) => {
            tally.failed.set(e.code, (tally.failed.get(e.code) ?? 0) + 1);
            tally.worstMs = Math.max(tally.worstMs, performance.now() - started);
          },
        ),
      );
      inflight.push(
        shop.browse().then((o) => {
          tally.sources.set(o.source, (tally.sources.get(o.source) ?? 0) + 1);
        }),
      );
    }
    await sleep(realClock, 20);
  }
  await Promise.all(inflight);
  const failed = [...tally.failed].map(([c, n]) => `${c}×${n}`).join(' ') || 'none';
  const sources = [...tally.sources].map(([s, n]) => `${s}×${n}`).join(' ');
  const h = wall.health();
  console.log(`\n▸ ${title}`);
  console.log(`  checkout: ${tally.ok} ok, failed: ${failed}; slowest answer ${tally.worstMs.toFixed(0)}ms (deadline 500ms)`);
  console.log(`  browse:   recommendations served from ${sources} (never an error)`);
  console.log(
    `  health:   service ${h.status}; ${Object.entries(h.dependencies)
      .map(([n, d]) => `${n} ${d.state}`)
      .join(', ')}`,
  );
  for (const line of log.splice(0)) console.log(`  ${line}`);
  if (deadLetters.size > 0) {
    console.log(`  email work dead-lettered after its retries: ${[...deadLetters].map(([c, n]) => `${c}×${n}`).join(' ')}`);
    deadLetters.clear();
  }
  // a state that outlives its fault is not a bug: say why it lingers
  const injected = faulty();
  for (const [name, on] of Object.entries(injected)) if (on) everFaulty.add(name);
  for (const [name, d] of Object.entries(h.dependencies)) {
    if (d.state === 'healthy' || injected[name] === true) continue;
    if (!everFaulty.has(name)) {
      console.log(`  note:     ${name} is ${d.state} though no fault was injected into it (${d.reason}): this machine is slow right now (CPU or event loop busy), and the wall reports what it measures`);
      continue;
    }
    const breaker = d.breaker;
    const why =
      breaker === 'open' || breaker === 'half-open'
        ? `its circuit breaker is ${breaker}; it closes only after half-open probes succeed`
        : 'its health window still holds calls made during the fault, and a state is left only when its signal falls below 80% of the threshold and has been held 300 ms (hysteresis, so it does not flap)';
    console.log(`  note:     ${name} is ${d.state} after its fault ended (${d.reason}): ${why}`);
  }
}

console.log('blastwall demo — a shop with payments (core), recommendations (optional) and email (deferrable)');
console.log(`
How to read the lines below:
  health   a dependency's state: healthy, delayed (p99 above objective), retrying, degraded (failures or
           fallbacks above 1 − availability), corrupt, unavailable (breaker open or every call failing)
  breaker  a circuit breaker opening, probing (half-open) or closing
  drift    a signal moving away from its own baseline, before it breaches an objective: "signal: baseline → level";
           latency.p99 in ms; error.ratio = failed calls per call; retry.ratio = retries per call (with 3
           attempts a call can retry twice, so it can exceed 1)
  budget   an error-budget burn-rate alert: "2% of budget in 1h (page)" means the last hour alone spent 2% of
           the 30-day error budget (14.4 times the sustainable rate), which pages someone; "(ticket)" can wait
  status   the whole service: ok, degraded, unavailable (only a core dependency can make it unavailable)`);

await phase('1. Normal traffic', 1500, () => {
  timeline.mark('deploy', 'shop v1.4.0 deployed');
});
await phase(
  '2. Payments latency creeps up (+0 → +100ms): is the rise flagged as drift before the p99 breaches its 80ms objective?',
  2500,
  () => timeline.mark('config', 'payments provider switched to region eu-west-2'),
  (fraction) => {
    faults.paymentsLatencyMs = Math.round(100 * fraction);
  },
);
const drift = firstDrift.get('payments');
const breach = firstBreach.get('payments');
if (drift !== undefined && breach !== undefined && drift.at < breach.at) {
  console.log(`  → a rise of payments ${drift.signal} was flagged ${(breach.at - drift.at).toFixed(1)}s before payments became ${breach.state}`);
} else if (drift !== undefined && breach !== undefined) {
  console.log(`  → this run flagged a rise of payments ${drift.signal} only ${(drift.at - breach.at).toFixed(1)}s after payments became ${breach.state}: the creep outran the detector's confirmation (3 intervals)`);
} else if (breach !== undefined) console.log(`  → this run flagged no rise of a payments signal before payments became ${breach.state}`);
else if (drift !== undefined) console.log(`  → drift on payments ${drift.signal} was flagged; the p99 did not breach its objective in this run`);
await phase('3. Recommendations hang: the page falls back to cached/bestseller picks', 1000, () => {
  faults.paymentsLatencyMs = 0;
  faults.recsHang = true;
});
await phase('4. Email provider down: receipts queue and retry in the background, checkout is not blocked', 1000, () => {
  faults.recsHang = false;
  faults.emailDown = true;
});
await phase('5. Payments fail 100%: the breaker opens and checkout fails fast instead of piling up', 1500, () => {
  faults.emailDown = false;
  faults.paymentsErrorRate = 1;
});
await phase('6. Everything recovers: half-open probes close the breaker', 2000, () => {
  faults.paymentsErrorRate = 0;
});
const metrics = await wall.metrics();
const attempts = /blastwall_dependency_attempts_total\{service="shop",dependency="payments"\} (\d+)/.exec(metrics)?.[1];
console.log(`\npayments attempts recorded in Prometheus metrics: ${attempts}; email dead letters: ${wall.get('email').deadLetters.length}`);
console.log('topology edges:', wall.topology().edges.map((e) => `${e.from}→${e.to}`).join(', '));
await wall.close();
const md = postmortem(timeline.query(), { from: startedAt, to: realClock.now(), service: 'shop' });
timeline.close();
writeFileSync('.blastwall/demo-postmortem.md', md);
console.log('timeline: .blastwall/demo-timeline.db (npm run blastwall -- timeline --db .blastwall/demo-timeline.db --since 1h)');
console.log('postmortem draft: .blastwall/demo-postmortem.md');
