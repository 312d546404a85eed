// @ts-check
/**
 * A TypeDoc plugin for the API reference: each entry point's module is named by its import specifier
 * (`blastwall`, `blastwall/http`, …) and, when it has no module comment of its own, takes the doc comment
 * at the top of its entry file as its description.
 */
import { existsSync, readFileSync } from 'node:fs';
import { Comment, Converter, ReflectionKind } from 'typedoc';

/** The leading block comment of a file, as plain text (undefined when the file starts otherwise). */
function leadingComment(file) {
  if (!existsSync(file)) return undefined;
  const m = /^\s*\/\*\*([\s\S]*?)\*\//.exec(readFileSync(file, 'utf8'));
  if (m === null) return undefined;
  const text = m[1]
    .split('\n')
    .map((l) => l.replace(/^\s*\* ?/, ''))
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
