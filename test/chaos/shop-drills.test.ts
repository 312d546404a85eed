/**
 * The shop's in-process drills, on a fake clock (the drill runner advances it: no sleeps). Each must pass;
 * the deliberately broken one (recommendations without their fallback) must fail, naming the invariant.
 * The store drills run through the TCP proxy against the real servers in store-drills.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { verdictLines } from '../../src/cli/drill.js';
import { FakeClock, runDrill, type Drill } from '../../src/testing/index.js';
import broken from '../../examples/shop/drills/broken/recommendations-without-fallback.js';
import corrupt from '../../examples/shop/drills/corrupt-catalog.js';
import email from '../../examples/shop/drills/email-backed-up.js';
import overload from '../../examples/shop/drills/overload.js';
import payments from '../../examples/shop/drills/payments-down.js';
import recs from '../../examples/shop/drills/recommendations-slow.js';
import storm from '../../examples/shop/drills/retry-storm.js';
import drift from '../../examples/shop/drills/slow-drift.js';

async function run(drill: Drill) {
  const r = await runDrill(drill, { clock: new FakeClock() });
  r.timeline.close();
  return r;
}

describe('the shop drills hold on a fake clock', () => {
  it.each([payments, recs, email, storm, overload, drift, corrupt].map((d) => [d.name, d] as const))('%s', async (_name, drill) => {
    const r = await run(drill);
    const failed = r.invariants.filter((i) => !i.pass).map((i) => `${i.name}: ${i.observed}`);
    expect(failed).toEqual([]);
    expect(r.observation.requests.length).toBeGreaterThan(100);
    expect(r.observation.faults.every((f) => f.hits > 0)).toBe(true);
  });

  it('the same seed replays the same load and fault schedule', async () => {
    // what the drill controls replays exactly: arrivals, priorities, fault windows; the service's own
    // randomness (its retry jitter) is its own, so outcomes may differ in a few requests
    const a = await run(overload);
    const b = await run(overload);
    const arrivals = (r: typeof a) => r.observation.requests.map((x) => `${x.operation}:${x.priority}:${x.at - r.startedAt}`).join(',');
    expect(arrivals(b)).toEqual(arrivals(a));
    const windows = (r: typeof a) => r.observation.faults.map((f) => `${f.dependency}:${f.startedAt - r.startedAt}:${(f.endedAt ?? 0) - r.startedAt}`);
    expect(windows(b)).toEqual(windows(a));
  });

  it('the drill with the fallback removed fails, naming the invariant and what was observed', async () => {
    const r = await run(broken);
    expect(r.passed).toBe(false);
    const lines = verdictLines(r, 'out/x.md');
    expect(lines[0]).toBe('FAIL recommendations slow, fallback removed: 2/3 invariants held (report out/x.md)');
    expect(lines[1]).toMatch(/^ {2}invariant failed: operation\('browse'\)\.successRate >= 0\.990 — observed 0\.\d{4} \(\d+ of \d+; failed: TIMEOUT×\d+, CIRCUIT_OPEN×\d+\)$/);
    expect(lines).toHaveLength(2);
  });
});
