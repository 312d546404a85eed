import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vitest/config';

const root = fileURLToPath(new URL('.', import.meta.url));

/**
 * Development self-reference: `blastwall` and `blastwall/<subpath>` resolve to the TypeScript sources the
 * package.json `exports` are built from (`./dist/x/index.js` ← `./src/x/index.ts`), so tests and examples
 * import the package by name, as a user does. tsc and tsx get the same mapping from tsconfig.json `paths`.
 */
function selfReference(): Plugin {
  const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { name: string; exports: Record<string, unknown> };
  const target = (entry: unknown): string | undefined => {
    if (typeof entry === 'string') return entry;
    if (entry !== null && typeof entry === 'object') {
      const e = entry as Record<string, unknown>;
      return target(e.import ?? e.default ?? e.node);
    }
    return undefined;
  };
  const resolveSubpath = (sub: string): string | undefined => {
    for (const [key, entry] of Object.entries(pkg.exports)) {
      const to = target(entry);
      if (to === undefined) continue;
      const star = key.indexOf('*');
      let file: string | undefined;
      if (star < 0 && key === sub) file = to;
      else if (star >= 0 && sub.startsWith(key.slice(0, star)) && sub.endsWith(key.slice(star + 1)) && sub.length >= key.length - 1) {
        file = to.replace('*', sub.slice(star, sub.length - (key.length - star - 1)));
      }
      if (file === undefined) continue;
      const source = `${root}${file.replace(/^\.\/dist\//, 'src/').replace(/\.js$/, '.ts')}`;
      if (existsSync(source)) return source;
    }
    return undefined;
  };
  return {
    name: 'blastwall-self-reference',
    enforce: 'pre',
    resolveId(id) {
      if (id !== pkg.name && !id.startsWith(`${pkg.name}/`)) return null;
      return resolveSubpath(id === pkg.name ? '.' : `.${id.slice(pkg.name.length)}`) ?? null;
    },
  };
}

export default defineConfig({
  plugins: [selfReference()],
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'examples/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
