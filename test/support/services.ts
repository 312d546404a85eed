/**
 * Real servers for tests. When one is unreachable its tests skip with a message saying how to start it,
 * unless BLASTWALL_REQUIRE_SERVICES=1 (set by .ci/run), in which case they fail.
 */
import { Redis } from 'ioredis';

export const REDIS_URL = process.env.BLASTWALL_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const REQUIRE = process.env.BLASTWALL_REQUIRE_SERVICES === '1';

export async function redisAvailable(): Promise<boolean> {
  const r = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 1000, retryStrategy: () => null });
  try {
    await r.connect();
    await r.ping();
    return true;
  } catch {
    if (REQUIRE) throw new Error(`Redis at ${REDIS_URL} is required (BLASTWALL_REQUIRE_SERVICES=1) but unreachable`);
    console.warn(
      `Skipping Redis tests: no server at ${REDIS_URL}. Start one with: redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no (or set BLASTWALL_REDIS_URL)`,
    );
    return false;
  } finally {
    r.disconnect();
  }
}

export const PG_URL = process.env.BLASTWALL_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export async function pgAvailable(): Promise<boolean> {
  const { default: pg } = await import('pg');
  const c = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 1500 });
  try {
    await c.connect();
    await c.query('SELECT 1');
    return true;
  } catch {
    if (REQUIRE) throw new Error(`PostgreSQL at ${PG_URL} is required (BLASTWALL_REQUIRE_SERVICES=1) but unreachable`);
    console.warn(
      `Skipping PostgreSQL tests: no server at ${PG_URL}. Start one with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start (or set BLASTWALL_PG_URL)`,
    );
    return false;
  } finally {
    await c.end().catch(() => undefined);
  }
}
