import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { createTimeline, createWall, postmortem } from '../../src/index.js';
import { run as cli } from '../../src/cli/main.js';
import { FakeClock } from '../../src/testing/index.js';

const dir = mkdtempSync(join(tmpdir(), 'bw-timeline-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('timeline', () => {
  it('events from a wall run land in SQLite in order', async () => {
    const clock = new FakeClock();
    const path = join(dir, 'wall.db');
    const timeline = createTimeline({ path, clock, service: 'shop', flushEvery: '100ms' });
    const wall = createWall({ service: 'shop', clock, timeline, healthInterval: '1s' });
    const db = wall.dependency('db', { breaker: { minimumCalls: 3, window: { calls: 3 }, halfOpenAfter: '5s' } });
    timeline.mark('deploy', 'v2.3.1 rolled out', { version: '2.3.1' });
    await clock.advance(1000);
    for (let i = 0; i < 3; i++) await db.call(() => Promise.reject(new Error('down'))).catch(() => undefined);
    wall.setMode('degraded', { reason: 'db trouble' });
    await clock.advance(1000);
    timeline.note('looking into it', 'alice');
    await clock.advance(200);
    const entries = timeline.query();
    expect(entries.map((e) => e.kind)).toEqual(['deploy', 'breaker', 'health', 'mode', 'health', 'note']);
    expect(entries.map((e) => e.title)).toEqual([
      'v2.3.1 rolled out',
      expect.stringMatching(/^db breaker closed → open: failure rate 100%/),
      expect.stringMatching(/^db healthy → unavailable/),
      'mode normal → degraded (by hand): db trouble',
      expect.stringMatching(/^service ok → unavailable/), // the service status is judged at the next health evaluation
      'looking into it',
    ]);
    expect(entries.every((e, i) => i === 0 || e.at >= entries[i - 1]!.at)).toBe(true);
    expect(timeline.query({ dependency: 'db' }).map((e) => e.kind)).toEqual(['breaker', 'health']);
    expect(timeline.query({ kind: 'note' })[0]!.data).toEqual({ author: 'alice' });
    expect(timeline.query({ from: entries[1]!.at, to: entries[3]!.at }).length).toBe(3);
    await wall.close();
    timeline.close();
    expect(clock.pendingTimers()).toBe(0);
  });

  it('a process killed mid-run (SIGKILL) leaves a readable timeline with everything acknowledged before the kill', async () => {
    const path = join(dir, 'killed.db');
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'writer.ts'), path], { stdio: ['ignore', 'pipe', 'inherit'] });
    let acked = 0;
    await new Promise<void>((resolve, reject) => {
      let buf = '';
      child.stdout.on('data', (chunk: Buffer) => {
        buf += chunk.toString();
        for (const m of buf.matchAll(/ACK (\d+)\n/g)) acked = Math.max(acked, Number(m[1]));
        buf = buf.slice(buf.lastIndexOf('\n') + 1);
        if (acked >= 2000 && child.exitCode === null && !child.killed) child.kill('SIGKILL');
      });
      child.on('exit', (_code, signal) => (signal === 'SIGKILL' ? resolve() : reject(new Error(`writer exited by itself (${signal})`))));
      child.on('error', reject);
    });
    const db = new Database(path, { readonly: true });
    const rows = db.prepare('SELECT title, data FROM timeline ORDER BY seq').all() as { title: string; data: string }[];
    db.close();
    expect(rows.length).toBeGreaterThanOrEqual(acked);
    rows.forEach((r, i) => {
      expect(r.title).toBe(`entry ${i + 1}`);
      expect(JSON.parse(r.data)).toEqual({ n: i + 1 });
    });
  }, 60_000);

  it('a full buffer drops and counts instead of blocking; a malformed entry is refused whole', () => {
    const tl = createTimeline({ path: ':memory:', clock: new FakeClock(), bufferSize: 10, flushEvery: '1h' });
    let accepted = 0;
    for (let i = 0; i < 25; i++) if (tl.record({ kind: 'note', severity: 'info', title: `n${i}` })) accepted++;
    expect(accepted).toBe(10);
    expect(tl.stats()).toEqual({ written: 0, dropped: 15, buffered: 10, reopened: 0 });
    expect(tl.flush()).toBe(10);
    expect(tl.stats()).toEqual({ written: 10, dropped: 15, buffered: 0, reopened: 0 });
    expect(() => tl.record({ kind: 'note', severity: 'loud' as never, title: 'x' })).toThrow(/Expected `entry.severity` to be one of 'info', 'warning', 'critical'/);
    expect(tl.stats().buffered).toBe(0);
    tl.close();
  });

  it('a row whose data cannot be read back is reported, not thrown', () => {
    const path = join(dir, 'corrupt.db');
    const tl = createTimeline({ path, clock: new FakeClock() });
    tl.record({ kind: 'note', severity: 'info', title: 'fine', data: { a: 1 } });
    tl.flush();
    const raw = new Database(path);
    raw.prepare("INSERT INTO timeline (at, kind, service, severity, title, data) VALUES (1, 'note', 's', 'info', 'broken', '{oops')").run();
    raw.close();
    const entries = tl.query();
    expect(entries.map((e) => [e.title, e.corrupt ?? false])).toEqual([
      ['broken', true],
      ['fine', false],
    ]);
    tl.close();
  });
});

