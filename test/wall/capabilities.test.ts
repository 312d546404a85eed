import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../src/core/fake-clock.js';
import { createWall } from '../../src/wall/wall.js';
import { capabilityImpact, type CapabilityStatus, type DependencyView, type OperationView } from '../../src/wall/capabilities.js';
import type { HealthState } from '../../src/health/classifier.js';
import { postmortem } from '../../src/timeline/postmortem.js';
import type { TimelineEntry, TimelineEntryInput } from '../../src/timeline/index.js';

const AT = 1_700_000_000_000;

type CoreTrouble = 'none' | 'unavailable' | 'degraded-few-failing' | 'degraded-most-failing';

function views(core: CoreTrouble, optional: boolean, deferrable: boolean): { deps: Map<string, DependencyView>; op: OperationView } {
  const dep = (name: string, criticality: DependencyView['criticality'], state: HealthState, extra: Partial<DependencyView> = {}): DependencyView => ({
    name,
    criticality,
    state,
    reason: state === 'healthy' ? 'ok' : `${name} trouble`,
    since: AT - 5000,
    cached: false,
    ...extra,
  });
  const coreState: HealthState = core === 'none' ? 'healthy' : core === 'unavailable' ? 'unavailable' : 'degraded';
  const deps = new Map<string, DependencyView>([
    ['payments', dep('payments', 'core', coreState, { owner: 'team-pay', runbook: 'docs/runbooks/payments.md' })],
    ['recs', dep('recs', 'optional', optional ? 'unavailable' : 'healthy', { cached: true, cacheAgeMs: optional ? 42_000 : 0 })],
    ['email', dep('email', 'deferrable', deferrable ? 'unavailable' : 'healthy', { backlog: 12, oldestDeferredAgeMs: 3000 })],
    // a dependency the capability does not call: its trouble must not count
    ['search', dep('search', 'core', 'unavailable')],
  ]);
  const failed = core === 'degraded-most-failing' ? 60 : core === 'degraded-few-failing' ? 10 : 0;
  const op: OperationView = {
    name: 'checkout',
    capability: 'customers can pay',
    calls: ['payments', 'recs', 'email'],
    recent: { requests: 100, failed, degraded: optional ? 30 : 0 },
  };
  return { deps, op };
}

function expected(core: CoreTrouble, optional: boolean, deferrable: boolean): CapabilityStatus {
  if (core === 'unavailable' || core === 'degraded-most-failing') return 'down';
  if (core === 'degraded-few-failing' || optional || deferrable) return 'limited';
  return 'available';
}

describe('capability status', () => {
  const cores: CoreTrouble[] = ['none', 'unavailable', 'degraded-few-failing', 'degraded-most-failing'];
  for (const core of cores) {
    for (const optional of [false, true]) {
      for (const deferrable of [false, true]) {
        it(`core ${core}, optional ${optional ? 'in trouble' : 'fine'}, deferrable ${deferrable ? 'in trouble' : 'fine'} → ${expected(core, optional, deferrable)}`, () => {
          const { deps, op } = views(core, optional, deferrable);
          const impact = capabilityImpact(deps, [op], AT);
          const cap = impact.capabilities[0]!;
          expect(cap.name).toBe('customers can pay');
          expect(cap.status).toBe(expected(core, optional, deferrable));
          expect(impact.status).toBe(cap.status);
          // what is missing names exactly the troubled dependencies it calls, never `search`
          const missing = cap.missing.map((m) => m.dependency).sort();
          const want = [...(core !== 'none' ? ['payments'] : []), ...(optional ? ['recs'] : []), ...(deferrable ? ['email'] : [])].sort();
          expect(missing).toEqual(want);
          if (core !== 'none') {
            const m = cap.missing.find((x) => x.dependency === 'payments')!;
            expect(m).toMatchObject({ served: 'failing', owner: 'team-pay', runbook: 'docs/runbooks/payments.md', criticality: 'core' });
          }
          if (optional) {
            expect(cap.missing.find((x) => x.dependency === 'recs')).toMatchObject({ served: 'stale', staleMs: 42_000 });
            expect(cap.summary).toContain('served stale (42.0 s old)');
          }
          if (deferrable) {
            expect(cap.missing.find((x) => x.dependency === 'email')).toMatchObject({ served: 'deferred', backlog: 12, oldestDeferredAgeMs: 3000 });
            expect(cap.summary).toContain('delayed (12 queued, oldest 3.0 s)');
          }
          if (expected(core, optional, deferrable) === 'available') expect(cap.summary).toBe('every part working');
        });
      }
    }
  }

  it('an optional dependency without a cache age is served from the fallback', () => {
    const { deps, op } = views('none', true, false);
    deps.set('recs', { ...deps.get('recs')!, cached: false, cacheAgeMs: undefined! });
    const cap = capabilityImpact(deps, [op], AT).capabilities[0]!;
    expect(cap.status).toBe('limited');
    expect(cap.missing[0]).toMatchObject({ dependency: 'recs', served: 'fallback' });
    expect(cap.missing[0]!.staleMs).toBeUndefined();
  });

  it('failures with every dependency healthy limit the capability (shed, deadlines); too few requests do not count', () => {
    const { deps, op } = views('none', false, false);
    expect(capabilityImpact(deps, [{ ...op, recent: { requests: 100, failed: 20, degraded: 0 } }], AT).capabilities[0]!.status).toBe('limited');
    expect(capabilityImpact(deps, [{ ...op, recent: { requests: 100, failed: 70, degraded: 0 } }], AT).capabilities[0]!.status).toBe('down');
    expect(capabilityImpact(deps, [{ ...op, recent: { requests: 3, failed: 3, degraded: 0 } }], AT).capabilities[0]!.status).toBe('available');
    // a degraded core dependency with too few requests to judge is limited, not down
    const few = views('degraded-most-failing', false, false);
    expect(capabilityImpact(few.deps, [{ ...few.op, recent: { requests: 2, failed: 2, degraded: 0 } }], AT).capabilities[0]!.status).toBe('limited');
  });

  it('groups operations by capability; an operation without one stands for itself; the worst status wins', () => {
    const { deps } = views('unavailable', false, false);
    const ops: OperationView[] = [
      { name: 'pay', capability: 'customers can pay', calls: ['recs'], recent: { requests: 0, failed: 0, degraded: 0 } },
      { name: 'refund', capability: 'customers can pay', calls: ['payments'], owner: 'support', runbook: 'rb', recent: { requests: 0, failed: 0, degraded: 0 } },
      { name: 'healthz', calls: [], recent: { requests: 0, failed: 0, degraded: 0 } },
    ];
    const impact = capabilityImpact(deps, ops, AT);
    expect(impact.capabilities.map((c) => [c.name, c.status, c.operations])).toEqual([
      ['customers can pay', 'down', ['pay', 'refund']],
      ['healthz', 'available', ['healthz']],
    ]);
    expect(impact.capabilities[0]!.owners).toEqual(['support']);
    expect(impact.status).toBe('down');
  });
});

