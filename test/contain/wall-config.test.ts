/**
 * Issue 17, findings 7 and 8 at the wall: bad options fail at declaration with CONFIG_INVALID naming the
 * field (never a TypeError later, never a silent default), durations that arm timers stay within
 * setTimeout's range, and a call queued under a 30-day deadline waits for its slot instead of failing in
 * 1 ms (vitest's fake timers reproduce Node's overflow to 1 ms).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BlastwallError } from '../../src/core/errors.js';
import { type Wall, createWall } from '../../src/wall/index.js';
import { FakeClock } from '../../src/testing/index.js';

function configError(build: () => unknown): BlastwallError {
  try {
    build();
  } catch (e) {
    expect(e).toBeInstanceOf(BlastwallError);
    expect((e as BlastwallError).code).toBe('CONFIG_INVALID');
    return e as BlastwallError;
  }
  throw new Error('expected CONFIG_INVALID, but it built');
}

let wall: Wall | undefined;
afterEach(async () => {
  vi.useRealTimers();
  await wall?.close();
  wall = undefined;
});

describe('wall options fail at declaration, naming the field', () => {
  it.each([null, 0, Number.NaN, true, 'yes', []])('retry.budget: %s', (budget) => {
    wall = createWall({ service: 's', clock: new FakeClock() });
    const e = configError(() => wall!.dependency('pay', { retry: { budget: budget as never } }));
    expect(e.message).toMatch(/^Expected `pay\.retry\.budget` to be false, a RetryBudget, or options/);
  });

  it("drift.detector: 'abc' names drift.detector; an unknown detector option names its path", () => {
    expect(configError(() => createWall({ service: 's', drift: { detector: 'abc' as never } })).message).toContain('`drift.detector`');
    expect(configError(() => createWall({ service: 's', drift: { detector: { windw: 5 } as never } })).message).toContain('`drift.detector.windw`');
  });

  it.each([5, 'now', {}, { now: () => 1 }, null])('clock: %s', (clock) => {
    expect(configError(() => createWall({ service: 's', clock: clock as never })).message).toMatch(/^Expected `clock` to be a Clock/);
  });

  it.each([null, 5, {}, { record: 'x' }])('timeline: %s', (timeline) => {
    expect(configError(() => createWall({ service: 's', timeline: timeline as never })).message).toMatch(/^Expected `timeline` to be/);
  });

  it.each([
    ['healthInterval', () => createWall({ service: 's', healthInterval: '30d' })],
    ['closeGrace', () => createWall({ service: 's', closeGrace: 1e308 })],
    ['pay.timeout', () => createWall({ service: 's', clock: new FakeClock() }).dependency('pay', { timeout: '30d' })],
    ['pay.concurrency.queueTimeout', () => createWall({ service: 's', clock: new FakeClock() }).dependency('pay', { concurrency: { limit: 1, queueTimeout: '25d' } })],
  ])('%s beyond the timer limit', (field, build) => {
    const e = configError(build);
    expect(e.message).toContain(`\`${field}\``);
    expect(e.message).toContain('2147483647ms');
  });
});

describe('a far deadline on the real clock', () => {
  it('a call queued for a slot under a 30-day operation deadline waits for the slot, not 1 ms', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'performance'] });
    wall = createWall({ service: 's', healthInterval: '1h' });
    const dep = wall.dependency('pay', { concurrency: { limit: 1, queue: 1 }, timeout: '20d', breaker: false });
    const op = wall.operation('batch', { deadline: '30d' });
    let release!: () => void;
    const holder = dep.call(() => new Promise<void>((r) => (release = r)));
    let outcome = 'pending';
    op.run(() => dep.call(() => 'ran')).then(
      (v) => (outcome = v),
      (e: BlastwallError) => (outcome = e.code),
    );
    await vi.advanceTimersByTimeAsync(20);
    expect(outcome).toBe('pending');
    await vi.advanceTimersByTimeAsync(86_400_000);
    expect(outcome).toBe('pending');
    release();
    await holder;
    await vi.advanceTimersByTimeAsync(0);
    expect(outcome).toBe('ran');
  });
});
