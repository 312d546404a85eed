import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { type AttemptContext, createWall, sleep } from '../../src/index.js';
import { FakeClock } from '../../src/testing/index.js';
import type { TimelineEntryInput } from '../../src/timeline/index.js';

const dir = mkdtempSync(join(tmpdir(), 'bw-config-'));

function setup(file: string, env: Record<string, string> = {}) {
  const clock = new FakeClock();
  const entries: TimelineEntryInput[] = [];
  for (const [k, v] of Object.entries(env)) vi.stubEnv(k, v);
  const wall = createWall({ service: 'shop', clock, drift: false, config: file, timeline: { record: (e: TimelineEntryInput) => void entries.push(e) } });
  const payments = wall.dependency('payments', { timeout: '200ms', concurrency: { limit: 8, queue: 8 } });
  const checkout = wall.operation('checkout', { priority: 'critical', deadline: '2s' });
  return { clock, wall, payments, checkout, entries };
}

describe('configuration from a file', () => {
  it('is laid over the declared boundaries once they are declared (JSON), with environment overrides on top', async () => {
    const file = join(dir, 'a.json');
    writeFileSync(file, JSON.stringify({ $schema: './config-v1.schema.json', dependencies: { payments: { timeout: '150ms' } }, operations: { checkout: { deadline: '1s' } } }));
    const s = setup(file, { BLASTWALL_CONCURRENCY_PAYMENTS: '4' });
    await s.wall.config.reloadFile(); // what the watcher calls; the first load also ran by itself
    expect(s.payments.timeoutMs).toBe(150);
    expect(s.payments.bulkhead?.limit).toBe(4);
    expect(s.checkout.deadlineMs).toBe(1000);
    expect(s.wall.config.current().by).toBe('config file');
    vi.unstubAllEnvs();
    await s.wall.close();
  });

  it('reads YAML', async () => {
    const file = join(dir, 'b.yaml');
    writeFileSync(file, 'dependencies:\n  payments:\n    timeout: 90ms\n');
    const s = setup(file);
    await s.wall.config.reloadFile();
    expect(s.payments.timeoutMs).toBe(90);
    await s.wall.close();
  });

  it('a bad edit during load is refused: the running configuration stays, no call fails because of it, the timeline says why', async () => {
    const file = join(dir, 'c.json');
    writeFileSync(file, JSON.stringify({ dependencies: { payments: { timeout: '150ms' } } }));
    const s = setup(file);
    await s.wall.config.reloadFile();
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const work = async (ctx: AttemptContext) => (await sleep(s.clock, 20, ctx.signal), 'ok');
    const results: Promise<string>[] = [];
    const bad = ['{ "dependencies": ', JSON.stringify({ dependencies: { payments: { timeout: -1 } } }), JSON.stringify({ dependencies: { paymnts: { timeout: '1s' } } })];
    for (let i = 0; i < 60; i++) {
      results.push(s.checkout.run(() => s.payments.call(work)).then(() => 'ok', (e: Error) => e.message));
      if (i % 20 === 10) {
        writeFileSync(file, bad[(i - 10) / 20]!);
        expect(await s.wall.config.reloadFile()).toBeUndefined();
      }
      await s.clock.advance(5);
    }
    await s.clock.advance(1000);
    expect(new Set(await Promise.all(results))).toEqual(new Set(['ok']));
    expect(s.payments.timeoutMs).toBe(150);
    const refused = s.entries.filter((e) => e.kind === 'config' && e.severity === 'warning').map((e) => e.title);
    expect(refused).toHaveLength(3);
    expect(refused[0]).toMatch(/not valid JSON/);
    expect(refused[1]).toMatch(/payments\.timeout/);
    expect(refused[2]).toMatch(/Unknown dependency `dependencies\.paymnts`/);
    expect(warn).toHaveBeenCalledTimes(3);
    warn.mockRestore();
    await s.wall.close();
  });
});
