/**
 * A payments service that must never charge twice: the black-box target of `npm run test:faults`.
 *
 *   PORT=3000 STORE=sqlite:.blastwall/payments.db npx tsx examples/idempotent-payments.ts
 *   STORE=memory | sqlite:PATH | redis://127.0.0.1:6379 | postgres://postgres@127.0.0.1:5432/test
 *
 * POST /payments   requires `Idempotency-Key: "<key>"`; body {"account":"a1","amount":5,"version":3}.
 *                  Records one payment row per executed payment (your own `payments` table on SQLite and
 *                  PostgreSQL, in the same transaction as the idempotency record; the effects ledger on
 *                  memory and Redis) and an outbox message `payment.created`.
 * GET /effects     the payment rows, one per executed payment.
 * GET /ledger      what the consumer applied from the outbox (one row per message id).
 * GET /accounts    per account, the highest payment version applied by the ordering guard.
 * GET /status      outbox pending, queue backlog, quarantine size, counters.
 * GET /healthz     the wall's health, with the store as the dependency `store:<kind>`.
 * GET /metrics     Prometheus: the store dependency and the integrity metrics.
 *
 * The relay moves outbox rows into a durable queue; a consumer applies them (dedupe by message id) and
 * advances each account's version through the ordering guard. Invalid payloads are quarantined.
 *
 * Crash drills (used by test/faults): CRASH="after-claim:0.001,after-effect-before-commit:0.001,…" kills
 * the process with SIGKILL at the named point with that probability (seeded by SEED); LEASE sets the
 * idempotency and queue lease (default 30s); FAIL_RATE makes that share of payments answer 500 after
 * recording their writes (which are then rolled back: nothing may leak to the outbox).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import type Database from 'better-sqlite3';
import type pg from 'pg';
import {
  createIdempotency,
  createWall,
  DurableQueue,
  type Duration,
  type HttpAnswer,
  IdempotentHttp,
  type IntegrityStore,
  OrderingGuard,
  OutboxRelay,
  parseIdempotencyKey,
  Quarantine,
  readBody,
  registerIntegrityMetrics,
  type Work,
} from 'blastwall';
import { errorResponse, headerReader, parseJson, pathOf, writeResponse } from 'blastwall/http';
import { MemoryStore } from 'blastwall/stores/memory';
import { SqliteStore } from 'blastwall/stores/sqlite';
import { Registry } from 'prom-client';

const env = process.env;
const PORT = Number(env.PORT ?? 3000);
const STORE = env.STORE ?? 'memory';
const LEASE = (env.LEASE ?? '30s') as Duration;
const FAIL_RATE = Number(env.FAIL_RATE ?? 0);

// ---- crash points (seeded)
const CRASH_POINTS = [
  'after-claim',
  'after-effect-before-commit',
  'after-commit-before-respond',
  'relay-after-publish-before-mark',
  'consumer-after-apply-before-ack',
] as const;
type CrashPoint = (typeof CRASH_POINTS)[number];
const crashAt = new Map<string, number>();
for (const part of (env.CRASH ?? '').split(',').filter(Boolean)) {
  const [name, p] = part.split(':');
  if (!CRASH_POINTS.includes(name as CrashPoint)) throw new Error(`CRASH: unknown crash point "${name}" (known: ${CRASH_POINTS.join(', ')})`);
  crashAt.set(name!, Number(p ?? 1));
}
let seed = Number(env.SEED ?? Date.now()) >>> 0;
const random = (): number => {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
function maybeCrash(point: CrashPoint): void {
  const p = crashAt.get(point);
  if (p !== undefined && random() < p) {
    process.stderr.write(`CRASH ${point}\n`);
    process.kill(process.pid, 'SIGKILL');
  }
}

// ---- the store and the business table
async function openStore(): Promise<IntegrityStore> {
  if (STORE === 'memory') return new MemoryStore();
  if (STORE.startsWith('sqlite:')) return new SqliteStore({ database: STORE.slice('sqlite:'.length) });
  if (STORE.startsWith('redis://')) {
    const { RedisStore } = await import('blastwall/stores/redis');
    const s = new RedisStore({ connection: STORE, prefix: env.REDIS_PREFIX ?? 'payments:{example}:' });
    await s.init();
    return s;
  }
  if (STORE.startsWith('postgres://') || STORE.startsWith('postgresql://')) {
    const { PostgresStore } = await import('blastwall/stores/postgres');
    const s = new PostgresStore({ connection: STORE, schema: env.PG_SCHEMA ?? 'payments_example' });
    await s.init();
    await s.pool.query(
      `CREATE TABLE IF NOT EXISTS "${s.schema}".payments (id text PRIMARY KEY, key text NOT NULL, account text NOT NULL, amount numeric NOT NULL, version int NOT NULL, at bigint NOT NULL)`,
    );
    return s;
  }
  throw new Error(`STORE must be memory, sqlite:PATH, redis://… or postgres://… (got "${STORE}")`);
}

// the store is a dependency like any other: its health is on /healthz, an unreachable server fails fast
const rawStore = await openStore();
const registry = new Registry();
const wall = createWall({ service: 'payments', store: rawStore, telemetry: { prometheus: { registry } } });
const store = wall.store!;
if (store instanceof SqliteStore) {
  store.db.exec(
    'CREATE TABLE IF NOT EXISTS payments (id TEXT PRIMARY KEY, key TEXT NOT NULL, account TEXT NOT NULL, amount REAL NOT NULL, version INTEGER NOT NULL, at INTEGER NOT NULL)',
  );
}

interface Payment {
  account: string;
  amount: number;
  version: number;
}
interface PaymentRow extends Payment {
  id: string;
  key: string;
}

/** Writes the payment row: in the caller's own table inside the unit's transaction on SQL stores. */
function recordPayment(work: Work, row: PaymentRow, now: number): void {
  if (store.kind === 'sqlite') {
    work.sql((db) => {
      (db as Database.Database)
        .prepare('INSERT INTO payments (id, key, account, amount, version, at) VALUES (?, ?, ?, ?, ?, ?)')
        .run(row.id, row.key, row.account, row.amount, row.version, now);
      maybeCrash('after-effect-before-commit');
    });
  } else if (store.kind === 'postgres') {
    const schema = (store as unknown as { schema: string }).schema;
    work.sql(async (client) => {
      await (client as pg.PoolClient).query(`INSERT INTO "${schema}".payments (id, key, account, amount, version, at) VALUES ($1, $2, $3, $4, $5, $6)`, [
        row.id,
        row.key,
        row.account,
        row.amount,
        row.version,
        now,
      ]);
      maybeCrash('after-effect-before-commit');
    });
  } else {
    // memory and Redis: the row commits inside the unit (one Lua script on Redis), so the last moment
    // before that commit is here
    work.effect('payments', row.id, row);
    maybeCrash('after-effect-before-commit');
  }
}

