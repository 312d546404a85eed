import { describe, expect, it } from 'vitest';
import { BlastwallError, createWall } from '../../src/index.js';
import { FakeClock } from '../../src/testing/index.js';

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

describe('wall configuration is validated at declaration', () => {
  const wall = createWall({ service: 'shop', clock: new FakeClock() });
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['negative timeout', { timeout: -5 }, /^Expected `p\.timeout` to be a duration between 1ms and 2147483647ms .*, got `-5` \(number\)$/],
    ['bad timeout string', { timeout: '5 parsecs' }, /Expected `p\.timeout` to be a duration between 1ms and 2147483647ms .*, got `"5 parsecs"` \(string\)/],
    ['unknown criticality', { criticality: 'vital' }, /Expected `p\.criticality` to be one of 'core', 'optional', 'deferrable', got `"vital"` \(string\)/],
    ['retry attempts 0', { retry: { attempts: 0 } }, /Expected `p\.retry\.attempts` to be an integer between 1 and 100, got `0` \(number\)/],
    ['budget ratio > 1', { retry: { budget: { ratio: 2 } } }, /Expected `p\.retry\.budget\.ratio` to be a ratio between 0 and 1, got `2` \(number\)/],
    ['breaker failureRate 0', { breaker: { failureRate: 0 } }, /Expected `p\.breaker\.failureRate` to be a ratio > 0 and ≤ 1, got `0` \(number\)/],
    ['breaker minimumCalls', { breaker: { minimumCalls: 1.5 } }, /Expected `p\.breaker\.minimumCalls` to be an integer ≥ 1, got `1\.5` \(number\)/],
    ['concurrency limit', { concurrency: { limit: 0 } }, /Expected `p\.concurrency\.limit` to be an integer ≥ 1, got `0` \(number\)/],
    ['concurrency queue', { concurrency: { limit: 1, queue: -1 } }, /Expected `p\.concurrency\.queue` to be an integer ≥ 0, got `-1` \(number\)/],
    ['validate not a schema', { validate: { parse: () => 1 } }, /Expected `p\.validate` to be a Standard Schema validator/],
    ['optional without fallback', { criticality: 'optional' }, /Expected `p\.fallback` to be a value or a function of the error/],
    ['core with fallback', { fallback: 1 }, /Expected `p\.fallback` to be absent on a 'core' dependency/],
    ['cache stale < fresh', { criticality: 'optional', fallback: 1, cache: { fresh: '1m', stale: '30s' } }, /Expected `p\.cache\.stale` to be a duration ≥ cache\.fresh \(60000ms\)/],
    ['availability > 1', { slo: { availability: 99.9 } }, /Expected `p\.slo\.availability` to be a ratio > 0 and ≤ 1, got `99\.9` \(number\)/],
    ['payload limit', { payload: { maxResponseBytes: 0 } }, /Expected `p\.payload\.maxResponseBytes` to be an integer ≥ 1, got `0` \(number\)/],
    ['deferred on core', { deferred: { maxQueue: 5 } }, /Expected `p\.deferred` to be absent unless criticality is 'deferrable'/],
    ['unknown key', { timeot: '1s' }, /Unknown option `dependency 'p'\.timeot`/],
  ];
  it.each(cases)('%s', (_name, spec, message) => {
    const name = 'p';
    const e = configError(() => createWall({ service: 'x', clock: new FakeClock() }).dependency(name, spec as never));
    expect(e.message).toMatch(message);
  });

  it('a dependency is declared once', () => {
    wall.dependency('db', {});
    expect(configError(() => wall.dependency('db', {})).message).toMatch(/already declared/);
  });

  it('operations validate priority and deadline', () => {
    expect(configError(() => wall.operation('a', { priority: 'urgent' as never })).message).toMatch(
      /Expected `a\.priority` to be one of 'critical-plus', 'critical', 'sheddable-plus', 'sheddable', got `"urgent"`/,
    );
    expect(configError(() => wall.operation('b', { deadline: 0 })).message).toMatch(/Expected `b\.deadline` to be a duration ≥ 1ms/);
  });

  it('createWall validates its options', () => {
    expect(configError(() => createWall({ service: '' })).message).toMatch(/Expected `service` to be a non-empty string, got `""`/);
    expect(configError(() => createWall({ service: 's', healthInterval: -1 })).message).toMatch(/Expected `healthInterval`/);
    expect(configError(() => createWall({ service: 's', timeline: {} as never })).message).toMatch(/Expected `timeline` to be an object with a record/);
  });
});

describe('close()', () => {
  it('releases every timer and refuses further calls', async () => {
    const clock = new FakeClock();
    const wall = createWall({ service: 's', clock });
    const dep = wall.dependency('db', { timeout: '1s', retry: { attempts: 2, backoff: '10ms', budget: false } });
    const hanging = dep.call(() => new Promise(() => undefined)).catch((e: BlastwallError) => e.code);
    await clock.advance(5);
    expect(clock.pendingTimers()).toBeGreaterThan(0);
    await wall.close();
    expect(clock.pendingTimers()).toBe(0);
    await expect(dep.call(() => 1)).rejects.toMatchObject({ code: 'CLOSED' });
    expect(() => wall.dependency('x', {})).toThrow(/closed/);
    expect(await hanging).toBe('CLOSED'); // the call in flight ended with CLOSED instead of waiting forever
  });

  it('closing one wall does not touch another wall on the same clock', async () => {
    const clock = new FakeClock();
    const a = createWall({ service: 'a', clock });
    const b = createWall({ service: 'b', clock });
    const depB = b.dependency('db', { timeout: '1s', retry: false });
    const pending = depB.call(() => new Promise(() => undefined)).catch((e: BlastwallError) => e.code);
    await a.close();
    await clock.advance(1000);
    expect(await pending).toBe('TIMEOUT');
    await b.close();
  });
});
