#!/usr/bin/env node
// Runs the built CLI (dist/) when present, otherwise the TypeScript source through tsx (development).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const built = join(root, 'dist', 'cli', 'main.js');
if (existsSync(built)) {
  const { run } = await import(pathToFileURL(built).href);
  process.exitCode = await run(process.argv.slice(2));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  const { run } = await import(pathToFileURL(join(root, 'src', 'cli', 'main.ts')).href);
  process.exitCode = await run(process.argv.slice(2));
}