/**
 * A business transaction of the caller's own that writes a payment and an outbox message, then rolls
 * back (SQL stores): the outbox row must vanish with it — `test:faults` checks no such message is sent.
 */
async function rolledBackBusinessWrite(row: PaymentRow): Promise<void> {
  const message = { id: `rolled-back-${row.id}`, topic: 'payment.created', payload: { paymentId: `rolled-back-${row.id}`, account: row.account, version: row.version, amount: row.amount } };
  if (store instanceof SqliteStore) {
    const db = store.db;
    try {
      db.transaction(() => {
        db.prepare('INSERT INTO payments (id, key, account, amount, version, at) VALUES (?, ?, ?, ?, ?, ?)').run(message.id, row.key, row.account, row.amount, row.version, Date.now());
        store.enqueueOutboxWith(db, message, Date.now());
        throw new Error('card network said no');
      })();
    } catch {
      // rolled back
    }
  } else if (store.kind === 'postgres') {
    const s = store as unknown as { pool: pg.Pool; schema: string; enqueueOutboxWith(h: unknown, m: typeof message, now: number): Promise<void> };
    const client = await s.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(`INSERT INTO "${s.schema}".payments (id, key, account, amount, version, at) VALUES ($1, $2, $3, $4, $5, $6)`, [
        message.id,
        row.key,
        row.account,
        row.amount,
        row.version,
        Date.now(),
      ]);
      await s.enqueueOutboxWith(client, message, Date.now());
      await client.query('ROLLBACK');
    } finally {
      client.release();
    }
  }
}

