import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, runTs, typeErrors } from '../docs/snippets.js';

/**
 * The examples are programs a user copies: they import `blastwall` by name (never ../src), type-check with
 * the project's strict options, and run to completion here within a bounded time.
 */
const scratch = mkdtempSync(join(ROOT, '.snippets-examples-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const examples = (dir = join(ROOT, 'examples')): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? examples(join(dir, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [join(dir, e.name)] : []));

describe('examples', () => {
  it('import the package by name and type-check', () => {
    const files = examples();
    expect(files.length).toBeGreaterThanOrEqual(4);
    for (const f of files) expect(readFileSync(f, 'utf8'), f).not.toMatch(/from ['"](\.\.\/)+src\//);
    const errors = typeErrors(files);
    expect([...errors.values()].flat()).toEqual([]);
  }, 120_000);

  it('quickstart.ts runs and keeps every caller answered', async () => {
    const r = await runTs(join(ROOT, 'examples/quickstart.ts'), scratch, 60_000);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/succeeded: \d+\/200/);
  }, 90_000);

  it('the shop demo (npm start) runs to the end and writes its timeline and postmortem', async () => {
    const r = await runTs(join(ROOT, 'examples/shop/demo.ts'), scratch, 90_000);
    expect(r.timedOut).toBe(false);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    for (const phase of ['1. Normal traffic', '5. Payments fail 100%', '6. Everything recovers']) expect(r.stdout).toContain(phase);
    expect(readFileSync(join(scratch, '.blastwall/demo-postmortem.md'), 'utf8')).toContain('# ');
  }, 120_000);

  it('idempotent-payments.ts serves a payment once and replays it', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const { port: p } = s.address() as { port: number };
        s.close(() => resolve(p));
      });
    });
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'examples/idempotent-payments.ts')], {
      cwd: scratch,
      env: { ...process.env, PORT: String(port), STORE: 'memory', NODE_NO_WARNINGS: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`not listening after 30 s: ${stderr}`)), 30_000);
        child.stdout.on('data', (b: Buffer) => {
          if (b.toString().includes('listening')) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      const send = () =>
        fetch(`http://127.0.0.1:${port}/payments`, {
          method: 'POST',
          headers: { 'idempotency-key': '"example-test-1"', 'content-type': 'application/json' },
          body: JSON.stringify({ account: 'a1', amount: 5, version: 1 }),
        });
      const first = await send();
      const again = await send();
      expect(first.status).toBe(201);
      expect(again.status).toBe(201);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(await again.text()).toBe(await first.text());
      const effects = (await (await fetch(`http://127.0.0.1:${port}/effects`)).json()) as unknown[];
      expect(effects).toHaveLength(1);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(stderr).toBe('');
  }, 60_000);
});
