/**
 * `npm run bench:noisy`: background work and user-facing requests on the same PostgreSQL capacity.
 *
 * One `db` dependency (concurrency limit = the pg pool size, 8) is used by
 *  - checkout traffic: an open-loop generator at a fixed rate (200 req/s), each checkout 1–2 short queries,
 *    run in a `critical` operation; latency is counted from each request's due time (no coordinated omission);
 *  - a backlog of 50,000 jobs in a durable queue on the PostgreSQL store, drained by consumers (16 at once),
 *    each job one write through the same `db` dependency (a queue consumer runs as `background`).
 *
 * Phases, all in one run: checkout alone; checkout while the backlog drains with call classes on (the
 * default); the same with `priority: false` (one FIFO queue, the behaviour before call classes); checkout
 * alone again. Every phase is bounded in time (`--seconds` for checkout alone, `--drain-seconds` for a
 * drain). Only 127.0.0.1 (BLASTWALL_PG_URL, default postgres://postgres@127.0.0.1:5432/test); the tables
 * live in a schema of their own, dropped at the end.
 *
 * Usage: npm run bench:noisy [-- --jobs 50000 --rate 200 --seconds 20 --drain-seconds 120 --consumers 16 --pool 8]
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createWall, DurableQueue } from '../src/index.js';
import { PostgresStore } from '../src/stores/postgres/index.js';

const args = process.argv.slice(2);
const arg = (name: string, def: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const JOBS = arg('jobs', 50_000);
const RATE = arg('rate', 200);
const ALONE_MS = arg('seconds', 20) * 1000;
const DRAIN_MS = arg('drain-seconds', 120) * 1000;
const CONSUMERS = arg('consumers', 16);
const POOL = arg('pool', 8);
const ITEMS = 1000;
const PG_URL = process.env.BLASTWALL_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
if (!/^postgres(ql)?:\/\/[^/]*@?(127\.0\.0\.1|localhost)(:\d+)?\//.test(PG_URL)) throw new Error(`bench:noisy runs against 127.0.0.1 only, not ${PG_URL}`);

const schema = `bw_noisy_${randomBytes(4).toString('hex')}`;
const app = new pg.Pool({ connectionString: PG_URL, max: POOL });
const store = new PostgresStore({ connection: PG_URL, schema, poolSize: 4 });
const wall = createWall({ service: 'noisy-neighbour' });
const DB_SPEC = { timeout: '5s', breaker: false, concurrency: { limit: POOL, queue: 10_000 } } as const;
const db = wall.dependency('db', DB_SPEC);
const checkout = wall.operation('checkout', { priority: 'critical', deadline: '5s' });

function quantile(sorted: number[], q: number): number {
  return sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

/** One checkout: a read by key, and half the time a second short read. */
async function oneCheckout(rand: () => number): Promise<void> {
  const item = 1 + Math.floor(rand() * ITEMS);
  await checkout.run(async () => {
    await db.call(() => app.query(`SELECT id, price, stock FROM "${schema}".items WHERE id = $1`, [item]));
    if (rand() < 0.5) await db.call(() => app.query(`SELECT count(*) FROM "${schema}".done WHERE item = $1`, [item]));
  });
}

interface Traffic {
  stop(): Promise<{ latencies: number[]; errors: number; sent: number }>;
}

/** Open loop: request i is due at start + i/RATE, sent when due whatever happened to the ones before it. */
function startCheckout(): Traffic {
  const latencies: number[] = [];
  let errors = 0;
  let sent = 0;
  let stopped = false;
  const inflight = new Set<Promise<void>>();
  const t0 = performance.now();
  const gap = 1000 / RATE;
  let seed = 42;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  let timer: NodeJS.Timeout | undefined;
  const tick = () => {
    const now = performance.now();
    while (!stopped && t0 + sent * gap <= now) {
      const due = t0 + sent * gap;
      sent++;
      const p = oneCheckout(rand).then(
        () => void latencies.push(performance.now() - due),
        () => void errors++,
      );
      inflight.add(p);
      void p.finally(() => inflight.delete(p));
    }
    if (!stopped) timer = setTimeout(tick, Math.max(0, t0 + sent * gap - performance.now()));
  };
  tick();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await Promise.all(inflight);
      return { latencies, errors, sent };
    },
  };
}

interface PhaseResult {
  phase: string;
  p50: number;
  p99: number;
  max: number;
  requests: number;
  errors: number;
  drained?: number;
  seconds: number;
}

