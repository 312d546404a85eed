/**
 * better-sqlite3 is an optional peer (issue 18): loading blastwall does not load it, a user who never
 * touches SQLite does not need it installed, and one who does gets a clear error naming the package.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const src = join(import.meta.dirname, '../../src');

describe('the SQLite driver is optional', () => {
  it('without better-sqlite3 installed the main entry loads, and SQLite use says what to install', () => {
    const script = `
      import Module from 'node:module';
      const resolve = Module._resolveFilename;
      Module._resolveFilename = function (request, ...rest) {
        if (request === 'better-sqlite3') throw Object.assign(new Error("Cannot find module 'better-sqlite3'"), { code: 'MODULE_NOT_FOUND' });
        return resolve.call(this, request, ...rest);
      };
      const bw = await import(${JSON.stringify(join(src, 'index.ts'))});
      const stores = await import(${JSON.stringify(join(src, 'stores/index.ts'))});
      const out = { loaded: Object.keys(Module._cache).some((k) => k.includes('better-sqlite3')), errors: [] };
      for (const f of [() => stores.sqliteStore(':memory:'), () => bw.createTimeline({ path: ':memory:' })]) {
        try { f(); out.errors.push('no error'); } catch (e) { out.errors.push({ name: e.name, code: e.code, message: e.message }); }
      }
      console.log(JSON.stringify(out));
    `;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { loaded: boolean; errors: unknown[] };
    expect(out.loaded).toBe(false);
    expect(out.errors).toHaveLength(2);
    for (const e of out.errors) {
      expect(e).toMatchObject({ name: 'BlastwallError', code: 'CONFIG_INVALID', message: expect.stringContaining('npm install better-sqlite3') as string });
    }
  }, 70_000);

  it('no source file imports better-sqlite3 statically (the published .d.ts files need no @types/better-sqlite3)', () => {
    const files: string[] = [];
    const walk = (d: string): void => {
      for (const f of readdirSync(d)) {
        const p = join(d, f);
        if (statSync(p).isDirectory()) walk(p);
        else if (p.endsWith('.ts') && !p.endsWith('.test.ts')) files.push(p);
      }
    };
    walk(src);
    const offenders = files.filter((f) => /from\s+['"]better-sqlite3['"]/.test(readFileSync(f, 'utf8')));
    expect(offenders).toEqual([]);
  });
});
