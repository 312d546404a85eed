import { describe, expect, it } from 'vitest';
import { BlastwallError } from '../core/errors.js';
import { FakeClock } from '../core/fake-clock.js';
import { createWall } from './wall.js';

function configError(f: () => unknown): BlastwallError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(BlastwallError);
    expect((e as BlastwallError).code).toBe('CONFIG_INVALID');
    return e as BlastwallError;
  }
  throw new Error('expected a CONFIG_INVALID error');
}

describe('dependency spec sections reuse each policy option list', () => {
  it('concurrency.adaptive accepts every Gradient2 option, longWindow included, in the type and at run time', async () => {
    const wall = createWall({ service: 's', clock: new FakeClock() });
    const dep = wall.dependency('a', { concurrency: { adaptive: { initial: 8, min: 2, max: 16, longWindow: 50 }, queue: 4 } });
    expect(dep.adaptive?.limiter.min).toBe(2);
    expect(dep.adaptive?.limiter.max).toBe(16);
    // @ts-expect-error a misspelt option is a type error, and a CONFIG_INVALID naming the section at run time
    const err = configError(() => wall.dependency('b', { concurrency: { adaptive: { longWindw: 50 } } }));
    expect(err.message).toContain('b.concurrency.adaptive');
    expect(err.message).toContain('longWindw');
    await wall.close();
  });

  it('options the wall supplies itself are refused in a section, naming the field', async () => {
    const wall = createWall({ service: 's', clock: new FakeClock() });
    // @ts-expect-error the wall names the policy after the dependency
    expect(configError(() => wall.dependency('r', { retry: { attempts: 2, name: 'x' } })).message).toContain('r.retry');
    // @ts-expect-error the wall gives every policy its own clock
    expect(configError(() => wall.dependency('c', { criticality: 'optional', fallback: 0, cache: { stale: '1m', clock: new FakeClock() } })).message).toContain('c.cache');
    // @ts-expect-error minAttemptTime is the wall's (from the timeout and observed latency)
    expect(configError(() => wall.dependency('m', { retry: { minAttemptTime: 5 } })).message).toContain('m.retry');
    await wall.close();
  });

  it('cache options the policy accepts pass through the section (sizeOf was accepted at run time but missing from the type)', async () => {
    const wall = createWall({ service: 's', clock: new FakeClock() });
    const dep = wall.dependency('c', { criticality: 'optional', fallback: 0, cache: { stale: '1m', sizeOf: () => 1, maxBytes: 10 } });
    expect(dep.cache).toBeDefined();
    await wall.close();
  });
});

describe('health.minDwell', () => {
  it('takes a Duration under a unit-free name; the old minDwellMs still works, both at once is refused', async () => {
    const wall = createWall({ service: 's', clock: new FakeClock() });
    expect(() => wall.dependency('a', { health: { minDwell: '2s' } })).not.toThrow();
    expect(() => wall.dependency('b', { health: { minDwellMs: 2000 } })).not.toThrow();
    expect(configError(() => wall.dependency('c', { health: { minDwell: '1s', minDwellMs: 1000 } })).message).toContain('c.health.minDwellMs');
    expect(configError(() => wall.dependency('d', { health: { minDwell: -1 } })).message).toContain('d.health.minDwell');
    await wall.close();
  });
});
