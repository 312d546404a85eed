/**
 * The folder-level import graph of src/: which top-level folder imports which, from static imports,
 * re-exports, type imports and dynamic `import()`s alike (test files excluded: a test may use any floor).
 * Used by cycles.test.ts and printed by `npx tsx test/architecture/import-graph.ts`.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

export interface ImportEdge {
  /** Folder of the importing file (`core`, `wall`, ...; `.` for src/index.ts). */
  from: string;
  to: string;
  /** Importing file, relative to src/, and the line of the import. */
  file: string;
  line: number;
  specifier: string;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') && !name.endsWith('.test.ts') && !name.endsWith('.d.ts') ? [path] : [];
  });
}

/** Top-level folder of a path inside src/ (`.` for files directly in src/). */
export function folderOf(path: string): string {
  const rel = relative(SRC, path);
  return rel.includes(sep) ? rel.split(sep)[0]! : '.';
}

/** Every import of one src/ folder by another. */
export function folderEdges(): ImportEdge[] {
  const edges: ImportEdge[] = [];
  for (const file of sourceFiles(SRC)) {
    const text = readFileSync(file, 'utf8');
    const info = ts.preProcessFile(text, true, true);
    for (const ref of info.importedFiles) {
      if (!ref.fileName.startsWith('.')) continue;
      const target = resolve(dirname(file), ref.fileName);
      if (!target.startsWith(SRC)) continue;
      const from = folderOf(file);
      const to = folderOf(target);
      if (from === to) continue;
      const line = text.slice(0, ref.pos).split('\n').length;
      edges.push({ from, to, file: relative(SRC, file), line, specifier: ref.fileName });
    }
  }
  return edges;
}

/** A cycle in the folder graph as a path `a → b → … → a`, or undefined. */
export function findCycle(edges: readonly ImportEdge[]): string[] | undefined {
  const next = new Map<string, Set<string>>();
  for (const e of edges) {
    if (!next.has(e.from)) next.set(e.from, new Set());
    next.get(e.from)!.add(e.to);
  }
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (n: string): string[] | undefined => {
    if (state.get(n) === 'done') return undefined;
    if (state.get(n) === 'open') return [...stack.slice(stack.indexOf(n)), n];
    state.set(n, 'open');
    stack.push(n);
    for (const m of [...(next.get(n) ?? [])].sort()) {
      const c = visit(m);
      if (c) return c;
    }
    stack.pop();
    state.set(n, 'done');
    return undefined;
  };
  for (const n of [...next.keys()].sort()) {
    const c = visit(n);
    if (c) return c;
  }
  return undefined;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const byPair = new Map<string, number>();
  for (const e of folderEdges()) byPair.set(`${e.from} -> ${e.to}`, (byPair.get(`${e.from} -> ${e.to}`) ?? 0) + 1);
  for (const [pair, n] of [...byPair].sort()) console.log(`${pair} (${n})`);
  const cycle = findCycle(folderEdges());
  console.log(cycle ? `cycle: ${cycle.join(' → ')}` : 'no folder-level cycle');
}
