/**
 * `npm run test:faults`: the payments example (examples/idempotent-payments.ts) as a real process on
 * 127.0.0.1, against SQLite, Redis and PostgreSQL, SIGKILLed at named crash points and at random while a
 * seeded client sends 10,000 keys (each 1–5 times, 30% of duplicates concurrent with the first, 5%
 * reusing the key with a different body). Every response is recorded; the invariants are checked on
 * the history and on the final state:
 *
 *   one-effect      exactly one payment row per key
 *   same-body       every success for a key has the same body (the same payment id)
 *   bounded-block   no key answered 409 for longer than lease + sweep interval (+ the client's 100 ms poll)
 *   outbox-lost     every committed payment reached the consumer (0 lost)
 *   outbox-phantom  nothing from a rolled-back transaction or failed request reached it (0 phantom)
 *   ordering        each account's version is the highest version among its committed payments
 *
 * Options (env or flags): --keys N (10000), --seed S (1234), --backends sqlite,redis,postgres,
 * --lease 2s, --instance NAME (default `drill-1`: the server's BLASTWALL_INSTANCE, so a restarted server
 * releases the keys its killed predecessor held; `--instance ''` runs without, to compare). Bounded in time: each backend stops sending after 300 s and fails if it could not finish.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { Redis } from 'ioredis';
import pg from 'pg';

const { values: args } = parseArgs({
  options: {
    keys: { type: 'string', default: process.env.FAULT_KEYS ?? '10000' },
    seed: { type: 'string', default: process.env.FAULT_SEED ?? '1234' },
    backends: { type: 'string', default: process.env.FAULT_BACKENDS ?? 'sqlite,redis,postgres' },
    lease: { type: 'string', default: '2s' },
    instance: { type: 'string', default: 'drill-1' },
  },
});
const KEYS = Number(args.keys);
const SEED = Number(args.seed);
const LEASE_MS = Number(args.lease.replace(/s$/, '')) * 1000;
const SWEEP_INTERVAL_MS = 0; // expired leases are taken over by the next claim; the 60 s sweep only frees space
const POLL_SLACK_MS = 150; // the client retries a 409 every 100 ms
const REDIS_URL = process.env.BLASTWALL_REDIS_URL ?? 'redis://127.0.0.1:6379';
const PG_URL = process.env.BLASTWALL_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REQUIRE = process.env.BLASTWALL_REQUIRE_SERVICES === '1';
const CONCURRENCY = 48;
const SEND_BUDGET_MS = 300_000;
const CRASH_P = 0.0008;
const CRASH =
  ['after-claim', 'after-effect-before-commit', 'after-commit-before-respond', 'relay-after-publish-before-mark', 'consumer-after-apply-before-ack']
    .map((p) => `${p}:${CRASH_P}`)
    .join(',');

/**
 * The example bundled once (esbuild, dependencies external) so a restart takes ~0.1 s, not a TS compile.
 * Its `blastwall` imports are bundled from src/ (the code under test), not from a possibly stale dist/.
 */
const SERVER_JS = join(process.cwd(), '.faults-dist', 'idempotent-payments.mjs');
await build({
  entryPoints: ['examples/idempotent-payments.ts'],
  bundle: true,
  platform: 'node',
  format: 'esm',
  packages: 'external',
  target: 'node20',
  outfile: SERVER_JS,
  logLevel: 'warning',
  plugins: [
    {
      name: 'blastwall-from-source',
      setup(b) {
        b.onResolve({ filter: /^blastwall(\/[\w/-]+)?$/ }, (a) => ({
          path: join(process.cwd(), 'src', a.path === 'blastwall' ? 'index.ts' : `${a.path.slice('blastwall/'.length)}/index.ts`),
        }));
      },
    },
  ],
});

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Backend {
  name: string;
  store: string;
  env: Record<string, string>;
  available(): Promise<boolean>;
  cleanup(): Promise<void>;
}

