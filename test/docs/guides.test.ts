import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pgAvailable, redisAvailable } from '../support/services.js';
import { ROOT, runProblems, runTs, snippets, typeErrors, writeSnippets } from './snippets.js';

/** Every guide's TypeScript blocks are complete programs: type-checked on their own and run as written. */
const guides = readdirSync(join(ROOT, 'docs/guides'))
  .filter((f) => f.endsWith('.md') && f !== 'README.md')
  .map((f) => `docs/guides/${f}`);

describe('guides', () => {
  it('there is a guide per capability, each with runnable code', () => {
    const names = guides.map((g) => g.replace('docs/guides/', ''));
    expect(names).toEqual(expect.arrayContaining(['policies.md', 'wall.md', 'http.md', 'degradation.md', 'integrity.md', 'drift-timeline.md', 'testing.md']));
    for (const g of guides) expect(snippets(g).length, g).toBeGreaterThan(0);
  });

  it('type-check on their own', () => {
    const blocks = guides.flatMap(snippets);
    const { files, cleanup } = writeSnippets(blocks);
    try {
      const errors = typeErrors([...files.values()]);
      expect(blocks.flatMap((b) => errors.get(files.get(b.name)!)!)).toEqual([]);
    } finally {
      cleanup();
    }
  }, 120_000);

  it('run as written and print what they say', async () => {
    const blocks = guides.flatMap(snippets);
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
  }, 300_000);
});
