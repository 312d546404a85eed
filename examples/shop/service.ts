/**
 * The reference shop service used by the demo and the drills: one wall, four dependencies of every
 * criticality, two operations, and fault switches to break each dependency on purpose.
 */
import { type AttemptContext, type Clock, type Duration, type Timeline, type Wall, type WallOptions, createWall, realClock, sleep } from 'blastwall';

export interface Faults {
  /** Extra latency added to every payments call (ms). */
  paymentsLatencyMs: number;
  /** Share of payments calls that fail (0..1). */
  paymentsErrorRate: number;
  /** Recommendations hang until aborted. */
  recsHang: boolean;
  /** Email provider rejects everything. */
  emailDown: boolean;
}

export function createShop(
  options: {
    clock?: Clock;
    random?: () => number;
    timeline?: Timeline;
    /** Extra wall options (drills: `faults`, `store`, `modeDwell`). */
    wall?: Partial<Omit<WallOptions, 'service' | 'clock' | 'timeline'>>;
    /** The dependencies' health window (default 2s; the demo, seconds long, uses a shorter one). */
    healthWindow?: Duration;
  } = {},
) {
  const health = { window: options.healthWindow ?? '2s', minDwellMs: 300 };
  const clock = options.clock ?? realClock;
  const random = options.random ?? Math.random;
  const faults: Faults = { paymentsLatencyMs: 0, paymentsErrorRate: 0, recsHang: false, emailDown: false };
  const wall: Wall = createWall({
    service: 'shop',
    clock,
    healthInterval: '200ms',
    telemetry: { prometheus: true },
    ...(options.timeline ? { timeline: options.timeline } : {}),
    ...options.wall,
  });

  const payments = wall.dependency('payments', {
    criticality: 'core',
    timeout: '120ms',
    retry: { attempts: 3, backoff: { base: '5ms', max: '40ms', jitter: 'full' }, budget: { ratio: 0.2, minPerSecond: 5 } },
    breaker: { failureRate: 0.5, window: '2s', minimumCalls: 10, halfOpenAfter: '800ms', probes: 2 },
    concurrency: { limit: 32, queue: 64 },
    slo: { latency: { p99: '80ms' }, availability: 0.99 },
    health,
  });
  const recs = wall.dependency('recommendations', {
    criticality: 'optional',
    timeout: '60ms',
    fallback: () => ['bestsellers'],
    cache: { fresh: '100ms', stale: '1m' },
    health,
  });
  const email = wall.dependency('email', {
    criticality: 'deferrable',
    timeout: '100ms',
    retry: { attempts: 3, backoff: { base: '10ms', max: '50ms' } },
    deferred: { maxQueue: 1000, workers: 4 },
    health,
  });

  const checkout = wall.operation('checkout', { priority: 'critical', deadline: '500ms' });
  const browse = wall.operation('browse', { priority: 'sheddable', deadline: '200ms' });

  async function chargeCard(ctx: AttemptContext): Promise<{ id: string }> {
    await sleep(clock, 5 + faults.paymentsLatencyMs, ctx.signal);
    if (random() < faults.paymentsErrorRate) throw new Error('payments: 503 from upstream');
    return { id: `ch_${Math.floor(random() * 1e9).toString(36)}` };
  }

  async function loadRecs(ctx: AttemptContext): Promise<string[]> {
    if (faults.recsHang) await sleep(clock, 60_000, ctx.signal);
    await sleep(clock, 3, ctx.signal);
    return ['socks', 'scarf'];
  }

  async function sendEmail(): Promise<void> {
    await sleep(clock, 2);
    if (faults.emailDown) throw new Error('smtp: connection refused');
  }

  return {
    wall,
    faults,
    /** POST /checkout: charge (core), receipt email (deferrable). */
    checkout: () =>
      checkout.run(async () => {
        const charge = await payments.call(chargeCard);
        await email.call(sendEmail);
        return charge;
      }),
    /** GET /: the page with recommendations (optional). */
    browse: () => browse.run(() => recs.attempt(loadRecs)),
  };
}
