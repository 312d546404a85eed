import { describe, expect, it } from 'vitest';
import { FakeClock, flushMicrotasks } from '../../core/fake-clock.js';
import { cache } from './index.js';

function counter(values: unknown[] = []) {
  let calls = 0;
  const load = async () => {
    calls++;
    return values.length > 0 ? values.shift() : `v${calls}`;
  };
  return { load, calls: () => calls };
}

describe('freshness cache', () => {
  it('serves fresh hits without calling, with their age', async () => {
    const clock = new FakeClock();
    const c = cache({ fresh: '30s', stale: '10m', jitter: 0, clock });
    const l = counter();
    expect(await c.get('k', l.load)).toEqual({ value: 'v1', source: 'live', ageMs: 0, stale: false });
    clock.set(clock.now() + 12_345);
    expect(await c.get('k', l.load)).toEqual({ value: 'v1', source: 'cache', ageMs: 12_345, stale: false });
    expect(l.calls()).toBe(1);
  });

  it('stale-while-revalidate: a stale value is served at once and refreshed once in the background', async () => {
    const clock = new FakeClock();
    const c = cache({ fresh: '1s', stale: '1m', jitter: 0, clock });
    let release!: (v: string) => void;
    let calls = 0;
    const slow = () => {
      calls++;
      return calls === 1 ? Promise.resolve('old') : new Promise<string>((r) => (release = r));
    };
    await c.get('k', slow);
    clock.set(clock.now() + 5000);
    const a = await c.get('k', slow);
    const b = await c.get('k', slow);
    expect(a).toMatchObject({ value: 'old', source: 'cache', stale: true, ageMs: 5000 });
    expect(b).toMatchObject({ value: 'old', stale: true });
    expect(calls).toBe(2); // one refresh for both
    release('new');
    await flushMicrotasks();
    expect(await c.get('k', slow)).toMatchObject({ value: 'new', source: 'cache', stale: false, ageMs: 0 });
  });

  it('a stale value served while the background refresh keeps failing carries the refresh error (it is stale because the source fails)', async () => {
    const clock = new FakeClock();
    const c = cache({ fresh: '1s', stale: '1m', jitter: 0, clock });
    await c.get('k', async () => 'v1');
    clock.set(clock.now() + 2000);
    const down = new Error('down');
    const failing = () => Promise.reject(down);
    // the first stale hit cannot know yet: the refresh it starts is still running
    expect(await c.get('k', failing)).toEqual({ value: 'v1', source: 'cache', ageMs: 2000, stale: true });
    await flushMicrotasks();
    expect(await c.get('k', failing)).toEqual({ value: 'v1', source: 'cache', ageMs: 2000, stale: true, error: down });
    // once a refresh succeeds, the new value replaces the entry and the error with it
    await flushMicrotasks();
    await c.get('k', async () => 'v2');
    await flushMicrotasks();
    clock.set(clock.now() + 500);
    expect(await c.get('k', failing)).toEqual({ value: 'v2', source: 'cache', ageMs: 500, stale: false });
  });

  it('stale-if-error: a failed load serves the stale value with the error; past `stale` the error is thrown', async () => {
    const clock = new FakeClock();
    const c = cache({ fresh: '1s', stale: '1m', revalidate: false, jitter: 0, clock });
    await c.get('k', async () => 'good');
    clock.set(clock.now() + 30_000);
    const boom = new Error('down');
    const r = await c.get('k', () => Promise.reject(boom));
    expect(r).toMatchObject({ value: 'good', source: 'cache', stale: true, ageMs: 30_000, error: boom });
    clock.set(clock.now() + 31_000);
    await expect(c.get('k', () => Promise.reject(boom))).rejects.toBe(boom);
  });

  it('single-flight: 1,000 concurrent misses for one key make one call', async () => {
    const c = cache({ fresh: '1s', stale: '1m', clock: new FakeClock() });
    let calls = 0;
    let release!: (v: number) => void;
    const load = () => {
      calls++;
      return new Promise<number>((r) => (release = r));
    };
    const all = Array.from({ length: 1000 }, () => c.get('hot', load));
    await flushMicrotasks();
    release(42);
    const results = await Promise.all(all);
    expect(calls).toBe(1);
    expect(results.every((r) => r.value === 42)).toBe(true);
    expect(c.stats()).toMatchObject({ loads: 1, coalesced: 999 });
  });

  it('jitters expiry so keys stored together do not expire together', async () => {
    let seed = 1;
    const random = () => {
      seed = (seed * 48271) % 2147483647;
      return seed / 2147483647;
    };
    const clock = new FakeClock();
    const c = cache({ fresh: '100s', stale: '1000s', jitter: 0.2, maxEntries: 1000, clock, random });
    for (let i = 0; i < 500; i++) await c.get(`k${i}`, async () => i);
    const fresh = Array.from({ length: 500 }, (_, i) => c.expiryOf(`k${i}`)!.freshUntil - clock.now());
    const min = Math.min(...fresh);
    const max = Math.max(...fresh);
    expect(min).toBeGreaterThanOrEqual(80_000);
    expect(max).toBeLessThanOrEqual(100_000);
    expect(max - min).toBeGreaterThan(15_000); // spread across most of the 20% band
    const perSecond = new Set(fresh.map((f) => Math.floor(f / 1000)));
    expect(perSecond.size).toBeGreaterThan(15);
  });

  it('bounds memory by entries and by bytes, evicting the least recently used', async () => {
    const clock = new FakeClock();
    const byCount = cache({ fresh: '1h', stale: '1h', maxEntries: 3, clock });
    for (const k of ['a', 'b', 'c']) await byCount.get(k, async () => k);
    await byCount.get('a', async () => 'x'); // touch a
    await byCount.get('d', async () => 'd'); // evicts b
    expect(byCount.peek('b')).toBeUndefined();
    expect(byCount.peek('a')?.value).toBe('a');
    expect(byCount.stats()).toMatchObject({ entries: 3, evictions: 1 });

    const byBytes = cache({ fresh: '1h', stale: '1h', maxBytes: 100, sizeOf: (v) => (v as string).length, clock });
    for (let i = 0; i < 10; i++) await byBytes.get(`k${i}`, async () => 'x'.repeat(30));
    expect(byBytes.stats().bytes).toBeLessThanOrEqual(100);
    expect(byBytes.stats().entries).toBe(3);
    await byBytes.get('huge', async () => 'x'.repeat(500)); // larger than the cache: returned, never kept
    expect(byBytes.peek('huge')).toBeUndefined();
  });

  it('reports ageMs exactly as the clock moves', async () => {
    const clock = new FakeClock();
    const c = cache({ fresh: '10s', stale: '10s', jitter: 0, clock });
    await c.get('k', async () => 1);
    for (const step of [1, 250, 999, 4000]) {
      clock.set(clock.now() + step);
      const r = await c.get('k', async () => 2);
      expect(r.ageMs).toBe(c.peek('k')!.ageMs);
    }
    expect((await c.get('k', async () => 2)).ageMs).toBe(5250);
  });

  it('validates its options', () => {
    expect(() => cache({ fresh: '1m', stale: '1s' })).toThrow(/Expected `cache.stale` to be a duration ≥ cache.fresh \(60000ms\), got `"1s"`/);
    expect(() => cache({ stale: '1m', jitter: 2 })).toThrow(/Expected `cache.jitter` to be a ratio between 0 and 1, got `2`/);
    expect(() => cache({ stale: '1m', maxEntries: 0 })).toThrow(/Expected `cache.maxEntries` to be an integer ≥ 1/);
  });
});
