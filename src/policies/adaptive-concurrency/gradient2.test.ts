import { describe, expect, it } from 'vitest';
import { Gradient2Limit } from './gradient2.js';

/** RTT of a service with `slots` workers of `workMs` each when `inflight` requests are in it (the rest queue). */
const rttOf = (inflight: number, slots = 4, workMs = 40) => Math.max(1, inflight / slots) * workMs;

describe('Gradient2 with a hidden queue', () => {
  it('settles near the real capacity instead of growing with a standing queue behind the limit', () => {
    const g = new Gradient2Limit({ initial: 20, min: 4, max: 1000 });
    // a quiet start (one request at a time: app-limited samples still teach the no-load RTT)
    for (let i = 0; i < 50; i++) g.sample(rttOf(1), 1);
    const seen: number[] = [];
    for (let i = 0; i < 5000; i++) {
      g.sample(rttOf(g.limit), g.limit);
      if (i % 500 === 0) seen.push(g.limit);
    }
    // 4 workers: a limit far above 4 only adds queueing; it must not keep climbing
    expect(g.limit).toBeLessThanOrEqual(16);
    expect(g.limit).toBeGreaterThanOrEqual(4);
    expect(Math.max(...seen.slice(2))).toBeLessThanOrEqual(16);
  });

  it('stays bounded even when it never saw the service unloaded', () => {
    const g = new Gradient2Limit({ initial: 20, min: 4, max: 1000 });
    for (let i = 0; i < 5000; i++) g.sample(rttOf(g.limit), g.limit);
    expect(g.limit).toBeLessThanOrEqual(100); // without the cap it reaches `max` (1000)
  });

  it('relearns a lasting change of the no-load RTT (the minimum is slowly forgotten)', () => {
    const g = new Gradient2Limit({ initial: 8, min: 4, max: 1000 });
    for (let i = 0; i < 500; i++) g.sample(rttOf(g.limit, 8, 10), g.limit);
    // the service becomes permanently 5× slower per request but has 8 workers: the limit must come back above the floor
    for (let i = 0; i < 8000; i++) g.sample(rttOf(g.limit, 8, 50), g.limit);
    expect(g.limit).toBeGreaterThanOrEqual(8);
  });
});