async function listPayments(): Promise<PaymentRow[]> {
  if (store instanceof SqliteStore) return store.db.prepare('SELECT id, key, account, amount, version FROM payments ORDER BY rowid').all() as PaymentRow[];
  if (store.kind === 'postgres') {
    const s = store as unknown as { pool: pg.Pool; schema: string };
    const r = await s.pool.query(`SELECT id, key, account, amount::float8 AS amount, version FROM "${s.schema}".payments ORDER BY at, id`);
    return r.rows as PaymentRow[];
  }
  return (await store.effects('payments')).map((e) => e.data as PaymentRow);
}

// ---- integrity pieces
const lease = LEASE;
const idempotency = createIdempotency({ store, lease, ttl: '24h' });
// keys are scoped explicitly: this example has no accounts, so one key space is shared on purpose; a service
// with callers passes `scope: (req) => accountOf(req)` so two callers never see each other's answers
const http = new IdempotentHttp({ idempotency, required: true, scope: 'global' });
const quarantine = new Quarantine({ store });
const guard = new OrderingGuard({ store });
const events = new DurableQueue<{ paymentId: string; account: string; version: number; amount: number }>({
  store,
  name: 'payment-events',
  lease,
  maxAttempts: 20,
  backoff: () => () => 100,
  pollInterval: '20ms',
  batch: 64,
  concurrency: 8,
  afterCommit: () => maybeCrash('consumer-after-apply-before-ack'),
});
const relay = new OutboxRelay({
  store,
  pollInterval: '20ms',
  publish: async (row) => {
    await events.enqueue(row.payload as never, { id: row.id });
    maybeCrash('relay-after-publish-before-mark');
  },
});

registerIntegrityMetrics(registry, { idempotency: { payments: idempotency }, queues: [events], guards: { accounts: guard }, quarantine: { payments: quarantine } }, 'payments');

function validate(p: unknown): string | undefined {
  if (p === null || typeof p !== 'object' || Array.isArray(p)) return 'body: expected a JSON object';
  const o = p as Record<string, unknown>;
  if (typeof o.account !== 'string' || !/^[\w-]{1,64}$/.test(o.account)) return 'account: expected 1–64 word characters';
  if (typeof o.amount !== 'number' || !Number.isFinite(o.amount) || o.amount <= 0) return 'amount: expected a positive number';
  if (!Number.isInteger(o.version) || (o.version as number) < 0) return 'version: expected an integer ≥ 0';
  return undefined;
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}): HttpAnswer => ({
  status,
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
});

async function createPayment(body: Buffer, work: Work | undefined, key: string): Promise<HttpAnswer> {
  maybeCrash('after-claim');
  let payload: unknown;
  try {
    payload = parseJson(body); // depth-bounded: a 100k-deep body is a 400 JSON_TOO_DEEP, thrown before any work
  } catch (err) {
    if ((err as { code?: unknown }).code === 'JSON_TOO_DEEP') throw err;
    payload = body.toString('utf8'); // not JSON: quarantined below
  }
  if (!(await quarantine.admit('payments', payload, validate))) {
    return json(422, { type: 'urn:example:invalid-payment', title: 'Invalid payment', detail: validate(payload) });
  }
  const p = payload as Payment;
  const row: PaymentRow = { id: randomUUID(), key, account: p.account, amount: p.amount, version: p.version };
  recordPayment(work!, row, Date.now());
  work!.outbox('payment.created', { paymentId: row.id, account: row.account, version: row.version, amount: row.amount });
  if (FAIL_RATE > 0 && random() < FAIL_RATE) {
    await rolledBackBusinessWrite(row);
    return json(500, { error: 'injected failure: nothing was committed' });
  }
  return json(201, { paymentId: row.id, account: row.account, amount: row.amount, version: row.version }, { location: `/payments/${row.id}` });
}