function backends(): Backend[] {
  const tmp = mkdtempSync(join(tmpdir(), 'bw-faults-'));
  const prefix = `faults:{${randomBytes(4).toString('hex')}}:`;
  const schema = `bw_faults_${randomBytes(4).toString('hex')}`;
  const all: Backend[] = [
    {
      name: 'sqlite',
      store: `sqlite:${join(tmp, 'payments.db')}`,
      env: {},
      available: () => Promise.resolve(true),
      cleanup: () => Promise.resolve(rmSync(tmp, { recursive: true, force: true })),
    },
    {
      name: 'redis',
      store: REDIS_URL,
      env: { REDIS_PREFIX: prefix },
      async available() {
        const r = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
        try {
          await r.connect();
          await r.ping();
          return true;
        } catch {
          return false;
        } finally {
          r.disconnect();
        }
      },
      async cleanup() {
        const r = new Redis(REDIS_URL);
        let cursor = '0';
        do {
          const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
          cursor = next;
          if (keys.length > 0) await r.del(...keys);
        } while (cursor !== '0');
        r.disconnect();
      },
    },
    {
      name: 'postgres',
      store: PG_URL,
      env: { PG_SCHEMA: schema },
      async available() {
        const c = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 1500 });
        try {
          await c.connect();
          return true;
        } catch {
          return false;
        } finally {
          await c.end().catch(() => undefined);
        }
      },
      async cleanup() {
        const c = new pg.Client(PG_URL);
        await c.connect();
        await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await c.end();
      },
    },
  ];
  const wanted = args.backends.split(',');
  return all.filter((b) => wanted.includes(b.name));
}

/** Runs the server, restarts it whenever it dies, counts crashes by point. */
class Supervisor {
  proc: ChildProcess | undefined;
  crashes = new Map<string, number>();
  randomKills = 0;
  restarts = 0;
  private stopping = false;
  private readyResolve: (() => void) | undefined;
  ready: Promise<void> = Promise.resolve();

  constructor(
    private readonly port: number,
    private readonly backend: Backend,
  ) {}

  start(): Promise<void> {
    this.ready = new Promise((r) => (this.readyResolve = r));
    const env: Record<string, string | undefined> = {
      ...process.env,
      BLASTWALL_INSTANCE: args.instance === '' ? undefined : args.instance,
      ...this.backend.env,
      PORT: String(this.port),
      STORE: this.backend.store,
      LEASE: `${LEASE_MS}ms`,
      CRASH,
      FAIL_RATE: '0.02',
      SEED: String(SEED * 1000 + this.restarts),
    };
    const p = spawn(process.execPath, [SERVER_JS], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = p;
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => {
      if (d.toString().includes('listening')) this.readyResolve?.();
    });
    p.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      const m = /CRASH ([\w-]+)/.exec(stderr);
      if (m !== null) {
        this.crashes.set(m[1]!, (this.crashes.get(m[1]!) ?? 0) + 1);
        stderr = '';
      }
    });
    p.on('exit', (code, signal) => {
      if (this.proc !== p) return;
      this.proc = undefined;
      if (this.stopping) return;
      if (signal !== 'SIGKILL') process.stderr.write(`server exited unexpectedly (${code ?? signal}): ${stderr.slice(-2000)}\n`);
      this.restarts++;
      setTimeout(() => void this.start(), 50);
    });
    return this.ready;
  }

  kill(): void {
    if (this.proc !== undefined) {
      this.randomKills++;
      this.proc.kill('SIGKILL');
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const p = this.proc;
    if (p === undefined) return;
    await new Promise<void>((r) => {
      p.once('exit', () => r());
      p.kill('SIGTERM');
      setTimeout(() => p.kill('SIGKILL'), 5000).unref();
    });
  }
}

interface Sent {
  key: string;
  status: number;
  body: string;
  /** ms from the first 409 of this send to its final answer (0 if never 409). */
  blockedMs: number;
  reuse: boolean;
}

async function send(base: string, key: string, body: string, deadline: number): Promise<Omit<Sent, 'key' | 'reuse'> | undefined> {
  // a key is blocked while it answers 409; the run of 409s ends with any other answer (or a dead server)
  let first409 = 0;
  let blocked = 0;
  for (;;) {
    if (Date.now() > deadline) return undefined;
    let r: Response;
    try {
      r = await fetch(`${base}/payments`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': `"${key}"` },
        body,
        signal: AbortSignal.timeout(10_000),
      });
    } catch {
      first409 = 0; // connection refused or reset: the server is down or was killed mid-request
      await sleep(50);
      continue;
    }
    const text = await r.text().catch(() => undefined);
    if (text === undefined) {
      await sleep(50);
      continue;
    }
    if (r.status === 409) {
      first409 ||= Date.now();
      blocked = Math.max(blocked, Date.now() - first409);
      await sleep(100);
      continue;
    }
    first409 = 0;
    if (r.status >= 500) {
      await sleep(20);
      continue;
    }
    return { status: r.status, body: text, blockedMs: blocked };
  }
}

interface Row {
  backend: string;
  checks: [string, boolean, string][];
  stats: Record<string, string | number>;
}

