/**
 * `npm start`: the shop service rides out injected faults, phase by phase, and says what happened.
 * Runs on the real clock for about 8 seconds.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { type BlastwallError, createTimeline, postmortem, realClock, sleep } from 'blastwall';
import { createShop } from './service.js';

mkdirSync('.blastwall', { recursive: true });
rmSync('.blastwall/demo-timeline.db', { force: true });
const timeline = createTimeline({ path: '.blastwall/demo-timeline.db', service: 'shop' });
const startedAt = realClock.now();
const shop = createShop({ timeline });
const { wall, faults } = shop;
const log: string[] = [];
const t0 = performance.now();
const stamp = () => `${((performance.now() - t0) / 1000).toFixed(1).padStart(4)}s`;
wall.onEvent((e) => {
  if (e.type === 'health') log.push(`${stamp()}  health  ${e.dependency}: ${e.from} → ${e.to} (${e.reason})`);
  else if (e.type === 'breaker') log.push(`${stamp()}  breaker ${e.dependency}: ${e.from} → ${e.to} (${e.reason})`);
  else if (e.type === 'status') log.push(`${stamp()}  status  service ${e.from} → ${e.to} (${e.reason})`);
  else if (e.type === 'drift' && e.state === 'raised')
    log.push(`${stamp()}  drift   ${e.dependency ?? e.operation} ${e.signal}: ${e.baseline.toPrecision(3)} → ${e.level.toPrecision(3)}`);
  else if (e.type === 'burn-rate' && e.state === 'raised') log.push(`${stamp()}  budget  ${e.objective}: ${e.rule} (${e.severity})`);
  else if (e.type === 'deferred-dead') deadLetters.set(e.code, (deadLetters.get(e.code) ?? 0) + 1);
});
const deadLetters = new Map<string, number>();

interface Tally {
  ok: number;
  failed: Map<string, number>;
  sources: Map<string, number>;
  worstMs: number;
}

async function phase(title: string, ms: number, setup: () => void): Promise<void> {
  setup();
  const tally: Tally = { ok: 0, failed: new Map(), sources: new Map(), worstMs: 0 };
  const end = performance.now() + ms;
  const inflight: Promise<void>[] = [];
  while (performance.now() < end) {
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
}

console.log('blastwall demo — a shop with payments (core), recommendations (optional) and email (deferrable)');
await phase('1. Normal traffic', 1200, () => {
  timeline.mark('deploy', 'shop v1.4.0 deployed');
});
await phase('2. Recommendations hang: the page falls back to cached/bestseller picks', 1200, () => {
  faults.recsHang = true;
});
await phase('3. Payments slow down (+90ms): still inside the 120ms timeout, but past the 80ms p99 objective', 1500, () => {
  faults.recsHang = false;
  faults.paymentsLatencyMs = 90;
  timeline.mark('config', 'payments provider switched to region eu-west-2');
});
await phase('4. Email provider down: receipts queue and retry in the background, checkout is not blocked', 1000, () => {
  faults.paymentsLatencyMs = 0;
  faults.emailDown = true;
});
await phase('5. Payments fail 100%: the breaker opens and checkout fails fast instead of piling up', 1500, () => {
  faults.emailDown = false;
  faults.paymentsErrorRate = 1;
});
await phase('6. Everything recovers: half-open probes close the breaker', 2000, () => {
  faults.paymentsErrorRate = 0;
  faults.emailDown = false;
});
const metrics = await wall.metrics();
const attempts = /blastwall_dependency_attempts_total\{service="shop",dependency="payments"\} (\d+)/.exec(metrics)?.[1];
console.log(`\npayments attempts recorded in Prometheus metrics: ${attempts}; email dead letters: ${wall.get('email').deadLetters.length}`);
console.log('topology edges:', wall.topology().edges.map((e) => `${e.from}→${e.to}`).join(', '));
await wall.close();
const md = postmortem(timeline.query(), { from: startedAt, to: realClock.now(), service: 'shop' });
timeline.close();
writeFileSync('.blastwall/demo-postmortem.md', md);
console.log('timeline: .blastwall/demo-timeline.db (npm run blastwall -- timeline --db .blastwall/demo-timeline.db)');
console.log('postmortem draft: .blastwall/demo-postmortem.md');
