/**
 * `npm run bench:noisy`: background work and user-facing requests on the same PostgreSQL capacity.
 *
 * One `db` dependency (concurrency limit = the pg pool size, 8) is used by
 *  - checkout traffic: an open-loop generator at a fixed rate (200 req/s), each checkout 1–2 short queries,
 *    run in a `critical` operation; latency is counted from each request's due time (no coordinated omission);
 *  - a backlog of 50,000 jobs in a durable queue on the PostgreSQL store, drained by consumers (32 at once),
 *    each job one write through the same `db` dependency (a queue consumer runs as `background`). The
 *    store uses the same pool, and the queue's own store calls (lease, commit, ack) go through `db` as well,
 *    so that one limit sees every query the service sends.
 *
 * Three modes, measured in one run in interleaved windows (the order turns every round, so that load from
 * elsewhere on the machine hits every mode alike): checkout alone (consumers stopped); checkout while the
 * backlog drains with call classes on (the default); the same with `priority: false` (one FIFO queue, the
 * behaviour before call classes), switched by live configuration. With call classes background is a
 * scavenger by default (docs/priority.md): the run reports the background window it held (the median over
 * the windows of its mean, in slots), and a second table: how long a checkout query held its `db` slot
 * per mode (the latency the limit and its scavenger see), its mean, quantiles and tail excess past the
 * alone p90 (the scavenger's signal). `--aa` adds a fourth window per round, checkout alone again: the ratio
 * of its p99 to the first alone window's is what two identical modes differ by on this machine (the noise
 * floor any ratio above has to clear); `--static` a window draining with call classes but the scavenger
 * off (background keeps its whole share: the behaviour before the scavenger). Bounded: `--rounds` rounds
 * of three to five `--window`-second windows, and no more than `--jobs` jobs. Only 127.0.0.1 (BLASTWALL_PG_URL, default
 * postgres://postgres@127.0.0.1:5432/test); the tables live in a schema of their own, dropped at the end.
 *
 * Usage: npm run bench:noisy [-- --jobs 50000 --rate 200 --rounds 12 --window 5 --consumers 32 --pool 8 --background 0.25 --store-outside
 *        --scavenger-min 1 --scavenger-target 0.1 --no-scavenger --aa --static]
 */
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
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
const ROUNDS = arg('rounds', 12);
const WINDOW_MS = arg('window', 5) * 1000;
const SETTLE_MS = 500;
const CONSUMERS = arg('consumers', 32);
const POOL = arg('pool', 8);
const ITEMS = 1000;
const PG_URL = process.env.BLASTWALL_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
if (!/^postgres(ql)?:\/\/[^/]*@?(127\.0\.0\.1|localhost)(:\d+)?\//.test(PG_URL)) throw new Error(`bench:noisy runs against 127.0.0.1 only, not ${PG_URL}`);

const schema = `bw_noisy_${randomBytes(4).toString('hex')}`;
const app = new pg.Pool({ connectionString: PG_URL, max: POOL });
/** `--store-outside`: the store gets a pool of its own and its calls bypass `db` (what a limit cannot protect). */
const STORE_OUTSIDE = args.includes('--store-outside');
// the store shares the application's pool: the database capacity is one pool of POOL connections
const store = new PostgresStore({ connection: STORE_OUTSIDE ? PG_URL : app, schema, poolSize: POOL });
const wall = createWall({ service: 'noisy-neighbour' });
/** `--background R`: the background share of the `db` limit when classes are on (default: the library's, 0.25). */
const BACKGROUND = args.includes('--background') ? arg('background', 0.25) : undefined;
/** The scavenger with call classes: `--no-scavenger` turns it off, `--scavenger-min` / `--scavenger-target` set its options. */
const SCAVENGER = args.includes('--no-scavenger')
  ? false
  : {
      ...(args.includes('--scavenger-min') ? { min: arg('scavenger-min', 1) } : {}),
      ...(args.includes('--scavenger-target') ? { target: arg('scavenger-target', 0.1) } : {}),
    };
const DB_SPEC = { timeout: '5s', breaker: false, concurrency: { limit: POOL, queue: 10_000 } } as const;
const db = wall.dependency('db', DB_SPEC);
const checkout = wall.operation('checkout', { priority: 'critical', deadline: '5s' });

function quantile(sorted: number[], q: number): number {
  return sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

/** Time each checkout query waited for a slot at the `db` limit (ms), for the phase being measured. */
let slotWaits: number[] = [];
/** How long each checkout query held its slot (ms): the latency the `db` limit (and its scavenger) sees. */
let holds: number[] = [];

/** A checkout query through `db`, noting how long it waited for a slot. */
function query(sql: string, params: unknown[]): Promise<unknown> {
  const asked = performance.now();
  return db.call(async () => {
    const got = performance.now();
    slotWaits.push(got - asked);
    const r = await app.query(sql, params);
    holds.push(performance.now() - got);
    return r;
  });
}

/** One checkout: a read by key, and half the time a second short read. */
async function oneCheckout(rand: () => number): Promise<void> {
  const item = 1 + Math.floor(rand() * ITEMS);
  await checkout.run(async () => {
    await query(`SELECT id, price, stock FROM "${schema}".items WHERE id = $1`, [item]);
    if (rand() < 0.5) await query(`SELECT count(*) FROM "${schema}".done WHERE item = $1`, [item]);
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
  slotWaits = [];
  holds = [];
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

type Mode =
  | 'checkout alone'
  | 'backlog draining, call classes on (default)'
  | 'backlog draining, priority: false (one FIFO)'
  | 'checkout alone again (A/A)'
  | 'backlog draining, call classes, scavenger: false';
/** `--aa`: a fourth window per round, checkout alone again: its p99 against the first alone's is the noise floor of the run. */
const AA = args.includes('--aa');
const MODES: Mode[] = [
  'checkout alone',
  'backlog draining, call classes on (default)',
  'backlog draining, priority: false (one FIFO)',
  ...(AA ? (['checkout alone again (A/A)'] as const) : []),
  ...(args.includes('--static') ? (['backlog draining, call classes, scavenger: false'] as const) : []),
];
const ALONE = new Set<Mode>(['checkout alone', 'checkout alone again (A/A)']);

interface ModeResult {
  latencies: number[];
  waits: number[];
  holds: number[];
  windowP99: number[];
  windowWaitP99: number[];
  /** p99 of the event loop's delay in each window (ms): what the process itself adds to every request. */
  windowLoopP99: number[];
  /** Mean background window (slots the scavenger allowed) in each window, read every 50 ms. */
  windowBgWindow: number[];
  requests: number;
  errors: number;
  jobs: number;
  seconds: number;
}

const QUEUE_CALLS = new Set<string | symbol>(['lease', 'commit', 'ack', 'retryLater', 'deadLetter']);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);

async function main(): Promise<void> {
  await store.init();
  await app.query(`CREATE TABLE "${schema}".items (id int PRIMARY KEY, price int NOT NULL, stock int NOT NULL)`);
  await app.query(`INSERT INTO "${schema}".items SELECT g, g * 7 % 1000, 100 FROM generate_series(1, ${ITEMS}) g`);
  await app.query(`CREATE TABLE "${schema}".done (id text PRIMARY KEY, item int NOT NULL, at timestamptz NOT NULL DEFAULT now())`);
  await app.query(`CREATE INDEX ON "${schema}".done (item)`);
  // the queue's own store calls (lease, commit, ack) go through `db` too: every query of the service passes
  // one limit, so the limit governs the whole database load (and a consumer's calls run as background)
  const viaDb = new Proxy(store, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== 'function' || !QUEUE_CALLS.has(prop) || STORE_OUTSIDE) return v;
      return (...a: unknown[]) => db.call(() => (v as (...x: unknown[]) => unknown).apply(target, a));
    },
  });
  const queue = new DurableQueue<{ n: number; item: number }>({ store: viaDb, name: 'noisy', batch: 64, concurrency: CONSUMERS, lease: '2m', pollInterval: '20ms' });
  for (let i = 0; i < JOBS; i += 1000) {
    const batch = Array.from({ length: Math.min(1000, JOBS - i) }, (_, k) => ({ id: `job-${i + k}`, payload: { n: i + k, item: 1 + ((i + k) % ITEMS) }, availableAt: 0 }));
    await store.enqueue('noisy', batch, Date.now());
  }
  let pollErrors = 0;
  let consuming = false;
  const handler = async (d: { id: string; payload: { item: number } }) => {
    await db.call(() => app.query(`INSERT INTO "${schema}".done (id, item) VALUES ($1, $2) ON CONFLICT DO NOTHING`, [d.id, d.payload.item]));
  };
  const drained = () => queue.stats.processed + queue.stats.duplicates;
  const setMode = async (mode: Mode) => {
    if (ALONE.has(mode)) {
      if (consuming) await queue.stop();
      consuming = false;
      return;
    }
    const share = BACKGROUND === undefined ? {} : { background: BACKGROUND };
    const priority = mode === MODES[1] ? { ...share, scavenger: SCAVENGER } : mode === MODES[2] ? false : { ...share, scavenger: false as const };
    wall.configure({ dependencies: { db: { concurrency: { ...DB_SPEC.concurrency, priority } } } }, { reason: `bench: ${mode}`, by: 'bench:noisy' });
    if (!consuming) queue.start(handler, () => void pollErrors++);
    consuming = true;
  };
  // warm the pool, the plans and the JIT
  await startCheckout().stop();
  await sleep(2000);
  const results = new Map<Mode, ModeResult>(MODES.map((m) => [m, { latencies: [], waits: [], holds: [], windowP99: [], windowWaitP99: [], windowLoopP99: [], windowBgWindow: [], requests: 0, errors: 0, jobs: 0, seconds: 0 }]));
  let emptied: number | undefined;
  const loadBefore = loadavg();
  const started = performance.now();
  for (let round = 0; round < ROUNDS && emptied === undefined; round++) {
    // the order turns every round, so that no mode always follows the same one
    for (const mode of MODES.map((_, i) => MODES[(i + round) % MODES.length] as Mode)) {
      await setMode(mode);
      await sleep(SETTLE_MS);
      const before = drained();
      const t0 = performance.now();
      const loop = monitorEventLoopDelay({ resolution: 1 });
      loop.enable();
      const bgWindows: number[] = [];
      const reader = setInterval(() => bgWindows.push(db.bulkhead!.stats().backgroundWindow), 50);
      const t = startCheckout();
      await sleep(WINDOW_MS);
      const { latencies, errors, sent } = await t.stop();
      clearInterval(reader);
      loop.disable();
      const r = results.get(mode)!;
      r.windowLoopP99.push(loop.percentile(99) / 1e6);
      r.windowBgWindow.push(bgWindows.reduce((a, x) => a + x, 0) / Math.max(1, bgWindows.length));
      r.latencies.push(...latencies);
      r.waits.push(...slotWaits);
      r.holds.push(...holds);
      r.windowP99.push(quantile(sorted(latencies), 0.99));
      r.windowWaitP99.push(quantile(sorted(slotWaits), 0.99));
      r.requests += sent;
      r.errors += errors;
      r.jobs += drained() - before;
      r.seconds += (performance.now() - t0) / 1000;
      if (drained() >= JOBS) {
        emptied = (performance.now() - started) / 1000;
        break;
      }
    }
  }
  await setMode('checkout alone');
  const base = quantile(sorted(results.get('checkout alone')!.latencies), 0.99);
  console.log(
    `\nblastwall bench:noisy — Node ${process.version}, ${RATE} checkouts/s (1–2 queries each), ${JOBS} queued jobs (one write each), ` +
      `${CONSUMERS} consumers, db concurrency limit ${POOL} = pool size${BACKGROUND === undefined ? '' : ` (background share ${BACKGROUND})`}, ` +
      `${STORE_OUTSIDE ? 'the queue store on a pool of its own, outside db' : "the queue store's calls through db"}, PostgreSQL on 127.0.0.1; ` +
      `scavenger ${SCAVENGER === false ? 'off' : JSON.stringify(SCAVENGER)} with call classes; ` +
      `${ROUNDS} rounds of ${MODES.length} ${WINDOW_MS / 1000} s windows (one per mode, order turning)\n`,
  );
  console.log(`| mode | checkout p50 ms | checkout p99 ms | p99 vs alone | median of window p99s ms | max ms | slot wait p99 ms (median of windows) | event-loop delay p99 ms (median of windows) | checkouts (errors) | jobs drained | jobs/s | ${JOBS} jobs at this rate |`);
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const mode of MODES) {
    const r = results.get(mode)!;
    const lat = sorted(r.latencies);
    const p99 = quantile(lat, 0.99);
    const rate = r.jobs / r.seconds;
    const draining = !ALONE.has(mode);
    console.log(
      `| ${mode} | ${quantile(lat, 0.5).toFixed(2)} | ${p99.toFixed(2)} | ${(p99 / base).toFixed(2)}× | ${quantile(sorted(r.windowP99), 0.5).toFixed(2)} | ` +
        `${(lat.at(-1) ?? Number.NaN).toFixed(1)} | ${quantile(sorted(r.waits), 0.99).toFixed(2)} (${quantile(sorted(r.windowWaitP99), 0.5).toFixed(2)}) | ${quantile(sorted(r.windowLoopP99), 0.5).toFixed(2)} | ${r.requests} (${r.errors}) | ` +
        `${draining ? r.jobs : ''} | ${draining ? Math.round(rate) : ''} | ${draining ? `${Math.round(JOBS / rate)} s` : ''} |`,
    );
  }
  console.log(
    `\n${drained()} of ${JOBS} jobs drained in ${Math.round((performance.now() - started) / 1000)} s of the run` +
      `${emptied === undefined ? '' : ` (backlog empty after ${Math.round(emptied)} s)`}; poll errors: ${pollErrors}`,
  );
  // what the limit sees: a checkout query's time holding its slot, and its tail excess past the alone p90
  const alone = sorted(results.get(MODES[0]!)!.holds);
  const threshold = quantile(alone, 0.9);
  const excess = (xs: number[]) => xs.reduce((a, x) => a + Math.max(0, x - threshold), 0) / xs.length;
  const mean = (xs: number[]) => xs.reduce((a, x) => a + x, 0) / xs.length;
  console.log(`\ncheckout queries holding a db slot (ms; tail excess: mean time past the alone p90, ${threshold.toFixed(3)} ms, the scavenger's signal)\n`);
  console.log('| mode | mean | p50 | p90 | p99 | tail excess | mean vs alone | tail excess vs alone | p99 vs alone |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const mode of MODES) {
    const h = sorted(results.get(mode)!.holds);
    console.log(
      `| ${mode} | ${mean(h).toFixed(3)} | ${quantile(h, 0.5).toFixed(3)} | ${quantile(h, 0.9).toFixed(3)} | ${quantile(h, 0.99).toFixed(2)} | ${excess(h).toFixed(3)} | ` +
        `${(mean(h) / mean(alone)).toFixed(2)}× | ${(excess(h) / excess(alone)).toFixed(2)}× | ${(quantile(h, 0.99) / quantile(alone, 0.99)).toFixed(2)}× |`,
    );
  }
  const classes = results.get(MODES[1]!)!;
  console.log(
    `background window with call classes (slots; share ${db.bulkhead!.stats().limit} × ${BACKGROUND ?? 0.25}): median of window means ` +
      `${quantile(sorted(classes.windowBgWindow), 0.5).toFixed(2)} (min ${Math.min(...classes.windowBgWindow).toFixed(2)}, max ${Math.max(...classes.windowBgWindow).toFixed(2)}); ` +
      `load average 1/5/15 min ${loadBefore.map((x) => x.toFixed(2)).join(' / ')} at the start, ${loadavg().map((x) => x.toFixed(2)).join(' / ')} at the end`,
  );
}

try {
  await main();
} finally {
  await wall.close();
  await app.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
  await store.close();
  await app.end();
}