async function runBackend(b: Backend, port: number): Promise<Row> {
  const random = rng(SEED);
  const sup = new Supervisor(port, b);
  const base = `http://127.0.0.1:${port}`;
  await sup.start();
  const t0 = Date.now();
  const deadline = t0 + SEND_BUDGET_MS;

  // the workload: 50 accounts, versions increasing per account in key order
  const versions = new Map<string, number>();
  const plan = Array.from({ length: KEYS }, (_, i) => {
    const account = `acct-${Math.floor(random() * 50)}`;
    const version = (versions.get(account) ?? 0) + 1;
    versions.set(account, version);
    const sends = 1 + Math.floor(random() * 5);
    const reuse = sends > 1 && random() < 0.05;
    const concurrent = Array.from({ length: sends - 1 }, () => random() < 0.3);
    return { key: `key-${SEED}-${i}`, body: { account, amount: 1 + (i % 97), version }, sends, reuse, concurrent };
  });

  // random kills from outside, on top of the crash points
  let killing = true;
  const killer = (async () => {
    while (killing) {
      await sleep(1500 + random() * 3000);
      if (killing) sup.kill();
    }
  })();

  const history: Sent[] = [];
  let next = 0;
  let unfinished = 0;
  const worker = async (): Promise<void> => {
    while (next < plan.length) {
      const p = plan[next++]!;
      const body = JSON.stringify(p.body);
      const other = JSON.stringify({ ...p.body, amount: p.body.amount + 1000 });
      const record = (r: Awaited<ReturnType<typeof send>>, reuse: boolean): void => {
        if (r === undefined) unfinished++;
        else history.push({ key: p.key, ...r, reuse });
      };
      const firstP = send(base, p.key, body, deadline).then((r) => record(r, false));
      const later: (() => Promise<void>)[] = [];
      const concurrentNow: Promise<void>[] = [];
      for (let d = 0; d < p.sends - 1; d++) {
        const reuse = p.reuse && d === 0;
        const go = (): Promise<void> => send(base, p.key, reuse ? other : body, deadline).then((r) => record(r, reuse));
        if (p.concurrent[d] === true) concurrentNow.push(go());
        else later.push(go);
      }
      await Promise.all([firstP, ...concurrentNow]);
      for (const go of later) await go();
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  killing = false;
  await killer;
  const sendMs = Date.now() - t0;

  // drain: the relay and the consumer finish (they may still hit their crash points and restart)
  let status: { outboxPending: number; queue: { backlog: number; dead: number } } | undefined;
  const drainDeadline = Date.now() + 60_000;
  while (Date.now() < drainDeadline) {
    await sup.ready;
    status = await fetch(`${base}/status`).then(
      (r) => (r.ok ? (r.json() as Promise<typeof status>) : undefined),
      () => undefined,
    );
    if (status !== undefined && status.outboxPending === 0 && status.queue.backlog === 0) break;
    await sleep(200);
  }
  const get = async <T>(path: string): Promise<T> => {
    for (;;) {
      await sup.ready;
      const r = await fetch(`${base}${path}`).then((x) => x.json() as Promise<T>, () => undefined);
      if (r !== undefined) return r;
      await sleep(100);
    }
  };
  const effects = await get<{ id: string; key: string; account: string; version: number; amount: number }[]>('/effects');
  const ledger = await get<{ paymentId: string; messageId: string }[]>('/ledger');
  const accounts = await get<Record<string, number | null>>('/accounts');
  await sup.stop();

  // ---- invariants
  const effectsByKey = new Map<string, typeof effects>();
  for (const e of effects) effectsByKey.set(e.key, [...(effectsByKey.get(e.key) ?? []), e]);
  const duplicated = [...effectsByKey.values()].filter((v) => v.length > 1).length;
  const missing = plan.filter((p) => !effectsByKey.has(p.key)).length;

  const successes = new Map<string, Set<string>>();
  for (const h of history) if (h.status >= 200 && h.status < 300) successes.set(h.key, (successes.get(h.key) ?? new Set()).add(h.body));
  const differingBodies = [...successes.values()].filter((s) => s.size > 1).length;
  const bodyMismatchEffect = [...successes.entries()].filter(([k, s]) => {
    const e = effectsByKey.get(k);
    return e?.length === 1 && !(JSON.parse([...s][0]!) as { paymentId: string }).paymentId.includes(e[0]!.id);
  }).length;

  const maxBlocked = Math.max(0, ...history.map((h) => h.blockedMs));
  const blockBound = LEASE_MS + SWEEP_INTERVAL_MS + POLL_SLACK_MS;

  const committed = new Set(effects.map((e) => e.id));
  const delivered = new Set(ledger.map((l) => l.paymentId));
  const lost = [...committed].filter((id) => !delivered.has(id)).length;
  const phantom = [...delivered].filter((id) => !committed.has(id)).length;

  const highest = new Map<string, number>();
  for (const e of effects) highest.set(e.account, Math.max(highest.get(e.account) ?? 0, e.version));
  const wrongVersion = [...highest.entries()].filter(([a, v]) => accounts[a] !== v).length;

  const reuses = history.filter((h) => h.reuse);
  const reuse422 = reuses.filter((h) => h.status === 422).length;
  const crashes = [...sup.crashes.entries()].map(([k, v]) => `${k}=${v}`).join(' ');
  return {
    backend: b.name,
    checks: [
      ['all keys finished in time', unfinished === 0, `${unfinished} sends unfinished after ${SEND_BUDGET_MS / 1000}s`],
      ['one-effect (exactly one payment per key)', duplicated === 0 && missing === 0, `${duplicated} keys with >1, ${missing} with none`],
      ['same-body (every success for a key identical)', differingBodies === 0 && bodyMismatchEffect === 0, `${differingBodies} keys differ, ${bodyMismatchEffect} differ from the row`],
      ['bounded-block (409s last ≤ lease + sweep)', maxBlocked <= blockBound, `max ${maxBlocked} ms ≤ ${blockBound} ms`],
      ['outbox-lost = 0', lost === 0, `${lost} lost`],
      ['outbox-phantom = 0', phantom === 0, `${phantom} phantom`],
      ['ordering (guard holds the highest version)', wrongVersion === 0, `${wrongVersion} accounts wrong of ${highest.size}`],
      [
        'drained (outbox and queue empty, no dead letters)',
        status?.outboxPending === 0 && status.queue.backlog === 0 && status.queue.dead === 0,
        `outbox ${status?.outboxPending ?? '?'}, backlog ${status?.queue.backlog ?? '?'}, dead ${status?.queue.dead ?? '?'}`,
      ],
    ],
    stats: {
      keys: KEYS,
      requests: history.length,
      'key reuses → 422': `${reuse422}/${reuses.length}`,
      'crash points': crashes,
      'random kills': sup.randomKills,
      restarts: sup.restarts,
      'sends with 409': history.filter((h) => h.blockedMs > 0).length,
      'max blocked ms': maxBlocked,
      payments: effects.length,
      'ledger rows': ledger.length,
      'send time s': (sendMs / 1000).toFixed(1),
    },
  };
}

const rows: Row[] = [];
let port = 41_000 + (SEED % 1000);
console.log(
  `test:faults — ${KEYS} keys per backend, seed ${SEED}, lease ${LEASE_MS} ms, instance ${args.instance === '' ? 'none' : args.instance}, crash points p=${CRASH_P} each, random SIGKILL every 1.5–4.5 s`,
);
for (const b of backends()) {
  if (!(await b.available())) {
    const msg = `${b.name}: server unreachable — start it (see DEVELOPERS.md / .ci/run)`;
    if (REQUIRE) {
      rows.push({ backend: b.name, checks: [['service available', false, msg]], stats: {} });
    } else {
      console.log(`SKIP ${msg}`);
    }
    continue;
  }
  console.log(`\n== ${b.name}`);
  try {
    const r = await runBackend(b, port++);
    rows.push(r);
    for (const [k, v] of Object.entries(r.stats)) console.log(`  ${k.padEnd(22)} ${v}`);
    for (const [name, ok, detail] of r.checks) console.log(`  ${ok ? 'PASS' : 'FAIL'}  ${name.padEnd(50)} ${detail}`);
  } finally {
    await b.cleanup().catch((err: unknown) => console.error(`cleanup ${b.name}: ${String(err)}`));
  }
}

const all = rows.flatMap((r) => r.checks);
const passed = all.filter((c) => c[1]).length;
const failed = all.length - passed;
console.log('\n| invariant | ' + rows.map((r) => r.backend).join(' | ') + ' |');
console.log('|---|' + rows.map(() => '---').join('|') + '|');
for (const [i, [name]] of (rows[0]?.checks ?? []).entries()) {
  console.log(`| ${name} | ${rows.map((r) => (r.checks[i]?.[1] ? 'pass' : 'FAIL') + ' (' + (r.checks[i]?.[2] ?? '') + ')').join(' | ')} |`);
}
console.log(`\n${passed} passed, ${failed} failed`);
process.exit(failed === 0 && rows.length > 0 ? 0 : 1);
