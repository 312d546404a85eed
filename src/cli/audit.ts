/**
 * `blastwall audit`: the blast-radius audit of one or more services, from topology files, modules that
 * export a wall, or running services' `/blastwall/topology` endpoints. Exit 0 when clean (or below
 * `--fail-on`), 1 when findings reach `--fail-on`, 2 for bad input — always one line, never a stack.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { auditTopologies, failsAt, readBaseline, writeBaseline } from '../audit/audit.js';
import { isAuditableWall, topologyOfWall, type AuditableWall } from '../audit/from-wall.js';
import { toJson, toMarkdown, toText } from '../audit/report.js';
import { verifyPredictions, type VerifyFactory } from '../audit/verify.js';
import type { Severity } from '../audit/rules.js';
import { toSarif } from '../audit/sarif.js';
import { AuditInputError, parseTopology, parseTopologyText, type Topology } from '../audit/topology.js';
import { type CliCommand, type CliIo, UsageError } from './command.js';

const USAGE = `Usage: blastwall audit [TOPOLOGY.json ...] [--module PATH ...] [--url URL ...] [options]

Audits the failure boundaries of one or more services: for each dependency and failure mode (slow, down,
hanging, corrupt, overloaded, flapping) what every operation does next, and findings with a rule id, a
severity, why it matters and how to fix it. Several inputs are joined by service name into one graph.

Inputs (any number, at least one):
  TOPOLOGY.json        a topology document (schema blastwall.topology/v1, see docs/audit.md)
  --module PATH        a module exporting a wall (\`export const wall\`, a default export, or a function returning one)
  --url URL            a running service's topology endpoint (e.g. http://127.0.0.1:3000/blastwall/topology)

Options:
  --format F           text (default), markdown, json or sarif
  --out FILE           write the report to FILE instead of standard output
  --sarif FILE         also write SARIF 2.1.0 to FILE (for code scanning)
  --fail-on LEVEL      exit 1 when a finding is at least LEVEL: error, warning or note (default: never)
  --baseline FILE      accept the findings listed in FILE; only new ones count
  --write-baseline FILE  write every current finding to FILE as accepted
  --root DIR           make source paths in SARIF relative to DIR (default: the current directory)
  --verify             check every prediction with a short drill: each --module must also export
                       \`verify\`, a function ({ clock }) => ({ wall, operations }) building a fresh target
                       with fault injection on (see docs/audit.md); each mismatch is a finding (BW016)

Exit codes: 0 done, 1 findings at --fail-on, 2 bad input (one line on standard error).`;

interface Parsed {
  files: string[];
  modules: string[];
  urls: string[];
  opts: Record<string, string>;
  verify: boolean;
}

const VALUE_OPTS = ['format', 'out', 'sarif', 'fail-on', 'baseline', 'write-baseline', 'root'];

function parse(argv: string[]): Parsed {
  const p: Parsed = { files: [], modules: [], urls: [], opts: {}, verify: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) {
      p.files.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = a.slice(2, eq < 0 ? undefined : eq);
    const value = eq >= 0 ? a.slice(eq + 1) : name === 'verify' ? '' : argv[++i];
    if (name !== 'verify' && name !== 'module' && name !== 'url' && !VALUE_OPTS.includes(name)) {
      throw new UsageError(`Unknown option \`--${name}\`; expected one of --module, --url, ${VALUE_OPTS.map((o) => `--${o}`).join(', ')}`);
    }
    if (name === 'verify') {
      if (eq >= 0) throw new UsageError('`--verify` takes no value');
      p.verify = true;
      continue;
    }
    if (value === undefined || value === '' || (eq < 0 && value.startsWith('--'))) throw new UsageError(`Expected a value after \`--${name}\``);
    if (name === 'module') p.modules.push(value);
    else if (name === 'url') p.urls.push(value);
    else {
      if (name in p.opts) throw new UsageError(`\`--${name}\` is given twice`);
      p.opts[name] = value;
    }
  }
  if (p.files.length + p.modules.length + p.urls.length === 0) throw new UsageError('nothing to audit: give a topology file, --module or --url');
  if (p.verify && p.modules.length === 0) throw new UsageError('`--verify` needs a --module that exports `verify` (a target factory)');
  const format = p.opts.format ?? 'text';
  if (!['text', 'markdown', 'json', 'sarif'].includes(format)) throw new UsageError(`Expected \`--format\` to be text, markdown, json or sarif, got \`${format}\``);
  const failOn = p.opts['fail-on'];
  if (failOn !== undefined && !['error', 'warning', 'note'].includes(failOn)) throw new UsageError(`Expected \`--fail-on\` to be error, warning or note, got \`${failOn}\``);
  return p;
}

function readTopologyFile(path: string): Topology {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new AuditInputError(`${path}: cannot read (${code === 'ENOENT' ? 'no such file' : (code ?? String(e))})`);
  }
  return parseTopologyText(text, path);
}

/** Loads a module and finds the wall(s) it exports; a TypeScript module needs tsx (registered on demand). */
export async function loadWallModule(path: string): Promise<AuditableWall[]> {
  return (await loadModule(path)).walls;
}

