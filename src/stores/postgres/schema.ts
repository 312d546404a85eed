/**
 * The PostgreSQL store's schema and tables, created on the first call that reaches the server (under an
 * advisory lock, so instances starting together do not race); tables made before instance identities get
 * the owner columns in place.
 */
import type pg from 'pg';

/** Creates `schema` and the store's tables and indexes when missing, on `c` inside a transaction (`T` names a table). */
export async function createSchema(c: Pick<pg.PoolClient, 'query'>, schema: string, T: (name: string) => string): Promise<void> {
  await c.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`blastwall:${schema}`]);
  await c.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
  await c.query(`
        CREATE TABLE IF NOT EXISTS ${T('idem')} (key text PRIMARY KEY, fingerprint text NOT NULL, state text NOT NULL, token text NOT NULL,
          lease_until bigint NOT NULL, response jsonb, completed_at bigint, expires_at bigint NOT NULL);
        CREATE INDEX IF NOT EXISTS idem_exp ON ${T('idem')} (expires_at);
        CREATE TABLE IF NOT EXISTS ${T('queue')} (seq bigserial PRIMARY KEY, queue text NOT NULL, id text NOT NULL, payload jsonb,
          enqueued_at bigint NOT NULL, available_at bigint NOT NULL, state text NOT NULL, attempts int NOT NULL, lease_until bigint NOT NULL,
          done_at bigint, reason text, UNIQUE (queue, id));
        CREATE INDEX IF NOT EXISTS queue_due ON ${T('queue')} (queue, state, available_at);
        CREATE TABLE IF NOT EXISTS ${T('processed')} (grp text NOT NULL, id text NOT NULL, at bigint NOT NULL, PRIMARY KEY (grp, id));
        CREATE TABLE IF NOT EXISTS ${T('effects')} (seq bigserial, collection text NOT NULL, id text NOT NULL, data jsonb, at bigint NOT NULL,
          PRIMARY KEY (collection, id));
        CREATE TABLE IF NOT EXISTS ${T('outbox')} (seq bigserial PRIMARY KEY, id text NOT NULL UNIQUE, topic text NOT NULL, payload jsonb,
          created_at bigint NOT NULL, sent_at bigint);
        CREATE INDEX IF NOT EXISTS outbox_unsent ON ${T('outbox')} (seq) WHERE sent_at IS NULL;
        CREATE TABLE IF NOT EXISTS ${T('versions')} (entity text PRIMARY KEY, version double precision NOT NULL, value jsonb);
        CREATE TABLE IF NOT EXISTS ${T('quarantine')} (seq bigserial PRIMARY KEY, source text NOT NULL, reason text NOT NULL,
          payload text NOT NULL, at bigint NOT NULL);
        CREATE TABLE IF NOT EXISTS ${T('instances')} (instance text PRIMARY KEY, epoch bigint NOT NULL, started_at bigint NOT NULL);
        ALTER TABLE ${T('idem')} ADD COLUMN IF NOT EXISTS owner text, ADD COLUMN IF NOT EXISTS owner_epoch bigint;
        CREATE INDEX IF NOT EXISTS idem_owner ON ${T('idem')} (owner, owner_epoch) WHERE owner IS NOT NULL;
      `);
}
