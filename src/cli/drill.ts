/**
 * `blastwall drill <files...>`: runs drills (modules made with `defineDrill`) one after another, with a live
 * progress line, and writes each report (Markdown + SVG chart, JSON, postmortem draft, timeline) and one
 * JUnit file. Exit 0 when every invariant held, 1 when one failed (named, with the observed value), 2 for
 * bad input (a drill that does not validate fails before any load is sent).
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BlastwallError } from '../core/errors.js';
import type { Drill } from '../chaos/drill.js';
import { junitReport, slugOf, writeReport } from '../chaos/report.js';
import { type DrillProgress, type DrillResult, runDrill } from '../chaos/runner.js';
import { parseArgs } from './args.js';
import { type CliCommand, type CliIo, UsageError } from './command.js';

const USAGE = `Usage: blastwall drill FILE... [--out DIR] [--short] [--only NAME]

Runs each drill module (exporting a drill made with defineDrill, as \`default\`, \`drill\` or \`drills\`):
the load, the fault schedule and the invariants, on the real clock. Every drill is checked before any load
is sent. TypeScript modules are loaded through tsx when it is installed.

Options:
  --out DIR     where reports go (default .blastwall/drills): <drill>.md with <drill>.svg, <drill>.json,
                <drill>.postmortem.md, <drill>.timeline.db, and junit.xml for all
  --short       half the load duration and fault schedule (for CI); invariant windows stay as written
  --only NAME   run only the drill with this name

Exit codes: 0 every invariant held, 1 an invariant failed, 2 bad input.`;

function isDrill(v: unknown): v is Drill {
  const d = v as Partial<Drill> | null;
  return d !== null && typeof d === 'object' && typeof d.name === 'string' && Array.isArray(d.invariants) && typeof d.load === 'object' && 'spec' in d;
}

/** Imports a module; a TypeScript one through tsx (registered once, when it is installed). */
async function importModule(path: string): Promise<Record<string, unknown>> {
  const url = pathToFileURL(path).href;
  try {
    return (await import(url)) as Record<string, unknown>;
  } catch (e) {
    if ((e as { code?: unknown }).code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw e;
    let api: { register: () => unknown };
    try {
      api = (await import('tsx/esm/api')) as { register: () => unknown };
    } catch {
      throw new Error('a TypeScript drill needs tsx to load it (npm install -D tsx)', { cause: e });
    }
    api.register();
    return (await import(url)) as Record<string, unknown>;
  }
}

/** Imports a drill module; a drill that fails validation surfaces here as its CONFIG_INVALID error. */
export async function loadDrills(file: string): Promise<Drill[]> {
  let mod: Record<string, unknown>;
  try {
    mod = await importModule(resolve(file));
  } catch (e) {
    if (e instanceof BlastwallError && e.code === 'CONFIG_INVALID') throw new UsageError(`${file}: ${e.message}`);
    throw new UsageError(`${file}: could not be loaded: ${e instanceof Error ? e.message : String(e)}`);
  }
  const found = [mod.default, mod.drill, ...(Array.isArray(mod.drills) ? mod.drills : [])].filter(isDrill);
  if (found.length === 0) throw new UsageError(`${file}: exports no drill (export default defineDrill({...}))`);
  return [...new Set(found)];
}

function progressLine(p: DrillProgress): string {
  const secs = (ms: number) => (ms / 1000).toFixed(0);
  return `${p.drill}: ${secs(p.elapsedMs)}/${secs(p.durationMs)}s  sent ${p.sent}  ok ${p.ok}  failed ${p.failed}  in flight ${p.inflight}  faults ${p.activeFaults}  mode ${p.mode}  status ${p.status}`;
}

/** What the command prints for one drill: PASS/FAIL with the count, then each failed invariant with its observed value. */
export function verdictLines(result: DrillResult, report: string): string[] {
  const held = result.invariants.filter((i) => i.pass).length;
  return [
    `${result.passed ? 'PASS' : 'FAIL'} ${result.drill}: ${held}/${result.invariants.length} invariants held (report ${report})`,
    ...result.invariants.filter((i) => !i.pass).map((i) => `  invariant failed: ${i.name} — observed ${i.observed}`),
  ];
}

async function run(argv: string[], io: CliIo): Promise<number> {
  const files = argv.filter((a, i) => !a.startsWith('--') && !(i > 0 && ['--out', '--only'].includes(argv[i - 1]!)));
  const a = parseArgs(
    argv.filter((x) => !files.includes(x)),
    { out: 'value', short: 'flag', only: 'value' },
  );
  if (files.length === 0) throw new UsageError('Expected at least one drill file');
  const out = typeof a.out === 'string' ? a.out : '.blastwall/drills';
  const drills: Drill[] = [];
  for (const f of files) drills.push(...(await loadDrills(f)));
  const selected = typeof a.only === 'string' ? drills.filter((d) => d.name === a.only) : drills;
  if (selected.length === 0) throw new UsageError(`No drill named \`${String(a.only)}\` in ${files.join(', ')}`);
  const tty = process.stderr.isTTY === true;
  const results: DrillResult[] = [];
  for (const drill of selected) {
    const slug = slugOf(drill.name);
    const timelinePath = join(out, `${slug}.timeline.db`);
    for (const ext of ['', '-wal', '-shm']) rmSync(timelinePath + ext, { force: true });
    let lastPrinted = 0;
    let result: DrillResult;
    try {
      result = await runDrill(drill, {
        timelinePath,
        timeScale: a.short === true ? 0.5 : 1,
        onProgress: (p) => {
          if (tty) process.stderr.write(`\r\x1b[2K${progressLine(p)}`);
          else if (p.elapsedMs - lastPrinted >= 2000 || p.elapsedMs === 0) {
            lastPrinted = p.elapsedMs;
            io.err(progressLine(p));
          }
        },
      });
    } catch (e) {
      if (tty) process.stderr.write('\n');
      if (e instanceof BlastwallError && e.code === 'CONFIG_INVALID') throw new UsageError(`drill '${drill.name}': ${e.message}`);
      throw e;
    }
    if (tty) process.stderr.write('\n');
    const paths = await writeReport(result, out);
    result.timeline.close();
    results.push(result);
    for (const line of verdictLines(result, paths.markdown)) io.out(line);
  }
  writeFileSync(join(out, 'junit.xml'), junitReport(results));
  const failed = results.filter((r) => !r.passed);
  io.out(`${results.length - failed.length} passed, ${failed.length} failed (JUnit: ${join(out, 'junit.xml')})`);
  return failed.length === 0 ? 0 : 1;
}

export const drillCommand: CliCommand = {
  summary: 'run game-day drills: load, faults, invariants, reports',
  usage: USAGE,
  run,
};
