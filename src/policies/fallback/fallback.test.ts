import { describe, expect, it } from 'vitest';
import { BlastwallError } from '../../core/errors.js';
import { FakeClock } from '../../core/fake-clock.js';
import { pipeline } from '../../core/policy.js';
import { circuitBreaker } from '../circuit-breaker/index.js';
import { retry } from '../retry/index.js';
import { timeout } from '../timeout/index.js';
import { fallback } from './index.js';

describe('fallback', () => {
  it('returns a value, or a function of the error, for handled errors only', async () => {
    const clock = new FakeClock();
    expect(await fallback('cached', { clock }).execute(() => Promise.reject(new Error('x')))).toBe('cached');
    const f = fallback((e) => `because ${(e as Error).message}`, { clock, handles: (e) => !(e instanceof BlastwallError) });
    expect(await f.execute(() => Promise.reject(new Error('boom')))).toBe('because boom');
    await expect(f.execute(() => Promise.reject(new BlastwallError('TIMEOUT', 't')))).rejects.toMatchObject({ code: 'TIMEOUT' });
    expect(await f.execute(() => 'live')).toBe('live');
  });
});

describe('pipeline', () => {
  it('returns a single policy as it is (the fast path)', () => {
    const t = timeout('1s', { clock: new FakeClock() });
    expect(pipeline(t)).toBe(t);
  });

  it('shares one context per call across layers; each attempt gets a fresh lazily created signal', async () => {
    const clock = new FakeClock();
    const p = pipeline(circuitBreaker({ clock }), retry({ clock, attempts: 3, backoff: 0, budget: false }), timeout('1s', { clock }));
    const seen: unknown[] = [];
    const signals: AbortSignal[] = [];
    const v = await p.execute((ctx) => {
      seen.push(ctx);
      signals.push(ctx.signal);
      if (ctx.attempt < 3) throw new Error('again');
      return ctx.attempt;
    });
    expect(v).toBe(3);
    expect(new Set(seen).size).toBe(1);
    expect(new Set(signals).size).toBe(3);
  });

  it('rejects a non-policy argument with a clear error', () => {
    expect(() => pipeline({} as never)).toThrow(/Expected `pipeline` argument 1 to be a policy/);
  });

  it('a caller abort rejects ABORTED at once and aborts the attempt signal', async () => {
    const clock = new FakeClock();
    const p = pipeline(retry({ clock, attempts: 2, budget: false }), timeout('10s', { clock }));
    const ac = new AbortController();
    let inner: unknown;
    const call = p.execute((ctx) => {
      ctx.signal.addEventListener('abort', () => (inner = ctx.signal.reason));
      return new Promise(() => undefined);
    }, ac.signal);
    ac.abort('user left');
    const err = (await call.catch((e: unknown) => e)) as BlastwallError;
    expect(err).toMatchObject({ code: 'ABORTED' });
    expect(err.cause).toBe('user left');
    expect(inner).toBe(err);
  });
});
