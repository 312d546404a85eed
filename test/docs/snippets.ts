/**
 * Runs the TypeScript code blocks of a Markdown document as a user would: each block is saved as a file of
 * its own (no preamble, no injected globals), type-checked against the library with the project's strict
 * options, then run with tsx in a scratch directory. A `// prints: TEXT` comment on a line says that TEXT
 * must appear in what the block prints. `blastwall` resolves to the sources through tsconfig.json `paths`.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import ts from 'typescript';

export const ROOT = resolve(import.meta.dirname, '../..');

export interface Snippet {
  /** `README.md#3`: the document and the block's number (from 1). */
  name: string;
  code: string;
  /** Texts the block must print (its `// prints:` comments). */
  prints: string[];
  /** The store services the block connects to. */
  services: ('redis' | 'postgres')[];
}

/** The ```ts blocks of a Markdown file (path relative to the repository root). */
export function snippets(doc: string): Snippet[] {
  const text = readFileSync(join(ROOT, doc), 'utf8');
  return [...text.matchAll(/^```ts\n([\s\S]*?)^```/gm)].map((m, i) => {
    const code = m[1]!;
    const services: Snippet['services'] = [];
    if (code.includes("'blastwall/stores/redis'")) services.push('redis');
    if (code.includes("'blastwall/stores/postgres'")) services.push('postgres');
    return { name: `${doc}#${i + 1}`, code, prints: [...code.matchAll(/\/\/ prints: (.*)$/gm)].map((p) => p[1]!.trim()), services };
  });
}

/** A scratch directory inside the repository (so tsconfig.json applies) with one file per snippet. */
export function writeSnippets(list: Snippet[], extra: Record<string, string> = {}): { dir: string; files: Map<string, string>; cleanup: () => void } {
  const dir = mkdtempSync(join(ROOT, '.snippets-'));
  const files = new Map<string, string>();
  const all: [string, string][] = [...list.map((s): [string, string] => [s.name, s.code]), ...Object.entries(extra)];
  all.forEach(([name, code], i) => {
    const file = join(dir, `${name.replace(/[^a-z0-9]+/gi, '-')}-${i}.ts`);
    writeFileSync(file, `${code}\nexport {};\n`);
    files.set(name, file);
  });
  mkdirSync(join(dir, 'work'), { recursive: true });
  return { dir, files, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Type errors per file, with the project's compiler options (strict, NodeNext, paths). */
export function typeErrors(files: string[]): Map<string, string[]> {
  const config = ts.getParsedCommandLineOfConfigFile(join(ROOT, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined })!;
  const program = ts.createProgram(files, { ...config.options, noEmit: true });
  const out = new Map<string, string[]>(files.map((f) => [f, []]));
  for (const d of ts.getPreEmitDiagnostics(program)) {
    if (d.file === undefined) continue;
    const list = out.get(resolve(d.file.fileName));
    if (list === undefined) continue;
    const { line } = d.file.getLineAndCharacterOfPosition(d.start ?? 0);
    list.push(`${relative(ROOT, d.file.fileName)}:${line + 1}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
  }
  return out;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Runs a TypeScript file with tsx (cwd: `cwd`), killed after `timeoutMs`. */
export function runTs(file: string, cwd: string, timeoutMs = 30_000, env: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file], { cwd, env: { ...process.env, ...env, NODE_NO_WARNINGS: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr, timedOut });
    });
  });
}

/** What is wrong with a snippet's run, or [] when it exited 0, printed what it says and nothing on stderr. */
export function runProblems(s: Snippet, r: RunResult): string[] {
  const problems: string[] = [];
  if (r.timedOut) problems.push(`${s.name} did not finish in time (a timer or server left open?)`);
  else if (r.code !== 0) problems.push(`${s.name} exited with ${r.code}: ${r.stderr.trim().split('\n').slice(0, 12).join('\n')}`);
  else if (r.stderr.trim() !== '') problems.push(`${s.name} wrote to stderr: ${r.stderr.trim().split('\n').slice(0, 12).join('\n')}`);
  for (const text of s.prints) if (!r.stdout.includes(text)) problems.push(`${s.name} should print \`${text}\`, printed: ${r.stdout.trim()}`);
  return problems;
}