async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = pathOf(req.url);
  if (req.method === 'POST' && path === '/payments') {
    const body = await readBody(req, http.maxBodyBytes);
    if (body === null) return writeResponse(res, json(413, { error: 'body too large' }));
    const header = headerReader(req.headers);
    // handle(): a handler that throws releases its key at once and answers problem+json without its text
    const out = await http.handle({ method: 'POST', path, header, body }, (work) => createPayment(body, work, parseIdempotencyKey(header('idempotency-key')) ?? ''));
    if (out.status < 300) maybeCrash('after-commit-before-respond');
    return writeResponse(res, out);
  }
  if (req.method === 'GET' && path === '/healthz') {
    const h = wall.health();
    return writeResponse(res, json(h.status === 'unavailable' ? 503 : 200, h));
  }
  if (req.method === 'GET' && path === '/metrics') {
    return writeResponse(res, { status: 200, headers: { 'content-type': 'text/plain; version=0.0.4' }, body: await wall.metrics() });
  }
  if (req.method === 'GET' && path === '/effects') return writeResponse(res, json(200, await listPayments()));
  if (req.method === 'GET' && path === '/ledger') return writeResponse(res, json(200, (await store.effects('ledger')).map((e) => e.data)));
  if (req.method === 'GET' && path === '/accounts') {
    const accounts = [...new Set((await listPayments()).map((p) => p.account))].sort();
    const out: Record<string, number | null> = {};
    for (const a of accounts) out[a] = (await guard.current(`account:${a}`))?.version ?? null;
    return writeResponse(res, json(200, out));
  }
  if (req.method === 'GET' && path === '/status') {
    return writeResponse(
      res,
      json(200, {
        store: store.kind,
        outboxPending: (await store.outboxPending(1_000_000)).length,
        queue: await events.queueStats(),
        quarantined: (await quarantine.list(undefined, 1_000_000)).length,
        idempotency: idempotency.stats,
        consumer: events.stats,
        relay: relay.stats,
        guard: guard.stats,
      }),
    );
  }
  writeResponse(res, json(404, { error: 'not found' }));
}

const server = createServer((req, res) => {
  route(req, res).catch((err: unknown) => {
    if (!res.headersSent) writeResponse(res, errorResponse(err)); // problem+json; the detail goes to stderr
    else res.destroy();
  });
});

// the consumer: applies each payment event once (the ledger row and the account version commit with
// the message's processed mark) — a stale version is kept out by the ordering guard's compare-and-set
events.start(({ id, payload, work }) => {
  work.effect('ledger', id, { messageId: id, paymentId: payload.paymentId, account: payload.account, version: payload.version });
  work.version(`account:${payload.account}`, payload.version, { paymentId: payload.paymentId });
}, (err) => process.stderr.write(`consumer: ${String(err)}\n`));
relay.start((err) => process.stderr.write(`relay: ${String(err)}\n`));

// expired idempotency records are swept once a minute (claims take over expired leases by themselves)
const sweeper = setInterval(() => void store.sweep(Date.now()).catch(() => undefined), 60_000);
sweeper.unref();

server.listen(PORT, '127.0.0.1', () => process.stdout.write(`payments listening on http://127.0.0.1:${PORT} (store ${store.kind})\n`));

const shutdown = (): void => {
  clearInterval(sweeper);
  server.close();
  void Promise.all([events.stop(), relay.stop()])
    .then(() => wall.close()) // closes the store too
    .then(() => process.exit(0));
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