describe('wall.impact() on a live wall (fake clock)', () => {
  it('follows the health of the dependencies each capability calls', async () => {
    const clock = new FakeClock(AT);
    const entries: TimelineEntryInput[] = [];
    const wall = createWall({ service: 'shop', clock, drift: false, timeline: { record: (e) => void entries.push(e) } });
    let payDown = false;
    const payments = wall.dependency('payments', { criticality: 'core', owner: 'team-pay', runbook: 'docs/runbooks/payments.md', health: { window: '10s', minDwellMs: 0 } });
    const recs = wall.dependency('recs', { criticality: 'optional', fallback: () => [], health: { window: '10s', minDwellMs: 0 } });
    const checkout = wall.operation('checkout', { capability: 'customers can pay' });
    const browse = wall.operation('browse', { capability: 'customers see recommendations' });
    const pay = (): Promise<unknown> =>
      checkout
        .run(() =>
          payments.call(() => {
            if (payDown) throw new Error('503');
            return 'ok';
          }),
        )
        .catch(() => undefined);
    for (let i = 0; i < 12; i++) await pay();
    await browse.run(() => recs.call(() => ['socks']));
    wall.health();
    expect(wall.impact().capabilities.map((c) => [c.name, c.status])).toEqual([
      ['customers can pay', 'available'],
      ['customers see recommendations', 'available'],
    ]);

    payDown = true;
    await clock.advance(11_000); // the healthy calls leave the window
    for (let i = 0; i < 20; i++) await pay();
    wall.health();
    const impact = wall.impact();
    expect(impact.status).toBe('down');
    const cap = impact.capabilities.find((c) => c.name === 'customers can pay')!;
    expect(cap.status).toBe('down');
    expect(cap.missing[0]).toMatchObject({ dependency: 'payments', state: 'unavailable', owner: 'team-pay', served: 'failing' });
    expect(impact.capabilities.find((c) => c.name === 'customers see recommendations')!.status).toBe('available');

    // the health entry about payments names its owner and runbook
    const health = entries.find((e) => e.kind === 'health' && e.title.startsWith('payments'))!;
    expect(health.title).toContain('[owner team-pay; runbook docs/runbooks/payments.md]');
    expect(health.data).toMatchObject({ owner: 'team-pay', runbook: 'docs/runbooks/payments.md' });

    // the health interval records the change of a declared capability as a timeline entry
    await clock.advance(1000);
    const change = entries.find((e) => e.kind === 'capability')!;
    expect(change).toMatchObject({ data: { capability: 'customers can pay', from: 'available', to: 'down' } });
    expect(entries.filter((e) => e.kind === 'capability')).toHaveLength(1); // recommendations stayed available: no entry

    wall.declareIncident({ lead: 'ana', title: 'payments down' });
    expect(wall.incident).toMatchObject({ lead: 'ana', title: 'payments down', at: clock.now() });
    expect(entries.at(-1)).toMatchObject({ kind: 'incident', data: { lead: 'ana', title: 'payments down' } });
    expect(() => wall.declareIncident({ lead: '', title: 'x' })).toThrow(/incident.lead/);
    // the postmortem draft says what each capability went through, and who led
    const rows: TimelineEntry[] = entries.map((e, i) => ({
      seq: i + 1,
      at: e.at ?? clock.now(),
      kind: e.kind,
      service: 'shop',
      severity: e.severity,
      title: e.title,
      dependency: e.dependency ?? null,
      operation: e.operation ?? null,
      data: e.data ?? null,
    }));
    await clock.advance(5000);
    const draft = postmortem(rows, { from: AT, to: clock.now() });
    expect(draft).toContain('## Impact per capability');
    expect(draft).toMatch(/\| customers can pay \| down \| 0s \| 5s \| payments \(failing\) \|/);
    expect(draft).toContain('Incident led by **ana**');
    await wall.close();
  });
});
