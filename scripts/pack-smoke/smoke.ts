// What a new user writes first: a wall, a dependency, a call; and a standalone policy.
import { BlastwallError, createWall, pipeline, retry, timeout } from 'blastwall';

const wall = createWall({ service: 'smoke' });
const inventory = wall.dependency('inventory', { criticality: 'core', timeout: '500ms', retry: { attempts: 2 } });
let attempts = 0;
const stock = await inventory.call(async (ctx) => {
  ctx.signal.throwIfAborted();
  if (++attempts === 1) throw new Error('connection reset');
  return 7;
});
if (stock !== 7 || attempts !== 2) throw new Error(`expected 7 after 2 attempts, got ${stock} after ${attempts}`);

const policy = pipeline(retry({ attempts: 2 }), timeout('50ms'));
const failed = await policy.execute(() => new Promise<never>(() => undefined)).catch((e: unknown) => e);
if (!(failed instanceof BlastwallError) || failed.code !== 'TIMEOUT') throw new Error(`expected TIMEOUT, got ${String(failed)}`);

const health = wall.health();
await wall.close();
console.log(`smoke: inventory answered ${stock} after ${attempts} attempts; a hang ended in ${failed.code}; health ${health.status}`);
