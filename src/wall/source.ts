/**
 * Where a dependency, operation or feature was declared: the first stack frame outside blastwall, captured
 * once at declaration (never on the call path), so audit findings point at the line to change.
 */
import { fileURLToPath } from 'node:url';

export interface SourceLocation {
  file: string;
  line: number;
  column?: number;
}

/** The root of this package's code (src/ in development, dist/ when built). */
const LIBRARY_ROOT = fileURLToPath(new URL('..', import.meta.url));
const FRAME = /\(?((?:file:\/\/)?[^()\s]+?):(\d+):(\d+)\)?\s*$/;

/** The caller's file and line, or undefined when the stack shows none (stack traces off, eval). */
export function captureSource(): SourceLocation | undefined {
  const stack = new Error().stack;
  if (stack === undefined) return undefined;
  for (const line of stack.split('\n').slice(1)) {
    const m = FRAME.exec(line.trim());
    if (m === null) continue;
    let file = m[1]!;
    if (file.startsWith('file://')) {
      try {
        file = fileURLToPath(file);
      } catch {
        continue;
      }
    }
    if (file.startsWith('node:') || file.startsWith(LIBRARY_ROOT) || file.includes('/node_modules/')) continue;
    return { file, line: Number(m[2]), column: Number(m[3]) };
  }
  return undefined;
}