describe('postmortem', () => {
  it('drafts every section from a recorded incident', async () => {
    const clock = new FakeClock(Date.parse('2026-11-20T14:00:00Z'));
    const from = clock.now();
    const timeline = createTimeline({ path: ':memory:', clock, service: 'shop' });
    const wall = createWall({ service: 'shop', clock, timeline, healthInterval: '1s', modeDwell: '1s' });
    const payments = wall.dependency('payments', {
      timeout: '200ms',
      slo: { latency: { p99: '100ms' } },
      breaker: { minimumCalls: 5, window: { calls: 5 }, halfOpenAfter: '30s' },
      health: { minDwellMs: 0 },
    });
    const checkout = wall.operation('checkout', { deadline: '1s' });
    timeline.mark('deploy', 'payments-client v4 rolled out');
    timeline.record({ kind: 'drift', severity: 'warning', title: 'payments p99 drifting up: 60ms → 95ms', dependency: 'payments', data: { signal: 'latency.p99', baseline: 60, level: 95 } });
    await clock.advance(2000);
    for (let i = 0; i < 20; i++) {
      const p = checkout.run(() => payments.call(() => new Promise((r) => clock.setTimer(() => r('ok'), 150)))).catch(() => undefined);
      await clock.advance(160);
      await p;
    }
    for (let i = 0; i < 8; i++) {
      await checkout.run(() => payments.call(() => Promise.reject(new Error('503')))).catch(() => undefined);
      await clock.advance(100);
    }
    await clock.advance(2000);
    const md = postmortem(timeline.query(), { from, to: clock.now() });
    for (const h of ['# Postmortem draft: shop', '## Summary', '## Timeline', '## First signal', '## Detection', '## Impact per operation', '## Automatic actions taken', '## Decision points (for people)']) {
      expect(md).toContain(h);
    }
    expect(md).toMatch(/The first sign of trouble was at \*\*2026-11-20T14:00:00Z\*\*.*drift — payments p99 drifting up/);
    expect(md).toContain('deploy: payments-client v4 rolled out');
    expect(md).toMatch(/First objective breach: .*payments healthy → delayed/);
    expect(md).toMatch(/Detection delay: the first drift alert came \*\*\d+s before\*\* the first breach or failure/);
    expect(md).toMatch(/\| checkout \| \d+ \| 8 \| 0 \| 0 \| (DEPENDENCY_FAILED×\d+, CIRCUIT_OPEN×\d+|CIRCUIT_OPEN×\d+, DEPENDENCY_FAILED×\d+|DEPENDENCY_FAILED×8) \|/);
    expect(md).toMatch(/payments breaker closed → open/);
    expect(md).toContain('TODO: Follow-up actions, owners and dates.');
    await wall.close();
    timeline.close();
  });

  it('the CLI prints the timeline and writes a postmortem, and explains bad flags', async () => {
    const path = join(dir, 'cli.db');
    const tl = createTimeline({ path, clock: new FakeClock(Date.parse('2026-11-20T10:00:00Z')) });
    tl.mark('config', 'raised payments timeout to 900ms');
    tl.close();
    const lines: string[] = [];
    expect(await cli(['timeline', '--db', path], (s) => lines.push(s))).toBe(0);
    expect(lines.join('\n')).toMatch(/2026-11-20T10:00:00.000Z\s+info\s+config\s+raised payments timeout/);
    const out = join(dir, 'pm.md');
    expect(await cli(['postmortem', '--db', path, '--from', '2026-11-20T09:00:00Z', '--to', '2026-11-20T11:00:00Z', '--out', out], () => undefined)).toBe(0);
    const errors: string[] = [];
    const quiet = { out: () => undefined, err: (line: string) => errors.push(line) };
    expect(await cli(['timeline', '--db', path, '--since', 'yesterday'], quiet)).toBe(2);
    expect(errors.pop()).toMatch(/Expected `--since` to be `now`, an ISO time/);
    expect(await cli(['timeline', '--db', join(dir, 'missing.db')], quiet)).toBe(1);
    expect(errors.pop()).toContain('missing.db');
    expect(await cli(['postmortem', '--db', path, '--from', '2h'], quiet)).toBe(2);
    expect(errors.pop()).toBeDefined();
  });
});

describe('docs/postmortem-example.md', () => {
  it('is a postmortem generated from a recorded incident, with every section', async () => {
    const { readFileSync } = await import('node:fs');
    const md = readFileSync(new URL('../../docs/postmortem-example.md', import.meta.url), 'utf8');
    const sections = [...md.matchAll(/^## (.+)$/gm)].map((m) => m[1]);
    expect(sections).toEqual(['Summary', 'Timeline', 'First signal', 'Detection', 'Impact per operation', 'Automatic actions taken', 'Decision points (for people)']);
    expect(md).toMatch(/^# Postmortem draft: shop, /m);
    expect(md).toMatch(/\| checkout \| \d+ \| \d+ \|/);
    expect(md).toMatch(/payments breaker closed → open/);
  });
});
