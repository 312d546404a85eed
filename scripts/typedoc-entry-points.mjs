// @ts-check
/**
 * A TypeDoc plugin for the API reference: each entry point's module is named by its import specifier
 * (`blastwall`, `blastwall/http`, …) and, when it has no module comment of its own, takes the doc comment
 * at the top of its entry file as its description.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Comment, Converter, ReflectionKind } from 'typedoc';

/**
 * The leading block comment of a file, as plain text; for an entry file that only re-exports (it starts with
 * `//` lines or exports), the leading block comment of the first file it re-exports.
 */
function leadingComment(file, depth = 0) {
  if (!existsSync(file)) return undefined;
  const source = readFileSync(file, 'utf8');
  const m = /^\s*\/\*\*([\s\S]*?)\*\//.exec(source);
  if (m === null) {
    const first = /from '(\.\/[^']+)\.js'/.exec(source);
    return first === null || depth > 2 ? undefined : leadingComment(join(dirname(file), `${first[1]}.ts`), depth + 1);
  }
  const text = m[1]
    .split('\n')
    .map((l) => l.replace(/^\s*\* ?/, ''))
    .filter((l) => !/^@module\b/.test(l.trim()))
    .join('\n')
    .trim();
  return text === '' ? undefined : text;
}

/** @param {import('typedoc').Application} app */
export function load(app) {
  app.converter.on(Converter.EVENT_RESOLVE_BEGIN, (context) => {
    for (const mod of context.project.getReflectionsByKind(ReflectionKind.Module)) {
      const file = mod.name === 'index' ? 'src/index.ts' : `src/${mod.name}/index.ts`;
      if (!mod.hasComment()) {
        const text = leadingComment(file);
        if (text !== undefined) mod.comment = new Comment([{ kind: 'text', text }]);
      }
      mod.name = mod.name === 'index' ? 'blastwall' : `blastwall/${mod.name}`;
    }
  });
}
