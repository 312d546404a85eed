import { HttpProblem } from './problem.js';

/** Deepest nesting `parseJson` accepts by default (objects and arrays). */
export const DEFAULT_MAX_JSON_DEPTH = 100;

/**
 * Nesting depth of a JSON text, counted in one linear pass without recursion (brackets inside strings do
 * not count). Stops counting once `limit` is passed.
 */
function depthOf(text: string, limit: number): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > max && (max = depth) > limit) return max;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return max;
}

/**
 * Parses a JSON request body with bounded nesting, so a hostile body (`[[[[…]]]]` 100,000 deep) is a
 * client error instead of a stack overflow in whatever walks the value later (a validator, a fingerprint,
 * `JSON.stringify`). Throws `HttpProblem` 400 `JSON_TOO_DEEP` or 400 `INVALID_JSON`, which every
 * adapter answers as problem+json.
 */
export function parseJson(body: string | Uint8Array, options: { maxDepth?: number } = {}): unknown {
  const max = options.maxDepth ?? DEFAULT_MAX_JSON_DEPTH;
  const text = typeof body === 'string' ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  if (depthOf(text, max) > max) throw tooDeep(max);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new HttpProblem(400, 'INVALID_JSON', 'Malformed JSON', 'The body is not valid JSON.');
  }
}

/**
 * Whether an already-parsed value (a framework's parsed body) nests objects and arrays deeper than `max`,
 * checked without recursion.
 */
export function nestedDeeperThan(value: unknown, max = DEFAULT_MAX_JSON_DEPTH): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object' || v instanceof Uint8Array) continue;
    if (d + 1 > max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) if (child !== null && typeof child === 'object') stack.push([child, d + 1]);
  }
  return false;
}

/** The 400 answer for a body nested deeper than `max`. */
export function tooDeep(max = DEFAULT_MAX_JSON_DEPTH): HttpProblem {
  return new HttpProblem(400, 'JSON_TOO_DEEP', 'JSON nested too deeply', `The body nests objects and arrays deeper than ${max} levels.`);
}
