/**
 * Another process holding the SQLite file's write lock must not freeze this one (issue 17, finding 2).
 * A child process runs `BEGIN IMMEDIATE` on the same file and holds it for 3 s, while this process keeps
 * using the store and the timeline and a timer-drift probe measures the longest event-loop stall.
 * Figures: how long each synchronous store / timeline call blocks the loop (SQLite's busy timeout is 0,
 * so only the attempt itself plus scheduling; the 95th percentile must stay under 50 ms), how many calls
 * completed while the lock was held (the old code: one, after the lock), and the longest event-loop stall
 * seen by a 5 ms timer-drift probe (bound 1 s, a third of the old 3 s freeze: on a loaded shared 2-core
 * machine the probe also counts the scheduler's own pauses, so it is also measured for 1 s with no lock).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/stores/sqlite/index.js';
import { createTimeline } from '../../src/timeline/index.js';
import { captureWarnings } from '../support/warnings.js';

const dir = mkdtempSync(join(tmpdir(), 'bw-lock-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const HOLD_MS = 3000;
const CALL_P95_BOUND_MS = 50;
const STALL_BOUND_MS = 1000;

/** p50 / p95 / max of the synchronous call times, in ms. */
function spread(xs: number[]): { p50: number; p95: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number): number => Math.round(s[Math.min(s.length - 1, Math.floor(s.length * q))]! * 10) / 10;
  return { p50: at(0.5), p95: at(0.95), max: at(1) };
}

const HOLDER = `
const Database = require('better-sqlite3');
const db = new Database(process.argv[1]);
db.exec('BEGIN IMMEDIATE');
process.stdout.write('LOCKED\\n');
setTimeout(() => { db.exec('COMMIT'); db.close(); }, Number(process.argv[2]));
`;

/** Starts the lock holder; resolves once it holds the lock, with a promise of its exit. */
async function holdWriteLock(path: string): Promise<{ exited: Promise<void>; done: () => boolean }> {
  const child: ChildProcess = spawn(process.execPath, ['-e', HOLDER, path, String(HOLD_MS)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let finished = false;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      finished = true;
      resolve();
    }),
  );
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (b: Buffer) => {
      if (b.toString().includes('LOCKED')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`lock holder exited early (${code})`)));
  });
  return { exited, done: () => finished };
}

/** The longest gap between 5 ms ticks beyond the 5 ms itself: how long the event loop was blocked. */
function stallProbe(): { stop(): number } {
  let last = performance.now();
  let max = 0;
  const t = setInterval(() => {
    const n = performance.now();
    max = Math.max(max, n - last - 5);
    last = n;
  }, 5);
  return {
    stop() {
      clearInterval(t);
      return Math.round(max);
    },
  };
}

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('a SQLite file locked by another process', () => {
  it(`the store fails fast with STORE_UNAVAILABLE: calls keep completing, p95 call < ${CALL_P95_BOUND_MS} ms`, async () => {
    const path = join(dir, 'store.db');
    const store = new SqliteStore({ database: path });
    try {
      const quiet = stallProbe(); // the machine's own noise, with no lock: for the report, not asserted
      await pause(1000);
      const baseline = quiet.stop();
      const lock = await holdWriteLock(path);
      const probe = stallProbe();
      const codes: string[] = [];
      const times: number[] = [];
      let i = 0;
      while (!lock.done()) {
        const t0 = performance.now();
        const answer = store.claim({ key: `k${i++}`, fingerprint: 'f', token: `t${i}`, now: 1000, leaseMs: 1000 });
        times.push(performance.now() - t0);
        codes.push(
          await answer.then(
            (r) => r.state,
            (e: { code?: string }) => e.code ?? String(e),
          ),
        );
        await pause(20);
      }
      const stall = probe.stop();
      await lock.exited;
      const t = spread(times);
      console.log(
        `sqlite store, ${HOLD_MS} ms foreign write lock: ${codes.length} calls, call ms p50 ${t.p50} p95 ${t.p95} max ${t.max}, longest event-loop stall ${stall} ms (${baseline} ms in 1 s without the lock)`,
      );
      expect(codes.length).toBeGreaterThan(20); // calls kept completing while the lock was held
      expect(codes.filter((c) => c === 'STORE_UNAVAILABLE').length).toBeGreaterThan(20);
      expect(t.p95).toBeLessThan(CALL_P95_BOUND_MS);
      expect(stall).toBeLessThan(STALL_BOUND_MS);
      // once the lock is gone the store works again
      expect(await store.claim({ key: 'after', fingerprint: 'f', token: 'ta', now: 1000, leaseMs: 1000 })).toMatchObject({ state: 'claimed' });
    } finally {
      await store.close();
    }
  }, 20_000);

  it(`the timeline keeps its entries buffered and writes them after the lock; p95 flush < ${CALL_P95_BOUND_MS} ms`, async () => {
    const path = join(dir, 'timeline.db');
    const tl = createTimeline({ path, service: 'lock', flushEvery: '20ms' });
    try {
      tl.note('before the lock');
      tl.flush();
      const quiet = stallProbe(); // the machine's own noise, with no lock: for the report, not asserted
      await pause(1000);
      const baseline = quiet.stop();
      const captured = captureWarnings();
      const lock = await holdWriteLock(path);
      const probe = stallProbe();
      let n = 0;
      let refused = 0;
      const times: number[] = [];
      while (!lock.done()) {
        tl.note(`during ${n++}`);
        const t0 = performance.now();
        try {
          tl.flush(); // besides the 20 ms timer's own tries
        } catch (e) {
          expect(e).toMatchObject({ code: 'STORE_UNAVAILABLE' });
          refused++;
        }
        times.push(performance.now() - t0);
        await pause(20);
      }
      const stall = probe.stop();
      await lock.exited;
      captured.restore();
      // one warning when the writes start failing, not one per refused flush
      expect(captured.warnings).toEqual([expect.stringMatching(/cannot write the timeline at .*another process holds the write lock; the entries stay buffered and are retried/)]);
      const t = spread(times);
      console.log(
        `timeline, ${HOLD_MS} ms foreign write lock: ${n} entries, ${refused} flushes refused, flush ms p50 ${t.p50} p95 ${t.p95} max ${t.max}, longest event-loop stall ${stall} ms (${baseline} ms in 1 s without the lock)`,
      );
      expect(refused).toBeGreaterThan(20);
      expect(t.p95).toBeLessThan(CALL_P95_BOUND_MS);
      expect(stall).toBeLessThan(STALL_BOUND_MS);
      for (let i = 0; i < 100 && tl.stats().buffered > 0; i++) await pause(20); // the flush timer retries
      expect(tl.stats()).toMatchObject({ buffered: 0, dropped: 0 });
      expect(tl.query({ kind: 'note' })).toHaveLength(n + 1);
    } finally {
      tl.close();
    }
  }, 20_000);
});
