// The tarball's file list: what must ship and what must not.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const [listFile, pkgFile] = process.argv.slice(2);
const files = readFileSync(listFile, 'utf8').split('\n').filter(Boolean);
const pkg = JSON.parse(readFileSync(pkgFile, 'utf8'));
const problems = [];
for (const must of ['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md', 'dist/index.js', 'dist/index.d.ts', 'bin/blastwall.js']) {
  if (!files.includes(must)) problems.push(`missing ${must}`);
}
for (const f of files) {
  if (f.endsWith('.map')) problems.push(`${f}: a source map (src/ is not shipped, so it would not resolve)`);
  if (f.startsWith('src/') || f.includes('.test.')) problems.push(`${f}: sources and tests do not ship`);
}
// the NAB scorer is a benchmark tool: it may ship behind a subpath, never in what the main entry loads
const distDir = join(dirname(pkgFile), 'dist');
const seen = new Set();
const walk = (file) => {
  if (seen.has(file) || !existsSync(file)) return;
  seen.add(file);
  for (const m of readFileSync(file, 'utf8').matchAll(/(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)) walk(resolve(dirname(file), m[1]));
};
walk(join(distDir, 'index.js'));
const nabFromMain = [...seen].filter((f) => /[/\\]nab[/\\]/.test(f));
if (nabFromMain.length > 0) problems.push(`the main entry loads the NAB scorer: ${nabFromMain.map((f) => f.slice(distDir.length + 1)).join(', ')}`);
// every exports target exists in the tarball
const targets = (e) => (typeof e === 'string' ? [e] : e && typeof e === 'object' ? Object.values(e).flatMap(targets) : []);
for (const [key, entry] of Object.entries(pkg.exports ?? {})) {
  for (const t of targets(entry)) {
    const rel = t.replace(/^\.\//, '');
    const ok = rel.includes('*') ? files.some((f) => new RegExp(`^${rel.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]+')}$`).test(f)) : files.includes(rel);
    if (!ok) problems.push(`exports["${key}"] → ${t} is not in the tarball`);
  }
}
if (problems.length > 0) {
  console.error(`pack-smoke: the tarball is wrong:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log('tarball contents: ok (dist, bin, README, LICENSE, CHANGELOG; no sources, tests or source maps)');
