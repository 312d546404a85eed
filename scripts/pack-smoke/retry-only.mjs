// Importing only `retry` must not load the SQLite addon, prom-client or OpenTelemetry (they are CommonJS,
// so every one that loads appears in the CommonJS module cache).
import { createRequire } from 'node:module';
import { retry } from 'blastwall';

const policy = retry({ attempts: 2 });
if (typeof policy.execute !== 'function') throw new Error('retry() did not build a policy');
const loaded = Object.keys(createRequire(import.meta.url).cache).map((f) => f.split('node_modules/').pop() ?? f);
const heavy = loaded.filter((f) => /^(better-sqlite3|prom-client|@opentelemetry|ioredis|pg)\//.test(f));
const addons = process.report.getReport().sharedObjects.filter((f) => f.endsWith('.node'));
console.log(`  CommonJS modules loaded: ${loaded.length}; native addons: ${addons.length}`);
if (heavy.length > 0 || addons.length > 0) {
  console.error(`importing retry loaded: ${[...new Set(heavy.map((f) => f.split('/').slice(0, f.startsWith('@') ? 2 : 1).join('/')))].concat(addons).join(', ')}`);
  process.exit(1);
}
console.log('  retry alone: no native addon, no prom-client, no OpenTelemetry, no store client');
