import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, expect, it } from 'vitest';
import { PostgresStore } from '../../src/stores/postgres/index.js';
import type { IntegrityStore } from '../../src/stores/types.js';
import { PG_URL, pgAvailable } from '../support/services.js';
import { storeConformance } from './conformance.js';

const up = await pgAvailable();
const admin = up ? new pg.Pool({ connectionString: PG_URL, max: 2 }) : undefined;
const schemas: string[] = [];
afterAll(async () => {
  for (const s of schemas) await admin?.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
  await admin?.end();
});

async function fresh(): Promise<PostgresStore> {
  const schema = `bw_t_${randomBytes(5).toString('hex')}`;
  schemas.push(schema);
  const s = new PostgresStore({ connection: PG_URL, schema, poolSize: 3 });
  await s.init();
  return s;
}

storeConformance({
  name: 'postgres',
  skip: up ? undefined : 'PostgreSQL unavailable',
  make: fresh,
  sql: {
    async inCallerTx(store: IntegrityStore, fn, rollback) {
      const c = await (store as PostgresStore).pool.connect();
      try {
        await c.query('BEGIN');
        await fn(c);
        await c.query(rollback ? 'ROLLBACK' : 'COMMIT');
      } finally {
        c.release();
      }
    },
  },
});

it.skipIf(!up)('postgres outbox: a row whose id commits after a higher id is still relayed', async () => {
  const s = await fresh();
  try {
    const a = await s.pool.connect();
    const b = await s.pool.connect();
    await a.query('BEGIN');
    await b.query('BEGIN');
    await s.enqueueOutboxWith(a, { id: 'first-id', topic: 't', payload: 1 }, 1); // takes the lower seq
    await s.enqueueOutboxWith(b, { id: 'second-id', topic: 't', payload: 2 }, 2);
    await b.query('COMMIT');
    const seen1 = await s.outboxPending(10);
    await s.markSent(seen1.map((r) => r.id), 3);
    await a.query('COMMIT');
    const seen2 = await s.outboxPending(10);
    a.release();
    b.release();
    expect(seen1.map((r) => r.id)).toEqual(['second-id']);
    expect(seen2.map((r) => r.id)).toEqual(['first-id']);
    expect(seen2[0]!.seq).toBeLessThan(seen1[0]!.seq);
  } finally {
    await s.close();
  }
});

it.skipIf(!up)('postgres: concurrent claims of one key from separate connections — exactly one wins', async () => {
  const s = await fresh();
  try {
    const rs = await Promise.all(
      Array.from({ length: 8 }, (_, i) => s.claim({ key: 'same', fingerprint: 'f', token: `t${i}`, now: 1000, leaseMs: 5000 })),
    );
    expect(rs.filter((r) => r.state === 'claimed')).toHaveLength(1);
    expect(rs.filter((r) => r.state === 'in-flight')).toHaveLength(7);
  } finally {
    await s.close();
  }
});
