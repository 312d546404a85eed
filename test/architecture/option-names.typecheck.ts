// Type-level test, checked by `npm run typecheck` (tsc includes test/): optionNames rejects a list that misses or invents an option.
import { optionNames } from '../../src/core/option-names.js';
interface O { a?: number; b?: string; c: boolean }
export const ok = optionNames<O>()('a', 'b', 'c');
// @ts-expect-error 'c' missing
export const missing = optionNames<O>()('a', 'b');
// @ts-expect-error 'z' unknown
export const extra = optionNames<O>()('a', 'b', 'c', 'z');
