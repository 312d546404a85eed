import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * The README's TypeScript examples are type-checked against the library, so they stay true. Names an
 * example uses without defining (a URL, the application's own functions) are declared in a preamble.
 */
const PREAMBLE = `
declare const url: string;
declare function loadRecs(signal: AbortSignal): Promise<string[]>;
declare function sendReceipt(charge: unknown): Promise<void>;
declare function reviews(signal: AbortSignal): Promise<string[]>;
declare function price(signal: AbortSignal): Promise<number>;
declare function recommendations(signal: AbortSignal): Promise<string[]>;
declare const req: import('node:http').IncomingMessage;
declare const res: import('node:http').ServerResponse;
`;

describe('README examples', () => {
  it('type-check against the library', () => {
    const root = resolve(import.meta.dirname, '..');
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
    // a deliberately wrong example proves the check is not vacuous
    blocks.push("import { createWall } from 'blastwall';\nconst w = createWall({ service: 's' });\nw.dependency('x', { timeout: true });\n");
    expect(blocks.length).toBeGreaterThanOrEqual(4);
    const dir = mkdtempSync(join(root, '.readme-check-'));
    try {
      const files = blocks.map((code, i) => {
        const file = join(dir, `example${i}.ts`);
        // each block is a module; `wall` is shared by later sections, so they get one when they use it undeclared
        const needsWall = !/const wall\b/.test(code) && /\bwall\./.test(code);
        const body = code
          .replaceAll("from 'blastwall/http'", `from '${join(root, 'src/http/index.js')}'`)
          .replace(/from 'blastwall\/stores\/(\w+)'/g, (_m, name: string) => `from '${join(root, `src/stores/${name}/index.js`)}'`)
          .replaceAll("from 'blastwall'", `from '${join(root, 'src/index.js')}'`);
        writeFileSync(file, `${PREAMBLE}\n${needsWall ? `import { createWall as __cw } from '${join(root, 'src/index.js')}';\nconst wall = __cw({ service: 'readme' });\n` : ''}${body}\nexport {};\n`);
        return file;
      });
      const config = ts.getParsedCommandLineOfConfigFile(join(root, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined })!;
      const program = ts.createProgram(files, { ...config.options, noEmit: true, noUnusedLocals: false });
      const diagnostics = ts.getPreEmitDiagnostics(program).filter((d) => d.file !== undefined && files.includes(resolve(d.file.fileName)));
      const messages = diagnostics.map((d) => {
        const { line } = d.file!.getLineAndCharacterOfPosition(d.start ?? 0);
        return `${d.file!.fileName.split('/').pop()}:${line + 1}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
      });
      const last = `example${blocks.length - 1}.ts`;
      expect(messages.filter((m) => m.startsWith(`${last}:`)).length).toBeGreaterThan(0);
      expect(messages.filter((m) => !m.startsWith(`${last}:`))).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
