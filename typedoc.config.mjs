// @ts-check
/**
 * The API reference (docs/api/, Markdown): one module per public entry point, read from package.json
 * `exports` (`./dist/x/index.js` is built from `./src/x/index.ts`), so a new subpath is documented without
 * touching this file. `npm run docs` writes it; `npm run docs:check` fails on a public export without a doc
 * comment (TypeDoc's notDocumented validation, warnings treated as errors).
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));

/** @param {unknown} entry @returns {string | undefined} */
function target(entry) {
  if (typeof entry === 'string') return entry;
  if (entry && typeof entry === 'object') {
    const e = /** @type {Record<string, unknown>} */ (entry);
    return target(e.import ?? e.default ?? e.node);
  }
  return undefined;
}

/** @type {string[]} */
const entryPoints = [];
for (const [key, entry] of Object.entries(pkg.exports)) {
  const to = target(entry);
  if (to === undefined || key.endsWith('package.json')) continue;
  const source = to.replace(/^\.\/dist\//, './src/').replace(/\.js$/, '.ts');
  if (!source.includes('*')) {
    if (existsSync(source)) entryPoints.push(source);
    continue;
  }
  // a pattern export such as ./stores/* → one entry per directory that has the file
  const [before, after] = source.split('*');
  const dir = /** @type {string} */ (before);
  for (const name of readdirSync(dir)) {
    const file = `${dir}${name}${after}`;
    if (existsSync(file)) entryPoints.push(file);
  }
}

/** @type {Partial<import('typedoc').TypeDocOptions> & Record<string, unknown>} */
const config = {
  entryPoints,
  entryPointStrategy: 'resolve',
  tsconfig: './tsconfig.build.json',
  skipErrorChecking: true, // type errors are npm run typecheck's job
  out: './docs/api',
  plugin: ['typedoc-plugin-markdown', './scripts/typedoc-entry-points.mjs'],
  name: 'blastwall API reference',
  readme: 'none',
  excludePrivate: true,
  excludeProtected: true,
  excludeInternal: true,
  excludeExternals: true,
  disableSources: true,
  hideGenerator: true,
  gitRevision: 'main',
  validation: { notExported: false, invalidLink: true, notDocumented: true, rewrittenLink: true, unusedMergeModuleWith: true },
  requiredToBeDocumented: ['Module', 'Enum', 'Variable', 'Function', 'Class', 'Interface', 'TypeAlias', 'Accessor'],
  // markdown output
  entryFileName: 'README.md',
  outputFileStrategy: 'modules',
  hidePageHeader: true,
  useCodeBlocks: true,
};

export default config;
