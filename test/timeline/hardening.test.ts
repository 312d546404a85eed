/**
 * The timeline can neither poison itself nor take the process down (issue 17, finding 9).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { BlastwallError } from '../../src/core/errors.js';
import { createTimeline, createWall } from '../../src/index.js';
import { FakeClock } from '../../src/testing/index.js';
import { captureWarnings } from '../support/warnings.js';

const dir = mkdtempSync(join(tmpdir(), 'bw-tl-hard-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const rows = (path: string): { title: string }[] => {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare('SELECT title FROM timeline ORDER BY seq').all() as { title: string }[];
  } finally {
    db.close();
  }
};

describe('timeline hardening', () => {
  it('an entry whose data cannot be stored (BigInt, a cycle) is refused at record(); later flushes still write', () => {
    const tl = createTimeline({ path: ':memory:', clock: new FakeClock(), flushEvery: '1h' });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    for (const data of [{ amount: 10n }, cyclic, { toJSON: () => { throw new Error('nope'); } }]) {
      let err: unknown;
      try {
        tl.record({ kind: 'note', severity: 'info', title: 'bad', data });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(BlastwallError);
      expect(err).toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining('entry.data') as string });
    }
    expect(tl.record({ kind: 'note', severity: 'info', title: 'good', data: { amount: '10' } })).toBe(true);
    expect(tl.flush()).toBe(1);
    expect(tl.query().map((e) => e.title)).toEqual(['good']);
    tl.close();
  });

  it('a custom timeline whose record() throws never escapes the wall (events, impact and dead-letter reports)', async () => {
    const clock = new FakeClock();
    const titles: string[] = [];
    const timeline = {
      record(entry: { title: string }): never {
        titles.push(entry.title);
        throw new Error('custom timeline broke');
      },
    };
    const wall = createWall({ service: 'svc', clock, timeline, healthInterval: '1s' });
    const captured = captureWarnings();
    try {
      const email = wall.dependency('email', { criticality: 'deferrable', retry: { attempts: 2 } });
      const op = wall.operation('checkout');
      for (let i = 0; i < 5; i++) {
        await op.run(() => email.call(() => Promise.reject(new Error('smtp down')))).catch(() => undefined);
      }
      // the health timer runs reportImpact (impact entries and the dead-letter summary) through the broken timeline
      for (let i = 0; i < 30; i++) await expect(clock.advance(1000)).resolves.not.toThrow();
      expect(titles).toContainEqual(expect.stringMatching(/email: \d+ deferred item\(s\) dead-lettered/));
      expect(captured.warnings).toContainEqual(expect.stringMatching(/the timeline refused an entry: Error: custom timeline broke/));
    } finally {
      captured.restore();
      await wall.close();
    }
  });

  it('entries still buffered when the process exits by itself are written', () => {
    const path = join(dir, 'exit.db');
    const src = `
      import { createTimeline } from ${JSON.stringify(join(import.meta.dirname, '../../src/timeline/index.ts'))};
      const tl = createTimeline({ path: ${JSON.stringify(path)}, flushEvery: '1h' });
      for (let i = 0; i < 5; i++) tl.note('entry ' + i);
    `;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', src], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(rows(path).map((x) => x.title)).toEqual(['entry 0', 'entry 1', 'entry 2', 'entry 3', 'entry 4']);
  }, 40_000);

  it('wall.close() flushes the timeline it was given', async () => {
    const path = join(dir, 'close.db');
    const clock = new FakeClock();
    const timeline = createTimeline({ path, clock, flushEvery: '1h' });
    const wall = createWall({ service: 'svc', clock, timeline });
    wall.setMode('degraded', { reason: 'testing' });
    await wall.close();
    expect(rows(path).map((x) => x.title)).toEqual([expect.stringContaining('mode normal → degraded') as string]);
    timeline.close();
  });

  it('a directory, a corrupt file or an unwritable location gives a BlastwallError naming the path and the cause', () => {
    const asDir = join(dir, 'a-directory.db');
    mkdirSync(asDir);
    const corrupt = join(dir, 'corrupt.db');
    writeFileSync(corrupt, 'this is not a database, '.repeat(300));
    const underFile = join(corrupt, 'inside', 'timeline.db'); // a path through a regular file: cannot be created
    // sysfs refuses new files even to root, so it stands in for a read-only disk (chmod does not stop root)
    const readOnly = process.platform === 'linux' ? ['/sys/blastwall-test/timeline.db'] : [];
    for (const path of [asDir, corrupt, underFile, ...readOnly]) {
      let err: unknown;
      try {
        createTimeline({ path }).close();
      } catch (e) {
        err = e;
      }
      expect(err, path).toBeInstanceOf(BlastwallError);
      expect((err as BlastwallError).message).toContain(path);
      expect((err as BlastwallError).cause).toBeDefined();
      expect((err as Error).name).not.toBe('SqliteError');
    }
  });

  it('a deleted timeline file is noticed at the next flush and recreated, not written into the unlinked inode', () => {
    const path = join(dir, 'deleted.db');
    const tl = createTimeline({ path, clock: new FakeClock(), flushEvery: '1h' });
    tl.note('before');
    tl.flush();
    for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });
    tl.note('after');
    const captured = captureWarnings();
    tl.flush();
    captured.restore();
    expect(captured.warnings).toEqual([expect.stringMatching(/deleted\.db was deleted or replaced while open; recreated it/)]);
    expect(rows(path).map((x) => x.title)).toEqual(['after']);
    expect(tl.stats()).toMatchObject({ reopened: 1 });
    tl.close();
    unlinkSync(path);
  });
});
