/**
 * Drill definitions: bad input fails before any load is sent, naming the field; a small in-process target
 * on a fake clock checks the runner's figures and the report (Markdown + SVG chart, JSON, JUnit, timeline).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BlastwallError, createWall, sleep } from '../../src/index.js';
import { loadDrills } from '../../src/cli/drill.js';
import {
  type DrillEnv,
  type DrillSpec,
  FakeClock,
  defineDrill,
  dependency,
  fault,
  integrity,
  junitReport,
  mode,
  operation,
  recovery,
  runDrill,
  status,
  writeReport,
} from '../../src/testing/index.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A tiny service: `pay` calls the core `payments`, `look` the optional `recs`. Counts every request it gets. */
function tinyApp(counter: { requests: number }) {
  return (env: DrillEnv) => {
    const wall = createWall({ service: 'tiny', ...env.wallOptions, healthInterval: '100ms', modeDwell: '200ms', drift: false });
    wall.rules([{ name: 'payments down', mode: 'degraded', when: (s) => s.dependencies.payments?.state === 'unavailable' }]);
    const payments = wall.dependency('payments', { timeout: '50ms', retry: false, breaker: false, health: { window: '1s', minimumCalls: 3, minDwellMs: 0 } });
    const recs = wall.dependency('recs', { criticality: 'optional', timeout: '20ms', fallback: [] });
    const pay = wall.operation('pay');
    const look = wall.operation('look');
    return {
      wall,
      operations: {
        pay: () => {
          counter.requests++;
          return pay.run(() => payments.call((ctx) => sleep(env.clock, 5, ctx.signal)));
        },
        look: () => {
          counter.requests++;
          return look.run(() => recs.attempt((ctx) => sleep(env.clock, 2, ctx.signal)));
        },
      },
      close: () => wall.close(),
    };
  };
}

function spec(counter: { requests: number }, over: Partial<DrillSpec> = {}): DrillSpec {
  return {
    name: 'tiny payments down',
    target: { app: tinyApp(counter) },
    load: { duration: '6s', operations: { pay: { rate: 20 }, look: { rate: 10, priority: 'sheddable' } } },
    faults: [{ dependency: 'payments', fault: fault.error('boom'), at: '2s', for: '2s' }],
    invariants: [
      operation('look').successRate.atLeast(0.99),
      operation('pay').successRate.atLeast(0.99),
      mode.reaches('degraded', { within: '1s' }),
      mode.returnsTo('normal', { within: '1s' }),
      recovery.goodput({ backTo: 0.9, within: '1s' }),
      dependency('payments').attemptsPerCall.atMost(1),
      status.never('unavailable'),
    ],
    ...over,
  };
}

function configMessage(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(BlastwallError);
    expect((e as BlastwallError).code).toBe('CONFIG_INVALID');
    return (e as Error).message;
  }
  throw new Error('expected CONFIG_INVALID');
}

describe('bad drill input fails before any load is sent, naming the field', () => {
  const counter = { requests: 0 };
  it.each<[string, Partial<DrillSpec>, RegExp]>([
    ['a negative rate', { load: { duration: '5s', operations: { pay: { rate: -5 } } } }, /^Expected `load\.operations\.pay\.rate` to be a finite number between 0 and 100000, got `-5` \(number\)$/],
    ['an unparsable duration', { load: { duration: '5 parsecs' as never, operations: { pay: { rate: 5 } } } }, /^Expected `load\.duration` to be a duration between 100ms and 3600000ms .*got `"5 parsecs"` \(string\)$/],
    ['an unparsable fault start', { faults: [{ dependency: 'payments', fault: fault.error(), at: 'soon' as never, for: '1s' }] }, /^Expected `faults\[0\]\.at` to be a duration/],
    ['a bad fault', { faults: [{ dependency: 'payments', fault: { kind: 'latency', delay: '-1s' } as never, at: '1s', for: '1s' }] }, /^Expected `faults\[0\]\.fault\.delay` to be a duration ≥ 0ms/],
    [
      'an invariant on an unknown operation',
      { invariants: [operation('refund').successRate.atLeast(0.9)] },
      /^Expected `invariants\[0\]` to be an invariant on an operation of the load \(pay, look\): operation\('refund'\)\.successRate >= 0\.900, got `"refund"` \(string\)$/,
    ],
    ['an unfinished invariant', { invariants: [operation('pay').successRate as never] }, /^Expected `invariants\[0\]` to be an invariant built with operation\(\)/],
    ['a priority mix with no weight', { load: { duration: '5s', operations: { pay: { rate: 5, priority: { critical: 0 } } } } }, /^Expected `load\.operations\.pay\.priority` to be shares per priority class with a positive sum/],
    ['too much load', { load: { duration: '1h', operations: { pay: { rate: 1000 } } } }, /^Expected `load` to be at most 500000 requests in all/],
    ['a window that cannot be observed', { invariants: [recovery.goodput({ backTo: 0.9, within: '10s' })] }, /^Expected `load\.duration` to be a duration ≥ 14000ms so that "recovery: goodput back to 90% within 10s of fault end" can be observed/],
    ['a URL off this machine', { target: { url: 'http://example.com', token: 'x'.repeat(16), operations: { pay: { path: '/pay' } } } }, /^Expected `target\.url` to be an http URL on 127\.0\.0\.1, localhost or \[::1\]/],
  ])('%s', (_name, over, message) => {
    expect(configMessage(() => defineDrill(spec(counter, over)))).toMatch(message);
    expect(counter.requests).toBe(0);
  });

  it('an unknown dependency is refused by the runner before any request', async () => {
    const c = { requests: 0 };
    const drill = defineDrill(spec(c, { faults: [{ dependency: 'paymnts', fault: fault.error(), at: '1s', for: '1s' }], invariants: [operation('pay').successRate.atLeast(0.5)] }));
    const err = await runDrill(drill, { clock: new FakeClock() }).catch((e: unknown) => e);
    expect((err as BlastwallError).message).toBe('Expected `faults[0].dependency` to be a dependency of the target (payments, recs), got `"paymnts"` (string)');
    expect(c.requests).toBe(0);
  });

  it('an invariant on an unknown dependency is refused by the runner before any request', async () => {
    const c = { requests: 0 };
    const drill = defineDrill(spec(c, { invariants: [dependency('stripe').attemptsPerCall.atMost(1.1)] }));
    const err = await runDrill(drill, { clock: new FakeClock() }).catch((e: unknown) => e);
    expect((err as BlastwallError).message).toMatch(/^Expected `invariants\[0\]` to be an invariant on a dependency of the target \(payments, recs\): dependency\('stripe'\)\.attemptsPerCall <= 1\.100/);
    expect(c.requests).toBe(0);
  });

  it('the drill command reports a drill file that does not validate as bad input (exit 2), naming the field', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bw-drill-'));
    dirs.push(dir);
    const file = join(process.cwd(), 'test/chaos/fixtures/negative-rate.ts');
    const err = await loadDrills(file).catch((e: unknown) => e);
    expect((err as Error).constructor.name).toBe('UsageError');
    expect((err as Error).message).toBe(`${file}: Expected \`load.operations.checkout.rate\` to be a finite number between 0 and 100000, got \`-40\` (number)`);
  });
});