async function loadModule(path: string): Promise<{ walls: AuditableWall[]; verify: VerifyFactory | undefined }> {
  const url = pathToFileURL(resolve(path)).href;
  let mod: Record<string, unknown>;
  try {
    mod = (await import(url)) as Record<string, unknown>;
  } catch (first) {
    if ((first as NodeJS.ErrnoException).code !== 'ERR_UNKNOWN_FILE_EXTENSION') {
      throw new AuditInputError(`${path}: cannot load (${first instanceof Error ? first.message.split('\n')[0] : String(first)})`);
    }
    try {
      const api = (await import('tsx/esm/api')) as { tsImport: (specifier: string, parent: string) => Promise<unknown> };
      mod = (await api.tsImport(url, import.meta.url)) as Record<string, unknown>;
    } catch (e) {
      throw new AuditInputError(`${path}: cannot load a TypeScript module (${e instanceof Error ? e.message.split('\n')[0] : String(e)}); install tsx or audit the built .js`);
    }
  }
  const found: AuditableWall[] = [];
  const consider = async (v: unknown): Promise<void> => {
    if (isAuditableWall(v)) found.push(v);
    else if (typeof v === 'function' && v.length === 0 && found.length === 0) {
      // a factory: `export function createWall()` or `export default () => wall`
      try {
        const w: unknown = await (v as () => unknown)();
        if (isAuditableWall(w)) found.push(w);
      } catch {
        // not a wall factory
      }
    }
  };
  await consider(mod.wall);
  if (found.length === 0) await consider(mod.default);
  if (found.length === 0 && Array.isArray(mod.walls)) for (const w of mod.walls as unknown[]) await consider(w);
  if (found.length === 0) {
    const names = Object.keys(mod);
    throw new AuditInputError(`${path}: exports no wall (looked for \`wall\`, \`walls\` and the default export; it exports ${names.length === 0 ? 'nothing' : names.map((n) => `\`${n}\``).join(', ')})`);
  }
  return { walls: found, verify: typeof mod.verify === 'function' ? (mod.verify as VerifyFactory) : undefined };
}

async function fetchTopology(url: string): Promise<Topology> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new AuditInputError(`${url}: not a URL`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new AuditInputError(`${url}: expected an http(s) URL`);
  let res: Response;
  try {
    res = await fetch(parsed, { signal: AbortSignal.timeout(5000), headers: { accept: 'application/json' } });
  } catch (e) {
    const c = (e as { cause?: { code?: string; message?: string } }).cause;
    const cause = c?.code ?? c?.message ?? (e instanceof Error ? e.message : String(e));
    throw new AuditInputError(`${url}: unreachable (${cause})`);
  }
  if (!res.ok) throw new AuditInputError(`${url}: answered ${res.status} (is the topology endpoint enabled?)`);
  let body: unknown;
  try {
    body = (await res.json()) as unknown;
  } catch {
    throw new AuditInputError(`${url}: did not answer JSON`);
  }
  return parseTopology(body, url);
}

async function closeAll(walls: AuditableWall[]): Promise<void> {
  for (const w of walls) {
    const close = (w as { close?: unknown }).close;
    if (typeof close === 'function') {
      try {
        await (close as () => Promise<unknown>).call(w);
      } catch {
        // closing is best effort: the audit is already written
      }
    }
  }
}

async function run(argv: string[], io: CliIo): Promise<number> {
  const p = parse(argv);
  const walls: AuditableWall[] = [];
  try {
    const topologies: Topology[] = p.files.map(readTopologyFile);
    const factories: [string, VerifyFactory | undefined][] = [];
    for (const m of p.modules) {
      const { walls: ws, verify } = await loadModule(m);
      factories.push([m, verify]);
      walls.push(...ws);
      ws.forEach((w, i) => topologies.push(topologyOfWall(w, ws.length > 1 ? `${m}#${i + 1}` : m)));
    }
    for (const u of p.urls) topologies.push(await fetchTopology(u));
    const baseline = p.opts.baseline === undefined ? undefined : readBaseline(p.opts.baseline);
    const { result, graph } = auditTopologies(topologies, baseline === undefined ? {} : { baseline });
    if (p.verify) {
      for (const [m, factory] of factories) {
        if (factory === undefined) throw new AuditInputError(`${m}: exports no \`verify\` target factory, needed by --verify (see docs/audit.md)`);
        const v = await verifyPredictions(factory, {
          onCheck: (c, i, n) => io.err(`verify ${i + 1}/${n}: ${c.dependency} ${c.mode}: ${c.operations.every((o) => o.agrees) ? 'confirmed' : 'MISMATCH'}`),
        });
        const fresh = v.findings.filter((f) => !(baseline?.has(f.fingerprint) ?? false));
        result.findings.unshift(...fresh);
        result.accepted.push(...v.findings.filter((f) => baseline?.has(f.fingerprint) ?? false));
        result.verified = (result.verified ?? []).concat(v.checks);
      }
    }
    const sarifOpts = p.opts.root === undefined ? {} : { root: resolve(p.opts.root) };
    const format = p.opts.format ?? 'text';
    const report =
      format === 'json' ? toJson(result) : format === 'markdown' ? toMarkdown(result, graph) : format === 'sarif' ? `${JSON.stringify(toSarif(result, sarifOpts), null, 2)}\n` : toText(result, graph);
    if (p.opts.out !== undefined) {
      writeFileSync(p.opts.out, report);
      io.err(`audit written to ${p.opts.out}: ${result.findings.length} finding(s)`);
    } else io.out(report.trimEnd());
    if (p.opts.sarif !== undefined) writeFileSync(p.opts.sarif, `${JSON.stringify(toSarif(result, sarifOpts), null, 2)}\n`);
    if (p.opts['write-baseline'] !== undefined) {
      writeBaseline(p.opts['write-baseline'], [...result.findings, ...result.accepted]);
      io.err(`baseline written to ${p.opts['write-baseline']}: ${result.findings.length + result.accepted.length} finding(s) accepted`);
    }
    const failOn = p.opts['fail-on'] as Severity | undefined;
    return failOn !== undefined && failsAt(result.findings, failOn) ? 1 : 0;
  } catch (e) {
    if (e instanceof AuditInputError) {
      io.err(`blastwall audit: ${e.message}`);
      return 2;
    }
    throw e;
  } finally {
    await closeAll(walls);
  }
}

export const auditCommand: CliCommand = {
  summary: 'what happens next when each dependency misbehaves, and the findings (text, Markdown, JSON, SARIF)',
  usage: USAGE,
  run,
};
