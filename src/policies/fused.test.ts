import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BlastwallError } from '../core/errors.js';
import { FakeClock, flushMicrotasks } from '../core/fake-clock.js';
import { Pipeline, pipeline } from '../core/policy.js';
import { circuitBreaker } from './circuit-breaker/index.js';
import { bulkhead } from './concurrency/index.js';
import { FusedPipeline } from './fused.js';
import { retry } from './retry/index.js';
import { timeout } from './timeout/index.js';

type Step = 'ok' | 'fail' | 'hang' | 'abort';

/** Runs one script of calls through a pipeline and returns what each caller saw, and when. */
async function play(fused: boolean, script: Step[][]) {
  const clock = new FakeClock();
  const policies = [
    bulkhead({ limit: 2, queue: 1, clock }),
    circuitBreaker({ clock, minimumCalls: 4, window: { calls: 6 }, halfOpenAfter: '300ms', probes: 1 }),
    retry({ clock, attempts: 3, backoff: { base: '10ms', max: '40ms', jitter: 'none' }, budget: { ratio: 0.5, minPerSecond: 1, clock } }),
    timeout('100ms', { clock }),
  ];
  const p = fused ? pipeline(...policies) : new Pipeline(policies);
  expect(p instanceof FusedPipeline).toBe(fused);
  const seen: string[] = [];
  const calls: Promise<void>[] = [];
  for (const [i, attempts] of script.entries()) {
    const ac = new AbortController();
    calls.push(
      p
        .execute((ctx) => {
          const step = attempts[ctx.attempt - 1] ?? 'ok';
          if (step === 'ok') return `v${i}`;
          if (step === 'fail') return Promise.reject(new Error(`e${i}`));
          if (step === 'abort') queueMicrotask(() => ac.abort());
          return new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true }));
        }, ac.signal)
        .then(
          (v) => void seen.push(`${i}:${clock.now()}:ok:${String(v)}`),
          (e: unknown) => void seen.push(`${i}:${clock.now()}:${e instanceof BlastwallError ? e.code : (e as Error).message}`),
        ),
    );
    await flushMicrotasks(5);
    if (i % 3 === 2) await clock.advance(50);
  }
  await clock.advance(5000);
  await Promise.all(calls);
  return seen.sort();
}

describe('fused pipeline', () => {
  it('behaves exactly like the linked pipeline (property over random call scripts)', async () => {
    const step = fc.constantFrom<Step>('ok', 'fail', 'hang', 'abort');
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(step, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 25 }), async (script) => {
        expect(await play(true, script)).toEqual(await play(false, script));
      }),
      { numRuns: 120 },
    );
  });

  it('is used only for the standard order, each policy at most once', () => {
    const clock = new FakeClock();
    const t = timeout('1s', { clock });
    const r = retry({ clock });
    expect(pipeline(r, t)).toBeInstanceOf(FusedPipeline);
    expect(pipeline(t, r)).not.toBeInstanceOf(FusedPipeline);
    expect(pipeline(r, r)).not.toBeInstanceOf(FusedPipeline);
  });
});