describe('running a drill', () => {
  it('measures what happened and checks every invariant; the report holds the figures', async () => {
    const counter = { requests: 0 };
    const dir = mkdtempSync(join(tmpdir(), 'bw-drill-'));
    dirs.push(dir);
    const clock = new FakeClock();
    const r = await runDrill(defineDrill(spec(counter)), { clock, timelinePath: join(dir, 'tiny.timeline.db') });
    const by = Object.fromEntries(r.invariants.map((i) => [i.name, i]));
    expect(counter.requests).toBe(210); // 30 per second for 6 s, open loop, after a 1 s warm-up (30 more, not recorded)
    expect(r.observation.requests).toHaveLength(180);
    expect(by["operation('look').successRate >= 0.990"]).toMatchObject({ pass: true, value: 1 });
    // payments failed for 2 s of 6: a third of `pay` fails, and the invariant says so with the figures
    const pay = by["operation('pay').successRate >= 0.990"]!;
    expect(pay.pass).toBe(false);
    expect(pay.value).toBeCloseTo(80 / 120, 1);
    expect(pay.observed).toMatch(/^0\.6\d{3} \(\d+ of 120; failed: DEPENDENCY_FAILED×\d+\)$/);
    expect(by["mode reaches 'degraded' within 1s of fault start"]!.pass).toBe(true);
    expect(by["mode returns to 'normal' within 1s of fault end"]!.pass).toBe(true);
    expect(by['recovery: goodput back to 90% within 1s of fault end']!.pass).toBe(true);
    expect(by["dependency('payments').attemptsPerCall <= 1"]).toMatchObject({ pass: true, value: 1 });
    expect(by["service status never 'unavailable'"]!.pass).toBe(false);
    expect(r.observation.faults[0]).toMatchObject({ dependency: 'payments', hits: 40, attempts: 40 });
    expect(r.observation.faults[0]!.endedAt! - r.observation.faults[0]!.startedAt).toBe(2000);

    const paths = await writeReport(r, dir);
    const md = readFileSync(paths.markdown, 'utf8');
    expect(md).toContain('# Drill: tiny payments down — FAILED');
    expect(md).toContain("| **FAILED** | operation('pay').successRate >= 0.990 |");
    expect(md).toContain('![per-second goodput and p99 latency](tiny-payments-down.svg)');
    const svg = readFileSync(paths.svg, 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('goodput (answers ok / s)');
    const json = JSON.parse(readFileSync(paths.json, 'utf8')) as { perSecond: { t: number; operation: string; goodput: number }[]; passed: boolean };
    expect(json.passed).toBe(false);
    expect(json.perSecond.filter((x) => x.operation === 'pay' && x.t === 3)[0]!.goodput).toBe(0); // payments down
    const xml = junitReport([r]);
    expect(xml).toContain('<testsuite name="tiny payments down" tests="7" failures="2"');
    expect(xml).toMatch(/<failure message="operation\(&apos;pay&apos;\)|<failure message="operation\('pay'\)\.successRate &gt;= 0\.990: observed 0\.6/);
    // the drill's timeline: the faults, the wall's transitions and each invariant's verdict
    const titles = r.timeline.query({}).map((e) => e.title);
    expect(titles).toContain('fault injected on payments: error: boom (100% of attempts, for 2s)');
    expect(titles.some((t) => t.startsWith("invariant FAILED: operation('pay').successRate >= 0.990 — observed 0.6"))).toBe(true);
    expect(readFileSync(paths.postmortem, 'utf8').length).toBeGreaterThan(100);
    r.timeline.close();
    expect(clock.pendingTimers()).toBe(0);
  });

  it('an integrity check that throws is a failed invariant, not a crash', async () => {
    const r = await runDrill(
      defineDrill(spec({ requests: 0 }, { invariants: [integrity('ledger balanced', () => { throw new Error('ledger unreadable'); })] })),
      { clock: new FakeClock() },
    );
    expect(r.invariants[0]).toEqual({ name: 'ledger balanced', pass: false, observed: 'the check threw: ledger unreadable', value: null });
    r.timeline.close();
  });
});
