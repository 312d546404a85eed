// The tarball's file list: what must ship and what must not.
import { readFileSync } from 'node:fs';

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
// the NAB scorer is a benchmark tool: it ships only if an exports subpath makes it public
const nabExported = Object.keys(pkg.exports ?? {}).some((k) => k.includes('nab'));
const nab = files.filter((f) => /(^|\/)nab(\/|\.)/.test(f));
if (nab.length > 0 && !nabExported) problems.push(`the NAB scorer ships without a subpath: ${nab.join(', ')}`);
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
