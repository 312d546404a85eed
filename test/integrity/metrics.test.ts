import { Registry } from 'prom-client';
import { expect, it } from 'vitest';
import { FakeClock } from '../../src/core/fake-clock.js';
import { createIdempotency } from '../../src/integrity/idempotency.js';
import { INTEGRITY_METRIC_NAMES, registerIntegrityMetrics } from '../../src/integrity/metrics.js';
import { DurableQueue, OrderingGuard, Quarantine } from '../../src/integrity/queue.js';
import { MemoryStore } from '../../src/stores/memory/index.js';
import { createWall } from '../../src/wall/wall.js';

it('exposes idempotency outcomes, queue deliveries, backlog, oldest age, stale writes and quarantine through the wall’s registry', async () => {
  const clock = new FakeClock();
  const registry = new Registry();
  const store = new MemoryStore();
  const wall = createWall({ service: 'shop', clock, store, telemetry: { prometheus: { registry } } });
  const idempotency = createIdempotency({ store: wall.store!, clock });
  const queue = new DurableQueue<number>({ store: wall.store!, name: 'emails', clock });
  const guard = new OrderingGuard({ store: wall.store!, clock });
  const quarantine = new Quarantine({ store: wall.store!, clock });
  registerIntegrityMetrics(registry, { idempotency: { payments: idempotency }, queues: [queue], guards: { accounts: guard }, quarantine: { quarantine } }, 'shop');

  await idempotency.execute({ key: 'k' }, () => 1);
  await idempotency.execute({ key: 'k' }, () => 1);
  await queue.enqueue(1, { id: 'a' });
  await queue.enqueue(2, { id: 'b' });
  await queue.pollOnce(() => undefined);
  await queue.enqueue(3, { id: 'c' });
  await clock.advance(4000);
  await guard.apply('acct', 2, 'x');
  await guard.apply('acct', 1, 'y');
  await quarantine.admit('payments', { amount: 'x' }, () => 'amount: expected a number');

  const text = await wall.metrics();
  const value = (name: string, labels: string) => {
    const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && labels.split(',').every((p) => l.includes(p)));
    return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
  };
  for (const name of Object.values(INTEGRITY_METRIC_NAMES)) expect(text).toContain(`# TYPE ${name} `);
  expect(value(INTEGRITY_METRIC_NAMES.idempotency, 'outcome="executed",scope="payments"')).toBe(1);
  expect(value(INTEGRITY_METRIC_NAMES.idempotency, 'outcome="replayed"')).toBe(1);
  expect(value(INTEGRITY_METRIC_NAMES.deliveries, 'outcome="processed",queue="emails"')).toBe(2);
  expect(value(INTEGRITY_METRIC_NAMES.backlog, 'queue="emails"')).toBe(1);
  expect(value(INTEGRITY_METRIC_NAMES.oldestAge, 'queue="emails"')).toBe(4);
  expect(value(INTEGRITY_METRIC_NAMES.staleWrites, 'guard="accounts"')).toBe(1);
  expect(value(INTEGRITY_METRIC_NAMES.quarantined, 'source="quarantine"')).toBe(1);
  expect(text).toContain('blastwall_dependency_calls_total{service="shop",dependency="store:memory",outcome="success"}');
  await wall.close();
});

it('the README documents every integrity metric name', async () => {
  const { readFileSync } = await import('node:fs');
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  for (const name of Object.values(INTEGRITY_METRIC_NAMES)) expect(readme, name).toContain(`\`${name}\``);
});
