/**
 * Drain under load: a child process serving requests that take 300 ms is sent SIGTERM while ten are in
 * flight. Every in-flight request is answered, the deferred work they queued is done, a new connection is
 * refused, and the process exits 0 within its 3 s drain deadline.
 */
import { untilTurns } from '../support/turns.js';
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../src/testing/index.js';
import { createWall, sleep } from '../../src/index.js';

function get(port: number): Promise<{ status: number; body: string } | { error: string }> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/work', agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
    req.end();
  });
}

describe('drain', () => {
  it('a child process sent SIGTERM under load answers every request in flight and exits within its deadline', async () => {
    const server = fileURLToPath(new URL('./fixtures/drain-server.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', server], { stdio: ['ignore', 'pipe', 'pipe'], cwd: fileURLToPath(new URL('../..', import.meta.url)) });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const port = await new Promise<number>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no "listening" line in 20s: ${out}`)), 20_000);
      child.stdout.on('data', () => {
        const m = /listening (\d+)/.exec(out);
        if (m) {
          clearTimeout(t);
          resolve(Number(m[1]));
        }
      });
    });
    const inFlight = Array.from({ length: 10 }, () => get(port));
    // the ten requests are in their handlers (300 ms each) when the child says so
    await untilTurns(() => out.split('received').length - 1 >= 10, 'the ten requests to reach their handlers');
    const signalledAt = Date.now();
    child.kill('SIGTERM');
    await untilTurns(() => out.includes('draining'), 'the child to start draining');
    const late = await get(port);
    const exit = await new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const tookMs = Date.now() - signalledAt;
    expect(await Promise.all(inFlight)).toEqual(Array.from({ length: 10 }, () => ({ status: 200, body: 'ok' })));
    expect(late).toMatchObject({ error: 'ECONNREFUSED' });
    expect(exit).toBe(0);
    expect(tookMs).toBeLessThan(3000 + 1500);
    const report = JSON.parse(/drained (.*)/.exec(out)?.[1] ?? '{}') as { inFlightAtStart: number; unfinished: number; droppedDeferred: number; deferredDone: number };
    expect(report).toMatchObject({ inFlightAtStart: 10, unfinished: 0, droppedDeferred: 0, deferredDone: 10 });
  }, 40_000);

  it('on the fake clock: new runs are refused while draining, in-flight runs finish, what does not finish by the deadline is reported', async () => {
    const clock = new FakeClock();
    const wall = createWall({ service: 's', clock, drift: false });
    const dep = wall.dependency('d', { timeout: '10s' });
    const op = wall.operation('o', { deadline: '20s' });
    const quick = op.run(() => dep.call((ctx) => sleep(clock, 100, ctx.signal).then(() => 'quick')));
    const slow = op.run(() => dep.call((ctx) => sleep(clock, 5000, ctx.signal).then(() => 'slow'))).catch((e: Error) => e.message);
    const drained = wall.drain({ deadline: '1s' });
    await expect(op.run(() => 'new')).rejects.toMatchObject({ code: 'CLOSED', retryAfterMs: 5000 });
    await clock.advance(2000);
    expect(await quick).toBe('quick');
    expect(await drained).toMatchObject({ inFlightAtStart: 2, unfinished: 1, deadlineMs: 1000 });
    expect(await slow).toMatch(/closed/i);
  });

  it('close() runs the deferred work it accepted within its grace period instead of dead-lettering it', async () => {
    const clock = new FakeClock();
    const wall = createWall({ service: 's', clock, drift: false, closeGrace: '5s' });
    const audit = wall.dependency('audit', { criticality: 'deferrable', timeout: '1s', deferred: { workers: 2 } });
    let done = 0;
    for (let i = 0; i < 10; i++) await audit.call(() => sleep(clock, 50).then(() => void done++));
    const closed = wall.close();
    await clock.advance(1000);
    expect(await closed).toEqual({ droppedDeferred: 0 });
    expect(done).toBe(10);
    expect(audit.counters).toMatchObject({ deferredDone: 10, deferredDead: 0 });
  });
});
