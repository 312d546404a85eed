/**
 * The drill report: Markdown (with a per-second goodput/latency chart drawn by Vega-Lite and rendered to an
 * SVG file beside it), JSON, JUnit XML for CI, and a postmortem draft from the drill's timeline.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatDuration } from '../core/duration.js';
import { postmortem } from '../timeline/postmortem.js';
import type { DrillResult } from './runner.js';

export const slugOf = (name: string) =>
  name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '') || 'drill';

/** The report as JSON-ready data. */
export function reportData(r: DrillResult): Record<string, unknown> {
  const o = r.observation;
  const operations: Record<string, unknown> = {};
  for (const op of o.operations) {
    const rs = o.requestsOf(op);
    const lat = rs.map((x) => x.latencyMs).sort((a, b) => a - b);
    const q = (p: number) => (lat.length === 0 ? null : lat[Math.min(lat.length - 1, Math.ceil(p * lat.length) - 1)]!);
    const codes: Record<string, number> = {};
    for (const x of rs) if (!x.ok) codes[x.code ?? 'ERROR'] = (codes[x.code ?? 'ERROR'] ?? 0) + 1;
    const ok = rs.filter((x) => x.ok).length;
    operations[op] = { requests: rs.length, ok, successRate: rs.length === 0 ? null : ok / rs.length, p50Ms: q(0.5), p99Ms: q(0.99), failures: codes };
  }
  return {
    drill: r.drill,
    description: r.description ?? null,
    seed: r.seed,
    passed: r.passed,
    startedAt: new Date(r.startedAt).toISOString(),
    durationMs: r.endedAt - r.startedAt,
    timeScale: r.timeScale,
    invariants: r.invariants,
    faults: o.faults.map((f) => ({
      dependency: f.dependency,
      fault: f.description,
      startMs: f.startedAt - r.startedAt,
      endMs: (f.endedAt ?? r.endedAt) - r.startedAt,
      attempts: f.attempts,
      hits: f.hits,
    })),
    operations,
    attempts: o.attempts,
    transitions: o.transitions.map((t) => ({ ...t, atMs: t.at - r.startedAt })),
    perSecond: o.perSecond(),
    samples: o.samples,
  };
}

/** The Vega-Lite specification of the per-second chart (goodput and p99 latency per operation, fault windows shaded). */
export function chartSpec(r: DrillResult): Record<string, unknown> {
  const o = r.observation;
  const rows = o.perSecond().map((x) => ({ ...x, second: x.t + 0.5 }));
  const faults = o.faults.map((f) => ({
    from: (f.startedAt - r.startedAt) / 1000,
    to: ((f.endedAt ?? r.endedAt) - r.startedAt) / 1000,
    fault: `${f.dependency}: ${f.description}`,
  }));
  const shade = {
    data: { values: faults },
    mark: { type: 'rect', opacity: 0.15, color: '#d62728' },
    encoding: { x: { field: 'from', type: 'quantitative' }, x2: { field: 'to' } },
  };
  const panel = (field: string, title: string) => ({
    width: 640,
    height: 180,
    layer: [
      ...(faults.length > 0 ? [shade] : []),
      {
        data: { values: rows },
        mark: { type: 'line', point: true },
        encoding: {
          x: { field: 'second', type: 'quantitative', title: 'seconds since the drill started' },
          y: { field, type: 'quantitative', title },
          color: { field: 'operation', type: 'nominal', title: 'operation' },
        },
      },
    ],
  });
  return {
    title: `${r.drill}: per-second goodput and p99 latency (fault windows shaded)`,
    vconcat: [panel('goodput', 'goodput (answers ok / s)'), panel('p99', 'p99 latency (ms)')],
    config: { font: 'sans-serif' },
  };
}