async function aloneFor(phase: string): Promise<PhaseResult> {
  const t = startCheckout();
  await new Promise((r) => setTimeout(r, ALONE_MS));
  const { latencies, errors, sent } = await t.stop();
  latencies.sort((a, b) => a - b);
  return { phase, p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99), max: latencies.at(-1) ?? Number.NaN, requests: sent, errors, seconds: ALONE_MS / 1000 };
}

async function drainWhileCheckout(phase: string, queueName: string): Promise<PhaseResult> {
  const queue = new DurableQueue<{ n: number; item: number }>({ store, name: queueName, batch: 64, concurrency: CONSUMERS, lease: '2m', pollInterval: '20ms' });
  for (let i = 0; i < JOBS; i += 1000) {
    const batch = Array.from({ length: Math.min(1000, JOBS - i) }, (_, k) => ({
      id: `${queueName}-${i + k}`,
      payload: { n: i + k, item: 1 + ((i + k) % ITEMS) },
      availableAt: 0,
    }));
    await store.enqueue(queueName, batch, Date.now());
  }
  const started = performance.now();
  const t = startCheckout();
  let failures = 0;
  queue.start(
    async (d) => {
      await db.call(() => app.query(`INSERT INTO "${schema}".done (id, item) VALUES ($1, $2) ON CONFLICT DO NOTHING`, [d.id, d.payload.item]));
    },
    () => void failures++,
  );
  while (queue.stats.processed + queue.stats.duplicates < JOBS && performance.now() - started < DRAIN_MS) {
    await new Promise((r) => setTimeout(r, 100));
  }
  const seconds = (performance.now() - started) / 1000;
  const { latencies, errors, sent } = await t.stop();
  await queue.stop();
  latencies.sort((a, b) => a - b);
  if (failures > 0) console.error(`${phase}: ${failures} poll errors`);
  return {
    phase,
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
    max: latencies.at(-1) ?? Number.NaN,
    requests: sent,
    errors,
    drained: queue.stats.processed + queue.stats.duplicates,
    seconds,
  };
}

async function main(): Promise<void> {
  await store.init();
  await app.query(`CREATE TABLE "${schema}".items (id int PRIMARY KEY, price int NOT NULL, stock int NOT NULL)`);
  await app.query(`INSERT INTO "${schema}".items SELECT g, g * 7 % 1000, 100 FROM generate_series(1, ${ITEMS}) g`);
  await app.query(`CREATE TABLE "${schema}".done (id text PRIMARY KEY, item int NOT NULL, at timestamptz NOT NULL DEFAULT now())`);
  await app.query(`CREATE INDEX ON "${schema}".done (item)`);
  // warm the pool, the plans and the JIT
  await aloneForWarmup();
  const results: PhaseResult[] = [];
  results.push(await aloneFor('checkout alone'));
  results.push(await drainWhileCheckout('backlog draining, call classes on (default)', 'noisy_prio'));
  wall.configure({ dependencies: { db: { concurrency: { ...DB_SPEC.concurrency, priority: false } } } }, { reason: 'bench: one FIFO queue', by: 'bench:noisy' });
  results.push(await drainWhileCheckout('backlog draining, priority: false (one FIFO)', 'noisy_fifo'));
  results.push(await aloneFor('checkout alone, again'));
  const base = results[0]!.p99;
  console.log(
    `\nblastwall bench:noisy — Node ${process.version}, ${RATE} checkouts/s (1–2 queries each), ${JOBS} jobs (one write each), ` +
      `${CONSUMERS} consumers, db concurrency limit ${POOL} = pool size, PostgreSQL on 127.0.0.1\n`,
  );
  console.log('| phase | checkout p50 ms | checkout p99 ms | p99 vs alone | max ms | checkouts (errors) | jobs drained | in s | jobs/s |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of results) {
    const jobs = r.drained === undefined ? '' : `${r.drained}`;
    const rate = r.drained === undefined ? '' : `${Math.round(r.drained / r.seconds)}`;
    console.log(
      `| ${r.phase} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${(r.p99 / base).toFixed(2)}× | ${r.max.toFixed(1)} | ${r.requests} (${r.errors}) | ${jobs} | ${r.drained === undefined ? '' : r.seconds.toFixed(1)} | ${rate} |`,
    );
  }
}

async function aloneForWarmup(): Promise<void> {
  const t = startCheckout();
  await new Promise((r) => setTimeout(r, 2000));
  await t.stop();
}

try {
  await main();
} finally {
  await wall.close();
  await app.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
  await app.end();
  await store.close();
}
