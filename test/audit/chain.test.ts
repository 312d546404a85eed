/**
 * A chain of three services (edge → api → store → db), each its own wall in this process, joined by the
 * audit by name. The audit's cross-service figures (retry amplification, timeout budget inversion) are
 * computed from the declarations alone, then a drill of the same chain measures them.
 */
import { describe, expect, it } from 'vitest';
import { auditWall, type Finding } from '../../src/audit/index.js';
import { type AttemptContext, createWall, type Wall } from '../../src/index.js';
import { FakeClock } from '../../src/testing/index.js';

interface Retry {
  attempts: number;
  budget: { ratio: number; minPerSecond: number } | false;
}

/** A call across a service boundary: like an HTTP client, the caller sees a plain error, not the callee's. */
async function remote<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch {
    throw new Error('502 from upstream');
  }
}

function chain(clock: FakeClock, retry: Retry, db: (ctx: AttemptContext) => Promise<unknown>, t = { edgeToApi: '1s', apiToStore: '400ms', storeToDb: '100ms', apiDeadline: '3s' }) {
  const walls: Wall[] = [];
  const mk = (service: string) => {
    const w = createWall({ service, clock, drift: false });
    walls.push(w);
    return w;
  };
  const retrySpec = { attempts: retry.attempts, backoff: 0, budget: retry.budget === false ? (false as const) : { ...retry.budget, window: '10s' as const } };
  const storeWall = mk('store');
  const dbDep = storeWall.dependency('db', { timeout: t.storeToDb as '100ms', retry: retrySpec, breaker: false, concurrency: { limit: 10_000, queue: 0 } });
  const read = storeWall.operation('read', { priority: 'critical', deadline: '2s' });
  const apiWall = mk('api');
  const storeDep = apiWall.dependency('store', { timeout: t.apiToStore as '400ms', retry: retrySpec, breaker: false, concurrency: { limit: 10_000, queue: 0 } });
  const get = apiWall.operation('get', { priority: 'critical', deadline: t.apiDeadline as '3s' });
  const edgeWall = mk('edge');
  const apiDep = edgeWall.dependency('api', { timeout: t.edgeToApi as '1s', retry: retrySpec, breaker: false, concurrency: { limit: 10_000, queue: 0 } });
  const home = edgeWall.operation('home', { priority: 'critical', deadline: '10s' });
  const apiEnds: number[] = [];
  const request = () =>
    home.run(() =>
      apiDep.call(() =>
        remote(() =>
          get
            .run(() => storeDep.call(() => remote(() => read.run(() => dbDep.call(db)))))
            .finally(() => apiEnds.push(clock.now())),
        ),
      ),
    );
  return { walls, request, apiEnds, close: () => Promise.all(walls.map((w) => w.close())) };
}

const failFast = (counter: { n: number }) => (): Promise<never> => {
  counter.n++;
  return Promise.reject(new Error('500'));
};

/** Sends `count` organic requests at `perSecond` on the fake clock and waits for every answer. */
async function load(clock: FakeClock, request: () => Promise<unknown>, count: number, perSecond: number): Promise<void> {
  const pending: Promise<unknown>[] = [];
  const gap = 1000 / perSecond;
  for (let i = 0; i < count; i++) {
    pending.push(request().catch(() => undefined));
    await clock.advance(gap);
  }
  await clock.advance(15_000);
  await Promise.all(pending);
}

function amplification(findings: Finding[]): { worstCase: number; withBudgets: number } {
  const f = findings.find((x) => x.ruleId === 'BW004' && x.subject.includes('edge.home'));
  expect(f, 'the audit reports the chain edge.home → api.get → store.read → db').toBeDefined();
  return f?.data as { worstCase: number; withBudgets: number };
}

describe('a three-service chain: the audit predicts, a drill measures', () => {
  it('without budgets, attempts multiply across services exactly as the audit says (3 × 3 × 3)', async () => {
    const clock = new FakeClock();
    const calls = { n: 0 };
    const c = chain(clock, { attempts: 3, budget: false }, failFast(calls));
    await load(clock, c.request, 1, 200); // one request observes the edges
    const predicted = amplification(auditWall(c.walls).findings);
    expect(predicted.worstCase).toBe(27);
    expect(predicted.withBudgets).toBe(27);
    calls.n = 0;
    await load(clock, c.request, 50, 200);
    expect(calls.n / 50).toBe(predicted.worstCase);
    await c.close();
  });

  it('with a 10% budget at every layer, the deepest dependency stays within the audit’s budgeted bound (1.1³)', async () => {
    const clock = new FakeClock();
    const calls = { n: 0 };
    const c = chain(clock, { attempts: 3, budget: { ratio: 0.1, minPerSecond: 0 } }, failFast(calls));
    await load(clock, c.request, 1, 200);
    const predicted = amplification(auditWall(c.walls).findings);
    expect(predicted.worstCase).toBe(27);
    expect(predicted.withBudgets).toBeCloseTo(1.331, 3);
    calls.n = 0;
    await load(clock, c.request, 2000, 200); // 10 s at 200 organic requests per second
    const measured = calls.n / 2000;
    expect(measured).toBeLessThanOrEqual(predicted.withBudgets);
    expect(measured).toBeGreaterThan(1.2); // the budget is used, not just never reached
    await c.close();
  });

  it('an inner deadline longer than the caller’s timeout is a finding, and the drill shows the inner service working on after the caller gave up', async () => {
    const clock = new FakeClock();
    const hang = (ctx: AttemptContext) => new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true }));
    const c = chain(clock, { attempts: 1, budget: false }, hang, { edgeToApi: '300ms', apiToStore: '2s', storeToDb: '1.5s', apiDeadline: '3s' });
    const t0 = clock.now();
    await load(clock, c.request, 1, 200);
    const inv = auditWall(c.walls).findings.find((f) => f.ruleId === 'BW003' && f.subject === 'chain edge→api.get');
    expect(inv?.data).toEqual({ callerTimeoutMs: 300, innerDeadlineMs: 3000 });
    // edge gave up at 300 ms; api.get ended only when the store's 1.5 s timeout fired
    expect(c.apiEnds[0]! - t0).toBeGreaterThanOrEqual(1500);
    await c.close();
  });
});
