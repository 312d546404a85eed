import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../core/fake-clock.js';
import { createTimeline } from '../timeline/index.js';
import { run } from './main.js';

const dir = mkdtempSync(join(tmpdir(), 'bw-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function timelineFile(name: string, at = '2026-11-20T10:00:00Z'): string {
  const path = join(dir, name);
  const tl = createTimeline({ path, service: 'shop', clock: new FakeClock(Date.parse(at)) });
  tl.mark('deploy', 'shop v1.4.0');
  tl.record({ kind: 'health', severity: 'warning', title: 'payments: healthy → delayed', dependency: 'payments', at: Date.parse(at) + 60_000 });
  tl.close();
  return path;
}

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run(argv, { out: (s) => out.push(s), err: (s) => err.push(s) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('blastwall CLI', () => {
  it('--help works on every subcommand and lists the options; --version prints the package version', async () => {
    for (const command of ['timeline', 'postmortem']) {
      const r = await cli(command, '--help');
      expect(r.code, command).toBe(0);
      expect(r.out).toContain(`Usage: blastwall ${command}`);
      expect(r.out).toContain('--db PATH');
      expect((await cli('help', command)).out).toBe(r.out);
    }
    const top = await cli('--help');
    expect(top.out).toMatch(/timeline\s+print the entries/);
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(await cli('--version')).toMatchObject({ code: 0, out: pkg.version });
  });

  it('an unknown command is named, with the usage', async () => {
    const r = await cli('timelien');
    expect(r.code).toBe(2);
    expect(r.err).toContain('unknown command `timelien`');
    expect(r.err).toContain('Usage: blastwall <command>');
  });

  it('refuses conflicting or impossible windows and accepts `now`', async () => {
    const db = timelineFile('window.db');
    const both = await cli('timeline', '--db', db, '--since', '2h', '--from', '2026-11-20T09:00:00Z');
    expect(both.code).toBe(2);
    expect(both.err).toContain('`--since` and `--from` both set the start');
    const reversed = await cli('timeline', '--db', db, '--from', '2026-11-20T11:00:00Z', '--to', '2026-11-20T09:00:00Z');
    expect(reversed.code).toBe(2);
    expect(reversed.err).toContain('to be before `--to`');
    expect((await cli('timeline', '--db', db, '--to', 'yesterday')).code).toBe(2);
    const upToNow = await cli('timeline', '--db', db, '--from', '2026-11-20T09:00:00Z', '--to', 'now');
    expect(upToNow.code).toBe(0);
    expect(upToNow.out.split('\n')).toHaveLength(2);
    const filtered = await cli('timeline', '--db', db, '--kind', 'health', '--json');
    expect(JSON.parse(filtered.out)).toEqual([expect.objectContaining({ dependency: 'payments', kind: 'health' })]);
  });

  it('an empty window says where the entries are; postmortem writes no draft and exits 1', async () => {
    const db = timelineFile('empty-window.db');
    const t = await cli('timeline', '--db', db, '--from', '2026-11-22T14:00:00Z', '--to', '2026-11-22T15:00:00Z');
    expect(t.code).toBe(0);
    expect(t.err).toBe('No entries between 2026-11-22T14:00:00Z and 2026-11-22T15:00:00Z; the timeline holds 2 entries from 2026-11-20T10:00:00Z to 2026-11-20T10:01:00Z.');
    const out = join(dir, 'draft.md');
    const p = await cli('postmortem', '--db', db, '--from', '2026-11-22T14:00:00Z', '--to', '2026-11-22T15:00:00Z', '--out', out);
    expect(p.code).toBe(1);
    expect(p.err).toContain('the timeline holds 2 entries from 2026-11-20T10:00:00Z');
    expect(existsSync(out)).toBe(false);
    const ok = await cli('postmortem', '--db', db, '--from', '2026-11-20T09:00:00Z', '--to', '2026-11-20T11:00:00Z', '--out', out);
    expect(ok).toMatchObject({ code: 0, out: `Postmortem draft written to ${out} (2 entries)` });
    expect(readFileSync(out, 'utf8')).toContain('shop v1.4.0');
  });

  it('opens the timeline read-only: an unrelated SQLite file gets a clear error and is left byte for byte as it was', async () => {
    const path = join(dir, 'app.db');
    const db = new Database(path);
    db.exec('CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO users (name) VALUES (\'ada\');');
    db.close();
    const before = readFileSync(path);
    const r = await cli('timeline', '--db', path);
    expect(r.code).toBe(1);
    expect(r.err).toContain('without a blastwall timeline');
    expect(readFileSync(path).equals(before)).toBe(true);
    const check = new Database(path, { readonly: true });
    expect(check.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all()).toEqual([{ name: 'users' }]);
    check.close();
    expect((await cli('postmortem', '--db', path, '--since', '1h', '--to', 'now')).err).toContain('without a blastwall timeline');

    const notSqlite = join(dir, 'notes.txt');
    writeFileSync(notSqlite, 'this is not a database, just some text that is long enough to be a header'.repeat(3));
    const n = await cli('timeline', '--db', notSqlite);
    expect(n.code).toBe(1);
    expect(n.err).toContain('is not a readable SQLite database');

    const missing = await cli('timeline', '--db', join(dir, 'missing.db'));
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('No timeline at');
    expect(existsSync(join(dir, 'missing.db'))).toBe(false);
  });

  it('a read does not modify the timeline file', async () => {
    const db = timelineFile('untouched.db');
    const mtime = statSync(db).mtimeMs;
    const before = readFileSync(db);
    expect((await cli('timeline', '--db', db)).code).toBe(0);
    expect(readFileSync(db).equals(before)).toBe(true);
    expect(statSync(db).mtimeMs).toBe(mtime);
  });
});
