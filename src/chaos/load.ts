/**
 * A drill's open-loop load, the parts the runner and the warm-up share: arrivals are checked every
 * `TICK_MS`, and each request's priority is drawn from its operation's mix. The warm-up sends the same load
 * before the drill starts, answers not recorded.
 */
import type { Clock } from '../core/clock.js';
import { type Drill, DRILL_PRIORITIES, type Priority } from './drill.js';
import type { TargetHandle } from './target.js';

/** How often arrivals are due (ms); a fake clock is advanced by this much at a time. */
export const TICK_MS = 10;

/** The priority `r` (in [0, 1)) falls on in `mix`, a list of (priority, weight) pairs; the last one past their sum. */
export function pick(mix: [Priority, number][], r: number): Priority {
  let acc = 0;
  for (const [p, w] of mix) {
    acc += w;
    if (r < acc) return p;
  }
  return mix[mix.length - 1]?.[0] ?? DRILL_PRIORITIES[1]!;
}

/**
 * The warm-up: the same load for `load.warmup` before the drill starts, answers not recorded, so a cold
 * process (compilation, first connections) does not count as the service's behaviour. Waits for its answers
 * (at most `load.drain`).
 */
export function warmUp(drill: Drill, target: TargetHandle, clock: Clock, random: () => number): Promise<void> {
  const ms = drill.load.warmupMs;
  if (ms <= 0) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const end = clock.now() + ms;
    let inflight = 0;
    let over = false;
    let last = clock.now();
    const carry = new Map<string, number>();
    const finish = (): void => {
      if (over && inflight === 0) resolve();
    };
    const tick = (): void => {
      const now = Math.min(clock.now(), end);
      for (const [op, l] of Object.entries(drill.load.operations)) {
        let c = (carry.get(op) ?? 0) + (l.rate * (now - last)) / 1000;
        for (; c >= 1 - 1e-9 && inflight < drill.load.maxInflight; c--) {
          inflight++;
          const done = (): void => {
            inflight--;
            finish();
          };
          target.send({ operation: op, priority: pick(l.priorities, random()), seq: 0, send: 1, random }).then(done, done);
        }
        carry.set(op, Math.max(0, c));
      }
      last = now;
      if (clock.now() < end) clock.setTimer(tick, TICK_MS);
      else {
        over = true;
        const t = clock.setTimer(() => resolve(), drill.load.drainMs);
        const r = resolve;
        resolve = () => {
          clock.clearTimer(t);
          r();
        };
        finish();
      }
    };
    tick();
  });
}
