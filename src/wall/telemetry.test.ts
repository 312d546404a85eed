import { describe, expect, it } from 'vitest';
import { BlastwallError } from '../core/errors.js';
import { FakeClock } from '../core/fake-clock.js';
import type { DependencyView, TelemetrySink } from '../telemetry/sink.js';
import { createWall } from './wall.js';

function recordingSink() {
  const seen: string[] = [];
  const sink: TelemetrySink = {
    register: (d: DependencyView) => void seen.push(`register ${d.name}`),
    call: (d, kind, source, _ms, attempts, code) => void seen.push(`call ${d.name} ${kind} ${source} ${attempts} ${code ?? '-'}`),
    served: (d, source) => void seen.push(`served ${d.name} ${source}`),
  };
  return { sink, seen };
}

describe('telemetry sinks', () => {
  it('your own sinks see every declared dependency and every finished call, through a read-only view', async () => {
    const { sink, seen } = recordingSink();
    const wall = createWall({ service: 's', clock: new FakeClock(), sinks: [sink] });
    const db = wall.dependency('db', { retry: false });
    const recs = wall.dependency('recs', { criticality: 'optional', fallback: [], retry: false });
    await db.call(() => 1);
    await db.call(() => Promise.reject(new Error('down'))).catch(() => undefined);
    await recs.call(() => Promise.reject(new Error('down')));
    expect(seen).toEqual([
      'register db',
      'register recs',
      'call db 0 live 1 -',
      'call db 1 live 1 DEPENDENCY_FAILED',
      'call recs 1 live 1 DEPENDENCY_FAILED',
      'served recs fallback',
    ]);
    await wall.close();
  });

  it('a sinks option that is not an array of sinks is CONFIG_INVALID naming the field', () => {
    const bad = (sinks: unknown) => () => createWall({ service: 's', clock: new FakeClock(), sinks: sinks as TelemetrySink[] });
    expect(bad({})).toThrow(BlastwallError);
    expect(bad({})).toThrow(/`sinks`/);
    expect(bad([{ call() {} }])).toThrow(/`sinks\[0\]`/);
  });

  it('calls made before prom-client has loaded are counted (replayed into the exporter once it loads)', async () => {
    const wall = createWall({ service: 's', clock: new FakeClock(), telemetry: { prometheus: true } });
    const db = wall.dependency('db', { retry: false });
    // microtasks only: the dynamic import of the exporter cannot have finished
    for (let i = 0; i < 5; i++) await db.call(() => i);
    const text = await wall.metrics();
    expect(text).toMatch(/blastwall_dependency_calls_total\{service="s",dependency="db",outcome="success"\} 5/);
    await wall.close();
  });
});
