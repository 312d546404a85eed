import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type AttemptContext, BlastwallError, createWall, sleep, type Wall } from '../../src/index.js';
import { FakeClock } from '../../src/testing/index.js';
import type { TimelineEntryInput } from '../../src/timeline/index.js';

function recorder() {
  const entries: TimelineEntryInput[] = [];
  return { entries, record: (e: TimelineEntryInput) => void entries.push(e) };
}

function shop(clock: FakeClock, timeline = recorder()) {
  const wall = createWall({ service: 'shop', clock, timeline, drift: false, healthInterval: '500ms' });
  const payments = wall.dependency('payments', {
    timeout: '200ms',
    retry: { attempts: 2, backoff: '5ms', budget: false },
    breaker: { failureRate: 0.5, minimumCalls: 10, window: '10s', halfOpenAfter: '5s' },
    concurrency: { limit: 16, queue: 16 },
  });
  const recs = wall.dependency('recs', { criticality: 'optional', timeout: '100ms', fallback: ['bestsellers'] });
  const checkout = wall.operation('checkout', { priority: 'critical', deadline: '2s' });
  wall.feature('banner', { cost: 'expensive', owner: 'web', expires: '2027-06-01' });
  return { wall, payments, recs, checkout, timeline };
}

/** Latency between `lo` and `hi` ms, from a fixed sequence (a drill, not a sleep). */
function latency(clock: FakeClock, lo: number, hi: number) {
  let i = 0;
  return async (ctx: AttemptContext) => {
    const ms = lo + ((i++ * 37) % 100) * ((hi - lo) / 100);
    await sleep(clock, ms, ctx.signal);
    return 'ok';
  };
}

async function load(clock: FakeClock, wall: Wall, call: () => Promise<unknown>, ms: number, every = 10): Promise<{ ok: number; failed: number }> {
  const r = { ok: 0, failed: 0 };
  const pending: Promise<unknown>[] = [];
  for (let t = 0; t < ms; t += every) {
    pending.push(call().then(() => r.ok++, () => r.failed++));
    await clock.advance(every);
  }
  await clock.advance(3000);
  await Promise.all(pending);
  void wall;
  return r;
}

