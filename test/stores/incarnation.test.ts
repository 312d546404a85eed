/**
 * A crash must not block a key for the whole lease (issue 17, finding 13): an idempotency guard given an
 * `instance` identity registers a new incarnation (fencing epoch) in the store when it starts, which
 * releases the in-flight keys of that instance's previous incarnation. A key held by another live
 * instance is still respected.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../../src/core/fake-clock.js';
import { createIdempotency } from '../../src/integrity/idempotency.js';
import { MemoryStore } from '../../src/stores/memory/index.js';
import { SqliteStore } from '../../src/stores/sqlite/index.js';
import type { IntegrityStore } from '../../src/stores/types.js';

const dir = mkdtempSync(join(tmpdir(), 'bw-incarnation-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ok = { status: 201, headers: {}, body: 'done' };

const backends: [string, () => IntegrityStore][] = [
  ['memory', () => new MemoryStore()],
  ['sqlite', () => new SqliteStore({ database: join(dir, `${Math.random().toString(36).slice(2)}.db`) })],
];

describe.each(backends)('restart of an instance (%s)', (_name, make) => {
  it('the restarted instance reuses its crashed predecessor’s keys at once; another live instance’s key stays in flight', async () => {
    const store = make();
    const clock = new FakeClock(1_700_000_000_000);
    try {
      // incarnation 1 of node-1 claims `k1` and "crashes" (its handler never finishes); node-2 holds `k2`
      const first = createIdempotency({ store, clock, instance: 'node-1', lease: '30s' });
      const node2 = createIdempotency({ store, clock, instance: 'node-2', lease: '30s' });
      let finishCrashed!: () => void;
      const crashed = first.run('k1', 'f', () => new Promise((r) => (finishCrashed = () => r(ok))));
      let finishOther!: () => void;
      const other = node2.run('k2', 'f', () => new Promise((r) => (finishOther = () => r(ok))));
      await clock.advance(10);
      expect(await createIdempotency({ store, clock, lease: '30s' }).run('k1', 'f', () => ok)).toMatchObject({ kind: 'in-flight' });

      // node-1 starts again, one second later: k1 is usable right away, k2 is still node-2's
      await clock.advance(1000);
      const restarted = createIdempotency({ store, clock, instance: 'node-1', lease: '30s' });
      expect(await restarted.run('k1', 'f', () => ok)).toEqual({ kind: 'executed', response: ok });
      expect(await restarted.run('k2', 'f', () => ok)).toMatchObject({ kind: 'in-flight' });

      // the old incarnation, if it was only paused, commits nothing: it was fenced out
      finishCrashed();
      expect(await crashed).toEqual({ kind: 'lease-lost' });
      finishOther();
      expect(await other).toEqual({ kind: 'executed', response: ok });
    } finally {
      await store.close();
    }
  });

  it('an instance identity is validated at set-up', () => {
    const store = make();
    for (const bad of ['', 42, 'x'.repeat(300)]) {
      expect(() => createIdempotency({ store, instance: bad as string })).toThrow(/`instance`/);
    }
    void store.close();
  });
});