/** Renders the chart to SVG with Vega-Lite → Vega (server-side, no browser). */
export async function renderChart(r: DrillResult): Promise<string> {
  const vl = await import('vega-lite');
  const vega = await import('vega');
  const compiled = vl.compile(chartSpec(r) as never).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

const esc = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/**
 * The drill's report as Markdown: verdict, seed and timing, the invariants, the faults, per-operation
 * figures (requests, success rate, p50/p99, failure codes), attempts per call, and the transitions.
 * `chartFile` is the path of the per-second chart (`renderChart`'s SVG) relative to the Markdown file,
 * linked from a "Per second" section; undefined leaves the section out.
 */
export function markdownReport(r: DrillResult, chartFile: string | undefined): string {
  const d = reportData(r) as { operations: Record<string, { requests: number; ok: number; successRate: number | null; p50Ms: number | null; p99Ms: number | null; failures: Record<string, number> }> };
  const o = r.observation;
  const lines: string[] = [];
  lines.push(`# Drill: ${r.drill} — ${r.passed ? 'PASSED' : 'FAILED'}`, '');
  if (r.description) lines.push(r.description, '');
  lines.push(
    `Seed \`${String(r.seed)}\`; load ${formatDuration(r.endedAt - r.startedAt)} in all${r.timeScale !== 1 ? ` (time scale ${r.timeScale})` : ''}; started ${new Date(r.startedAt).toISOString()}.`,
    '',
  );
  lines.push('## Invariants', '', '| | invariant | observed |', '|---|---|---|');
  for (const i of r.invariants) lines.push(`| ${i.pass ? 'held' : '**FAILED**'} | ${esc(i.name)} | ${esc(i.observed)} |`);
  lines.push('', '## Faults', '');
  if (o.faults.length === 0) lines.push('None.');
  else {
    lines.push('| dependency | fault | from | to | attempts hit |', '|---|---|---:|---:|---:|');
    for (const f of o.faults) {
      lines.push(`| ${f.dependency} | ${esc(f.description)} | +${formatDuration(f.startedAt - r.startedAt)} | +${formatDuration((f.endedAt ?? r.endedAt) - r.startedAt)} | ${f.hits} of ${f.attempts} |`);
    }
  }
  lines.push('', '## Operations', '', '| operation | requests | ok | success rate | p50 | p99 | failures |', '|---|---:|---:|---:|---:|---:|---|');
  for (const [op, x] of Object.entries(d.operations)) {
    const fails = Object.entries(x.failures).map(([c, n]) => `${c}×${n}`).join(', ') || '—';
    const ms = (v: number | null) => (v === null ? '—' : formatDuration(v));
    lines.push(`| ${op} | ${x.requests} | ${x.ok} | ${x.successRate === null ? '—' : x.successRate.toFixed(4)} | ${ms(x.p50Ms)} | ${ms(x.p99Ms)} | ${fails} |`);
  }
  const att = Object.entries(o.attempts).filter(([, a]) => a.calls > 0);
  if (att.length > 0) {
    lines.push('', '| dependency | calls | attempts | attempts per call |', '|---|---:|---:|---:|');
    for (const [n, a] of att) lines.push(`| ${n} | ${a.calls} | ${a.attempts} | ${(a.attempts / a.calls).toFixed(3)} |`);
  }
  if (chartFile !== undefined) lines.push('', '## Per second', '', `![per-second goodput and p99 latency](${chartFile})`);
  lines.push('', '## Transitions', '');
  if (o.transitions.length === 0) lines.push('None.');
  for (const t of o.transitions) lines.push(`- +${formatDuration(t.at - r.startedAt)} ${t.series}: ${t.from ?? '?'} → ${t.to}${t.detail ? ` (${esc(t.detail)})` : ''}`);
  lines.push('');
  return lines.join('\n');
}

const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** JUnit XML: one test suite per drill, one test case per invariant. */
export function junitReport(results: readonly DrillResult[]): string {
  const out = ['<?xml version="1.0" encoding="UTF-8"?>'];
  const failures = results.reduce((a, r) => a + r.invariants.filter((i) => !i.pass).length, 0);
  const tests = results.reduce((a, r) => a + r.invariants.length, 0);
  out.push(`<testsuites name="blastwall drills" tests="${tests}" failures="${failures}">`);
  for (const r of results) {
    const secs = ((r.endedAt - r.startedAt) / 1000).toFixed(3);
    out.push(`  <testsuite name="${xml(r.drill)}" tests="${r.invariants.length}" failures="${r.invariants.filter((i) => !i.pass).length}" time="${secs}">`);
    for (const i of r.invariants) {
      out.push(`    <testcase classname="drill.${xml(slugOf(r.drill))}" name="${xml(i.name)}">`);
      if (!i.pass) out.push(`      <failure message="${xml(`${i.name}: observed ${i.observed}`)}">${xml(i.observed)}</failure>`);
      else out.push(`      <system-out>${xml(i.observed)}</system-out>`);
      out.push('    </testcase>');
    }
    out.push('  </testsuite>');
  }
  out.push('</testsuites>', '');
  return out.join('\n');
}

/** Writes `<slug>.md`, `<slug>.svg`, `<slug>.json`, `<slug>.postmortem.md` into `dir`; returns the paths. */
export async function writeReport(r: DrillResult, dir: string): Promise<{ markdown: string; json: string; svg: string; postmortem: string }> {
  mkdirSync(dir, { recursive: true });
  const slug = slugOf(r.drill);
  const svg = join(dir, `${slug}.svg`);
  writeFileSync(svg, await renderChart(r));
  const markdown = join(dir, `${slug}.md`);
  writeFileSync(markdown, markdownReport(r, `${slug}.svg`));
  const json = join(dir, `${slug}.json`);
  writeFileSync(json, `${JSON.stringify(reportData(r), null, 2)}\n`);
  const pm = join(dir, `${slug}.postmortem.md`);
  writeFileSync(pm, postmortem(r.timeline.query({ from: r.startedAt - 1000, to: r.endedAt + 60_000 }), { from: r.startedAt - 1000, to: r.endedAt + 60_000, service: r.drill }));
  return { markdown, json, svg, postmortem: pm };
}