describe('live configuration', () => {
  it('a valid patch applies at once, with a version, a diff and a timeline entry; the boundary really changes', async () => {
    const clock = new FakeClock();
    const s = shop(clock);
    const v = s.wall.configure({ dependencies: { payments: { timeout: '50ms' } } }, { reason: 'payments p99 is 20ms', by: 'ana' });
    expect(v.version).toBe(1);
    expect(v.changes).toEqual([{ path: 'dependencies.payments.timeout', from: '200ms', to: '50ms' }]);
    expect(s.payments.timeoutMs).toBe(50);
    const e = s.timeline.entries.find((x) => x.kind === 'config');
    expect(e?.title).toBe('config v1 by ana: payments p99 is 20ms — dependencies.payments.timeout: "200ms" → "50ms"');
    // a call now times out at 50ms
    const r = s.checkout.run(() => s.payments.call(latency(clock, 80, 81)));
    const settled = r.then(() => 'ok', (err: BlastwallError) => err.code);
    await clock.advance(500);
    expect(await settled).toBe('TIMEOUT');
    expect(s.wall.config.history().map((h) => h.version)).toEqual([0, 1]);
    await s.wall.close();
  });

  it('an invalid patch throws CONFIG_INVALID naming the field and changes nothing, even when another part of it was valid', async () => {
    const clock = new FakeClock();
    const s = shop(clock);
    const before = s.wall.config.current();
    const bad: [unknown, RegExp][] = [
      [{ dependencies: { payments: { timeout: '50ms' }, recs: { timeout: -5 } } }, /recs\.timeout/],
      [{ dependencies: { paymnts: { timeout: '1s' } } }, /Unknown dependency `dependencies\.paymnts`/],
      [{ dependencies: { payments: { criticality: 'optional' } } }, /`dependencies\.payments\.criticality` cannot change at run time/],
      [{ dependencies: { payments: { retry: { attempts: 0 } } } }, /payments\.retry\.attempts/],
      [{ operations: { checkout: { deadline: 'soon' } } }, /checkout\.deadline/],
      [{ features: { banner: 'maybe' } }, /features\.banner/],
      [{ mode: 'degraded' }, /Unknown patch section `mode`/],
    ];
    for (const [patch, message] of bad) {
      let err: unknown;
      try {
        s.wall.configure(patch as never, { reason: 'r', by: 'b' });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(BlastwallError);
      expect((err as BlastwallError).code).toBe('CONFIG_INVALID');
      expect((err as BlastwallError).message).toMatch(message);
    }
    expect(s.payments.timeoutMs).toBe(200);
    expect(s.wall.config.current()).toEqual(before);
    expect(s.timeline.entries.filter((x) => x.kind === 'config')).toEqual([]);
    await s.wall.close();
  });

  it('calls in flight finish under the boundaries they started with', async () => {
    const clock = new FakeClock();
    const s = shop(clock);
    const started = s.payments.call(latency(clock, 150, 151)).then(() => 'ok', (e: BlastwallError) => e.code);
    await clock.advance(10);
    s.wall.configure({ dependencies: { payments: { timeout: '100ms' } } }, { reason: 'tighter', by: 'ana' });
    const after = s.payments.call(latency(clock, 150, 151)).then(() => 'ok', (e: BlastwallError) => e.code);
    await clock.advance(1000);
    expect(await started).toBe('ok'); // 150ms under the 200ms it started with
    expect(await after).toBe('TIMEOUT'); // 150ms over the new 100ms
    await s.wall.close();
  });

  it('a section that did not change keeps its state: an open breaker stays open across a timeout change', async () => {
    const clock = new FakeClock();
    const s = shop(clock);
    const fail = () => Promise.reject(new Error('500'));
    const calls = Array.from({ length: 12 }, () => s.payments.call(fail).catch(() => undefined));
    await clock.advance(100); // the 5ms backoffs
    await Promise.all(calls);
    expect(s.payments.breaker?.state).toBe('open');
    s.wall.configure({ dependencies: { payments: { timeout: '150ms' } } }, { reason: 'r', by: 'b' });
    expect(s.payments.breaker?.state).toBe('open');
    await expect(s.payments.call(() => 'ok')).rejects.toMatchObject({ code: 'CIRCUIT_OPEN' });
    s.wall.configure({ dependencies: { payments: { breaker: { failureRate: 0.9, minimumCalls: 10, window: '10s', halfOpenAfter: '5s' } } } }, { reason: 'r', by: 'b' });
    expect(s.payments.breaker?.state).toBe('closed'); // a new breaker for a new breaker configuration
    await s.wall.close();
  });

  it('rollback(version) returns to that configuration as a new version; fallback off makes an optional dependency fail', async () => {
    const clock = new FakeClock();
    const s = shop(clock);
    s.wall.configure({ dependencies: { recs: { fallback: 'off' } } }, { reason: 'test the page without it', by: 'ana' });
    await expect(s.recs.call(() => Promise.reject(new Error('down')))).rejects.toBeInstanceOf(BlastwallError);
    const v = s.wall.config.rollback(0, { reason: 'done', by: 'ana' });
    expect(v).toMatchObject({ version: 2, rollbackTo: 0 });
    expect(await s.recs.call(() => Promise.reject(new Error('down')))).toEqual(['bestsellers']);
    await s.wall.close();
  });

  it('property: any sequence of valid and invalid patches leaves the last valid configuration, and history replays to it', async () => {
    const valid = fc.oneof(
      fc.record({ dependencies: fc.record({ payments: fc.record({ timeout: fc.integer({ min: 1, max: 5000 }).map((n) => `${n}ms`) }) }) }),
      fc.record({ dependencies: fc.record({ payments: fc.record({ retry: fc.record({ attempts: fc.integer({ min: 1, max: 5 }) }) }) }) }),
      fc.record({ dependencies: fc.record({ payments: fc.record({ concurrency: fc.record({ limit: fc.integer({ min: 1, max: 64 }) }) }) }) }),
      fc.record({ operations: fc.record({ checkout: fc.record({ deadline: fc.integer({ min: 1, max: 10_000 }) }) }) }),
      fc.record({ features: fc.record({ banner: fc.constantFrom('on', 'off', 'auto') }) }),
      fc.record({ dependencies: fc.record({ recs: fc.record({ fallback: fc.constantFrom('on', 'off') }) }) }),
    );
    const invalid = fc.oneof(
      fc.record({ dependencies: fc.record({ payments: fc.record({ timeout: fc.oneof(fc.integer({ max: 0 }), fc.constant('fast'), fc.constant(null)) }) }) }),
      fc.record({ dependencies: fc.record({ payments: fc.record({ retry: fc.record({ attempts: fc.integer({ max: 0 }) }) }) }) }),
      fc.record({ dependencies: fc.record({ nope: fc.record({ timeout: fc.constant('1s') }) }) }),
      fc.record({ operations: fc.record({ checkout: fc.record({ priority: fc.constant('urgent') }) }) }),
      fc.record({ features: fc.record({ banner: fc.constant('maybe') }) }),
      fc.record({ dependencies: fc.record({ payments: fc.record({ timeout: fc.constant('100ms'), criticality: fc.constant('optional') }) }) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(valid.map((p) => ({ ok: true, p })), invalid.map((p) => ({ ok: false, p }))), { maxLength: 12 }), async (steps) => {
        const clock = new FakeClock();
        const s = shop(clock);
        let expected = s.wall.config.current().config;
        for (const step of steps) {
          const before = s.wall.config.current();
          const timeoutBefore = s.payments.timeoutMs;
          try {
            s.wall.configure(step.p as never, { reason: 'prop', by: 'fc' });
            expect(step.ok).toBe(true);
            expected = s.wall.config.current().config;
          } catch (e) {
            expect(step.ok).toBe(false);
            expect((e as BlastwallError).code).toBe('CONFIG_INVALID');
            // an invalid patch changes neither the configuration nor the behaviour
            expect(s.wall.config.current()).toEqual(before);
            expect(s.payments.timeoutMs).toBe(timeoutBefore);
          }
        }
        expect(s.wall.config.current().config).toEqual(expected);
        // history replays to it: applying each version's changes in order on a fresh wall gives the same
        const replay = shop(new FakeClock());
        for (const h of s.wall.config.history().slice(1)) {
          const patch: Record<string, Record<string, Record<string, unknown>>> = {};
          const config = h.config as unknown as Record<string, Record<string, unknown>>;
          const features: Record<string, unknown> = {};
          for (const c of h.changes) {
            const [section, name, top] = c.path.split('.');
            if (section === 'features') features[name!] = config.features![name!];
            else ((patch[section!] ??= {})[name!] ??= {})[top!] = (config[section!]![name!] as Record<string, unknown>)[top!];
          }
          if (Object.keys(features).length > 0) (patch as Record<string, unknown>).features = features;
          if (Object.keys(patch).length > 0) replay.wall.configure(patch as never, { reason: 'replay', by: 'fc' });
        }
        expect(replay.wall.config.current().config).toEqual(expected);
        expect(replay.payments.timeoutMs).toBe(s.payments.timeoutMs);
        await s.wall.close();
        await replay.wall.close();
      }),
      { numRuns: 60 },
    );
  });
});

describe('guarded changes', () => {
  it('halving the payments timeout under a latency that makes it time out is rolled back by the wall within the window, with figures', async () => {
    const clock = new FakeClock();
    const s = shop(clock);
    const lat = latency(clock, 60, 180);
    const call = () => s.checkout.run(() => s.payments.call(lat));
    await load(clock, s.wall, call, 3000); // the window before: 60–180ms under a 200ms timeout, no failures
    const v = s.wall.configure({ dependencies: { payments: { timeout: '100ms' } } }, { reason: 'halve the timeout', by: 'ana', guard: { for: '10m' } });
    const t0 = clock.now();
    await load(clock, s.wall, call, 3000);
    const rolled = s.timeline.entries.find((e) => e.kind === 'config' && (e.data as { outcome?: string } | undefined)?.outcome === 'rolled-back');
    expect(rolled?.title).toMatch(new RegExp(`config v${v.version} rolled back: error ratio of payments 0% → \\d+(\\.\\d)?%`));
    expect(s.payments.timeoutMs).toBe(200);
    const last = s.wall.config.current();
    expect(last).toMatchObject({ automatic: true, rollbackTo: 0, by: 'blastwall (guard)' });
    expect(last.at - t0).toBeLessThan(5000); // within seconds, not at the end of the 10 minute window
    await s.wall.close();
  });

  it('a harmless guarded change is kept, and the timeline says so when the window ends', async () => {
    const clock = new FakeClock();
    const s = shop(clock);
    const lat = latency(clock, 60, 180);
    const call = () => s.checkout.run(() => s.payments.call(lat));
    await load(clock, s.wall, call, 2000);
    s.wall.configure({ dependencies: { payments: { timeout: '400ms' } } }, { reason: 'more room', by: 'ana', guard: { for: '5s' } });
    await load(clock, s.wall, call, 6000);
    expect(s.payments.timeoutMs).toBe(400);
    const kept = s.timeline.entries.find((e) => e.kind === 'config' && (e.data as { outcome?: string } | undefined)?.outcome === 'kept');
    expect(kept?.title).toMatch(/config v1 kept after its guard window: payments: error ratio 0% → 0%/);
    await s.wall.close();
  });

  it('a deploy marker is watched like a change and the timeline says what worsened after it', async () => {
    const clock = new FakeClock();
    const s = shop(clock);
    let slow = false;
    const fast = latency(clock, 10, 20);
    const slowLat = latency(clock, 250, 260);
    const call = () => s.checkout.run(() => s.payments.call(slow ? slowLat : fast));
    await load(clock, s.wall, call, 2000);
    s.wall.markDeploy('v1.4.0', { by: 'ci', watch: '3s' });
    slow = true;
    await load(clock, s.wall, call, 4000);
    const watch = s.timeline.entries.find((e) => e.kind === 'deploy' && (e.data as { outcome?: string } | undefined)?.outcome === 'worse');
    expect(watch?.title).toMatch(/after deploy v1\.4\.0: error ratio of payments 0% → \d+/);
    await s.wall.close();
  });
});
