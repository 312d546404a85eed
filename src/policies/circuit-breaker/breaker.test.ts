import { describe, expect, it } from 'vitest';
import { BlastwallError } from '../../core/errors.js';
import { FakeClock } from '../../core/fake-clock.js';
import { circuitBreaker, type StateChange } from './index.js';

const ok = () => 'ok';
const fail = () => Promise.reject(new Error('boom'));

async function run(b: ReturnType<typeof circuitBreaker>, fn: () => unknown) {
  return b.execute(fn).then(
    () => 'ok',
    (e: unknown) => (e instanceof BlastwallError ? e.code : 'error'),
  );
}

describe('circuit breaker', () => {
  it('opens exactly when the failure rate reaches the threshold after minimumCalls, not one call before', async () => {
    const clock = new FakeClock();
    const b = circuitBreaker({ clock, failureRate: 0.5, minimumCalls: 10, window: { calls: 10 } });
    // 4 failures, then 5 successes: 4/9 < 0.5 and fewer than 10 calls anyway
    for (let i = 0; i < 4; i++) await run(b, fail);
    for (let i = 0; i < 5; i++) await run(b, ok);
    expect(b.state).toBe('closed');
    // 10th call is a failure: 5/10 = 0.5 → opens on this very call
    expect(await run(b, fail)).toBe('error');
    expect(b.state).toBe('open');
    expect(await run(b, ok)).toBe('CIRCUIT_OPEN');
  });

  it('does not judge rates before minimumCalls even at 100% failures', async () => {
    const b = circuitBreaker({ clock: new FakeClock(), failureRate: 0.5, minimumCalls: 5, window: { calls: 100 } });
    for (let i = 0; i < 4; i++) await run(b, fail);
    expect(b.state).toBe('closed');
    await run(b, fail);
    expect(b.state).toBe('open');
  });

  it('counts slow calls against the slow-call rate', async () => {
    const clock = new FakeClock();
    const b = circuitBreaker({ clock, failureRate: 1, slowCall: { over: '100ms', rate: 0.5 }, minimumCalls: 4, window: { calls: 4 } });
    const slow = () => new Promise((r) => clock.setTimer(() => r('slow'), 150));
    await run(b, ok);
    await run(b, ok);
    const p1 = run(b, slow);
    await clock.advance(150);
    await p1;
    expect(b.state).toBe('closed');
    const p2 = run(b, slow);
    await clock.advance(150);
    await p2; // 2 slow of 4 = 0.5
    expect(b.state).toBe('open');
  });

  it('time window forgets calls older than the window', async () => {
    const clock = new FakeClock();
    const b = circuitBreaker({ clock, failureRate: 0.5, minimumCalls: 4, window: '10s' });
    for (let i = 0; i < 3; i++) await run(b, fail);
    await clock.advance(11_000);
    await run(b, fail); // the three old failures are gone: 1 call < minimumCalls
    expect(b.state).toBe('closed');
    expect(b.snapshot().window).toEqual({ calls: 1, failures: 1, slow: 0 });
  });

  it('half-open admits exactly N probes and closes when they succeed', async () => {
    const clock = new FakeClock();
    const events: StateChange[] = [];
    const b = circuitBreaker({ clock, minimumCalls: 1, window: { calls: 1 }, halfOpenAfter: '5s', probes: 3 });
    b.onStateChange((e) => events.push(e));
    await run(b, fail);
    expect(b.state).toBe('open');
    await clock.advance(5000);
    expect(b.state).toBe('half-open');
    const release: (() => void)[] = [];
    const slowOk = () => new Promise<void>((r) => release.push(r));
    const probes = [run(b, slowOk), run(b, slowOk), run(b, slowOk)];
    expect(await run(b, ok)).toBe('CIRCUIT_OPEN'); // a 4th call while 3 probes are in flight
    expect(release).toHaveLength(3);
    for (const r of release) r();
    expect(await Promise.all(probes)).toEqual(['ok', 'ok', 'ok']);
    expect(b.state).toBe('closed');
    expect(events.map((e) => `${e.from}→${e.to}`)).toEqual(['closed→open', 'open→half-open', 'half-open→closed']);
  });

  it('reopens when probes fail, and a schedule lengthens each consecutive open', async () => {
    const clock = new FakeClock();
    const b = circuitBreaker({ clock, minimumCalls: 1, window: { calls: 1 }, halfOpenAfter: (n) => 1000 * 2 ** (n - 1), probes: 2, probeSuccesses: 2 });
    await run(b, fail);
    expect(b.snapshot().openUntil - clock.now()).toBe(1000);
    await clock.advance(1000);
    await run(b, fail); // a failed probe: 2 successes are no longer possible
    expect(b.state).toBe('open');
    expect(b.snapshot().consecutiveOpens).toBe(2);
    expect(b.snapshot().openUntil - clock.now()).toBe(2000);
    await clock.advance(1999);
    expect(await run(b, ok)).toBe('CIRCUIT_OPEN');
  });

  it('isolate holds it open until reset; the error carries a retry-after hint while open', async () => {
    const clock = new FakeClock();
    const b = circuitBreaker({ clock, minimumCalls: 1, window: { calls: 1 }, halfOpenAfter: '3s' });
    await run(b, fail);
    const err = await b.execute(ok).catch((e: BlastwallError) => e);
    expect(err).toMatchObject({ code: 'CIRCUIT_OPEN', retryAfterMs: 3000, retryable: false });
    b.isolate();
    await clock.advance(60_000);
    expect(await run(b, ok)).toBe('CIRCUIT_OPEN');
    b.reset();
    expect(await run(b, ok)).toBe('ok');
  });

  it('snapshot and restore carry the state across instances', async () => {
    const clock = new FakeClock();
    const a = circuitBreaker({ clock, minimumCalls: 1, window: { calls: 1 }, halfOpenAfter: '5s' });
    await run(a, fail);
    const snap = JSON.parse(JSON.stringify(a.snapshot()));
    const b = circuitBreaker({ clock, minimumCalls: 1, window: { calls: 1 }, halfOpenAfter: '5s' });
    b.restore(snap);
    expect(b.state).toBe('open');
    await clock.advance(5000);
    expect(await run(b, ok)).toBe('ok');
    expect(b.state).toBe('closed');
    expect(() => b.restore({ ...snap, state: 'melted' })).toThrow(/Expected `snapshot.state`/);
  });

  it('a caller abort is not a dependency failure', async () => {
    const b = circuitBreaker({ clock: new FakeClock(), minimumCalls: 1, window: { calls: 1 } });
    const ac = new AbortController();
    let innerSettled = false;
    const p = b.execute(
      (ctx) =>
        new Promise((_, reject) =>
          ctx.signal.addEventListener('abort', () => {
            innerSettled = true;
            reject(ctx.signal.reason);
          }),
        ),
      ac.signal,
    );
    ac.abort();
    await expect(p).rejects.toMatchObject({ code: 'ABORTED' });
    expect(innerSettled).toBe(true); // the function saw the abort and its rejection reached the breaker
    expect(b.snapshot().window.calls).toBe(0);
    expect(b.state).toBe('closed');
  });
});
