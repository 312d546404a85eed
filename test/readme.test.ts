import { describe, expect, it } from 'vitest';
import { pgAvailable, redisAvailable } from './support/services.js';
import { runProblems, runTs, snippets, typeErrors, writeSnippets } from './docs/snippets.js';

/**
 * Every TypeScript block of the README is a complete program: it type-checks on its own against the library
 * (nothing declared for it) and runs to completion, printing what its `// prints:` comments say.
 */
const WRONG = "import { createWall } from 'blastwall';\nconst w = createWall({ service: 's' });\nw.dependency('x', { timeout: true });\n";

describe('README examples', () => {
  const blocks = snippets('README.md');

  it('type-check on their own (a deliberately wrong block proves the check is not vacuous)', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(7);
    const { files, cleanup } = writeSnippets(blocks, { wrong: WRONG });
    try {
      const errors = typeErrors([...files.values()]);
      expect(errors.get(files.get('wrong')!)!.length).toBeGreaterThan(0);
      expect(blocks.flatMap((b) => errors.get(files.get(b.name)!)!)).toEqual([]);
    } finally {
      cleanup();
    }
  }, 120_000);

  it('run as written and print what they say', async () => {
    const available = { redis: await redisAvailable(), postgres: await pgAvailable() };
    const { dir, files, cleanup } = writeSnippets(blocks);
    try {
      const problems: string[] = [];
      for (const block of blocks) {
        const missing = block.services.filter((s) => !available[s]);
        if (missing.length > 0) {
          console.warn(`Skipping ${block.name}: needs ${missing.join(' and ')} (see DEVELOPERS.md)`);
          continue;
        }
        problems.push(...runProblems(block, await runTs(files.get(block.name)!, `${dir}/work`)));
      }
      expect(problems).toEqual([]);
    } finally {
      cleanup();
    }
  }, 240_000);
});
