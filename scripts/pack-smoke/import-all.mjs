// Imports every subpath of the installed package's `exports` (patterns expanded from the files present).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = join(process.cwd(), 'node_modules', 'blastwall');
const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
const target = (e) => (typeof e === 'string' ? e : e && typeof e === 'object' ? target(e.import ?? e.default ?? e.node) : undefined);
const specifiers = [];
for (const [key, entry] of Object.entries(pkg.exports)) {
  if (key.endsWith('package.json')) continue;
  const to = target(entry);
  if (!key.includes('*')) {
    specifiers.push(key === '.' ? 'blastwall' : `blastwall/${key.slice(2)}`);
    continue;
  }
  const [before, after] = to.split('*');
  for (const name of readdirSync(join(dir, before))) {
    if (existsSync(join(dir, `${before}${name}${after}`))) specifiers.push(`blastwall/${key.slice(2).replace('*', name)}`);
  }
}
let failed = 0;
for (const s of specifiers) {
  try {
    const m = await import(s);
    console.log(`  ${s}: ${Object.keys(m).length} exports`);
    if (Object.keys(m).length === 0) throw new Error('no exports');
  } catch (err) {
    failed++;
    console.error(`  ${s}: FAILED ${err instanceof Error ? err.message : String(err)}`);
  }
}
if (failed > 0) process.exit(1);
console.log(`imported ${specifiers.length} entry points`);
