/**
 * The main entry is slim: importing `retry` from `blastwall` loads neither better-sqlite3, prom-client,
 * an OpenTelemetry SDK (nor the OpenTelemetry API), pg or ioredis. Checked in a child process (the sources
 * through tsx), recording every module loaded through the ESM loader and the CommonJS cache.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));

/** Every module URL or path loaded when `file` is imported and `name` read from it. */
function modulesLoadedBy(file: string, name: string): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'blastwall-load-'));
  const log = join(dir, 'loads.txt');
  try {
    const child = spawnSync(
      process.execPath,
      ['--import', 'tsx', '--import', join(fixtures, 'register-load-log.mjs'), join(fixtures, 'import-entry.ts'), file, name],
      { cwd: root, env: { ...process.env, BLASTWALL_LOAD_LOG: log }, encoding: 'utf8', timeout: 60_000 },
    );
    expect(child.status, child.stderr).toBe(0);
    const esm = readFileSync(log, 'utf8').split('\n').filter(Boolean);
    const cjs = JSON.parse(child.stdout) as string[];
    return [...esm, ...cjs].map((m) => m.replaceAll('\\', '/'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const HEAVY = [/\/node_modules\/better-sqlite3\//, /\/node_modules\/prom-client\//, /\/node_modules\/@opentelemetry\//, /\/node_modules\/pg\//, /\/node_modules\/ioredis\//];

describe('module load', () => {
  it('importing retry from the main entry loads no store driver, prom-client or OpenTelemetry package', { timeout: 120_000 }, () => {
    const loaded = modulesLoadedBy('src/index.ts', 'retry');
    // the log really sees the library's own modules
    expect(loaded.some((m) => m.endsWith('/src/policies/retry/index.ts'))).toBe(true);
    expect(loaded.some((m) => m.endsWith('/src/wall/wall.ts'))).toBe(true);
    for (const heavy of HEAVY) expect(loaded.filter((m) => heavy.test(m))).toEqual([]);
  });

  it('the telemetry subpath does load prom-client (the check above can see it)', { timeout: 120_000 }, () => {
    const loaded = modulesLoadedBy('src/telemetry/index.ts', 'PrometheusExporter');
    expect(loaded.some((m) => /\/node_modules\/prom-client\//.test(m))).toBe(true);
  });
});
