/**
 * The fleet view: each instance publishes a heartbeat carrying its health snapshot to PostgreSQL (the
 * table `blastwall_instances`, one row per instance, upserted), and `fleetState` reads every instance
 * back, marking `gone` the ones whose last heartbeat is older than their heartbeat timeout. Ages are
 * judged by the database's clock on both sides (the heartbeat stamps `last_seen` with the server's
 * `now()`), so instances whose clocks disagree are judged alike.
 */
import type { PgPool } from './pg-types.js';
import type { TimerHandle } from '../core/clock.js';
import { durationOption, type Duration } from '../core/duration.js';
import { configError, isPlainObject, objectOption } from '../core/validate.js';
import { optionNames } from '../core/option-names.js';
import { ensureFleetSchema, instanceOption, openPool, schemaOption } from './postgres.js';

/**
 * The part of `wall.health()` the fleet view reads (the timeline sits below the wall, so it names the
 * shape instead of importing it); the whole snapshot is stored.
 */
export interface FleetHealth {
  service: string;
  status: string;
  mode: string;
  dependencies: Record<string, { state: string }>;
}

/** What `publishHeartbeat` needs of a wall: its health snapshot (with its service name) and its clock. */
export interface HeartbeatSource {
  /** The snapshot to publish, read at each heartbeat (stored whole, as JSON). */
  health(): FleetHealth;
  /** The timers the heartbeat runs on (a wall's clock; a `FakeClock` in tests). */
  readonly clock: {
    /** Arms a one-shot timer firing after `ms` milliseconds. */
    setTimer(fn: () => void, ms: number): TimerHandle;
    /** Cancels a timer armed by `setTimer`. */
    clearTimer(h: TimerHandle): void;
    /** Optional: whether the timer keeps the process alive; the heartbeat asks for `false` (unref'd). */
    refTimer?(h: TimerHandle, ref: boolean): void;
  };
}

/** Options of {@link publishHeartbeat}: exactly one of `url` or `pool`. */
export interface HeartbeatOptions {
  /** `postgres://…` (a pool of one connection is opened and closed by the stop function), or a pool of yours (left open). */
  url?: string;
  /** A `pg` pool of yours (e.g. a PostgreSQL timeline's `pool`), left open by the stop function. */
  pool?: PgPool;
  /** Schema of the fleet's tables (default `public`; the same as the timeline's). */
  schema?: string;
  /** How often the heartbeat is published: a duration (`'5s'`, `'500ms'`, or a number of ms, ≥ 1 ms). Default 5s. */
  every?: Duration;
  /** After how long without a heartbeat the instance counts as gone (a duration, at least `every`). Default 3 × `every`. */
  timeout?: Duration;
  /** This instance's id: default env BLASTWALL_INSTANCE, else `<hostname>-<pid>`. */
  instance?: string;
}

const HEARTBEAT_OPTION_NAMES = optionNames<HeartbeatOptions>()('url', 'pool', 'schema', 'every', 'timeout', 'instance');

/**
 * Stops publishing and marks the instance's row stopped (so the fleet view tells a stopped instance from a
 * crashed one; a failure to mark it is ignored, the row then turns `gone` after its timeout); resolves when
 * that last write has settled.
 */
export type StopHeartbeat = () => Promise<void>;

/**
 * Publishes `wall.health()` for this instance every `every` through the wall's clock (unref'd timers:
 * it never holds the process open). The first heartbeat is sent at once. A database that is down or slow
 * never reaches the caller: a heartbeat that fails is reported as one warning per run of failures, and
 * a heartbeat still in flight when the next one is due makes that one skip.
 */
export function publishHeartbeat(wall: HeartbeatSource, options: HeartbeatOptions): StopHeartbeat {
  const o = objectOption('publishHeartbeat options', options, HEARTBEAT_OPTION_NAMES);
  if (wall === null || typeof wall !== 'object' || typeof wall.health !== 'function' || typeof wall.clock?.setTimer !== 'function') {
    throw configError('wall', 'a wall (createWall)', wall);
  }
  if ((o.url === undefined) === (o.pool === undefined)) throw configError('publishHeartbeat options', 'exactly one of `url` or `pool`', options);
  if (o.pool !== undefined && (o.pool === null || typeof (o.pool as { query?: unknown }).query !== 'function')) throw configError('pool', 'a PgPool', o.pool);
  const schema = schemaOption(o.schema);
  const everyMs = o.every === undefined ? 5000 : durationOption('every', o.every);
  const timeoutMs = o.timeout === undefined ? 3 * everyMs : durationOption('timeout', o.timeout, everyMs);
  const instance = instanceOption(o.instance);
  const pool = o.pool === undefined ? openPool(o.url, 'url', 1) : (o.pool as PgPool);
  const ownsPool = o.pool === undefined;
  const clock = wall.clock;
  let ready: Promise<void> | undefined;
  let inFlight: Promise<void> | undefined;
  let timer: TimerHandle | undefined;
  let failing = false;
  let stopped = false;

  const beat = async (): Promise<void> => {
    try {
      const h = wall.health();
      ready ??= ensureFleetSchema(pool, schema);
      await ready.catch((err: unknown) => {
        ready = undefined;
        throw err;
      });
      await pool.query(
        `INSERT INTO "${schema}".blastwall_instances (instance, service, status, mode, health, heartbeat_timeout_ms, started_at, last_seen)
         VALUES ($1, $2, $3, $4, $5::jsonb, $6, now(), now())
         ON CONFLICT (instance) DO UPDATE SET service = EXCLUDED.service, status = EXCLUDED.status, mode = EXCLUDED.mode,
           health = EXCLUDED.health, heartbeat_timeout_ms = EXCLUDED.heartbeat_timeout_ms, last_seen = now(), stopped_at = NULL`,
        [instance, h.service, h.status, h.mode, JSON.stringify(h), timeoutMs],
      );
      failing = false;
    } catch (err) {
      if (!failing) process.emitWarning(`blastwall heartbeat: instance ${instance} could not publish its heartbeat: ${(err as Error).message}; retrying every ${everyMs}ms`);
      failing = true;
    }
  };

  const tick = (): void => {
    timer = undefined;
    if (stopped) return;
    if (inFlight === undefined) {
      inFlight = beat().finally(() => {
        inFlight = undefined;
      });
    }
    timer = clock.setTimer(tick, everyMs);
    clock.refTimer?.(timer, false);
  };
  tick();

  return async () => {
    if (stopped) return;
    stopped = true;
    if (timer !== undefined) clock.clearTimer(timer);
    timer = undefined;
    await inFlight;
    if (ready !== undefined) {
      await pool.query(`UPDATE "${schema}".blastwall_instances SET stopped_at = now() WHERE instance = $1`, [instance]).catch(() => undefined);
    }
    if (ownsPool) await pool.end().catch(() => undefined);
  };
}

/** One instance of the fleet as its last heartbeat told it. */
export interface FleetInstance {
  instance: string;
  service: string;
  status: string;
  mode: string;
  /** Each dependency's health state (`healthy`, `delayed`, `degraded`, `retrying`, `unavailable` or `corrupt`). */
  dependencies: Record<string, string>;
  /** The full `wall.health()` snapshot of the last heartbeat. */
  health: FleetHealth;
  startedAt: number;
  lastSeen: number;
  /** How long ago the last heartbeat arrived, by the database's clock. */
  ageMs: number;
  heartbeatTimeoutMs: number;
  /** Stopped by its stop function (`publishHeartbeat`'s): it said goodbye. */
  stopped: boolean;
  /** Stopped, or no heartbeat within its timeout (crashed, hung or cut off). */
  gone: boolean;
}

/** Options of {@link fleetState}: exactly one of `url` or `pool`. */
export interface FleetStateOptions {
  /** `postgres://…`: a pool of one connection is opened for the read and closed after it. */
  url?: string;
  /** A `pg` pool of yours, left open. */
  pool?: PgPool;
  /** Schema the heartbeats were published in (default `public`). */
  schema?: string;
  /** Overrides the timeout each instance published with its heartbeats (a duration: `'30s'` or a number of ms). */
  heartbeatTimeout?: Duration;
  /** Only the instances of this service. */
  service?: string;
}

const FLEET_STATE_OPTION_NAMES = optionNames<FleetStateOptions>()('url', 'pool', 'schema', 'heartbeatTimeout', 'service');

/** SQLSTATE of a missing table: no instance has published a heartbeat in this schema yet. */
const UNDEFINED_TABLE = '42P01';

/** Every instance that ever sent a heartbeat in `schema`, ordered by service and instance id. */
export async function fleetState(options: FleetStateOptions): Promise<FleetInstance[]> {
  const o = objectOption('fleetState options', options, FLEET_STATE_OPTION_NAMES);
  if ((o.url === undefined) === (o.pool === undefined)) throw configError('fleetState options', 'exactly one of `url` or `pool`', options);
  const schema = schemaOption(o.schema);
  const override = o.heartbeatTimeout === undefined ? null : durationOption('heartbeatTimeout', o.heartbeatTimeout);
  if (o.service !== undefined && typeof o.service !== 'string') throw configError('service', 'a string', o.service);
  const pool = o.pool === undefined ? openPool(o.url, 'url', 1) : (o.pool as PgPool);
  try {
    const r = await pool.query(
      `SELECT instance, service, status, mode, health, heartbeat_timeout_ms,
         extract(epoch FROM started_at) * 1000 AS started_ms, extract(epoch FROM last_seen) * 1000 AS last_seen_ms,
         extract(epoch FROM (now() - last_seen)) * 1000 AS age_ms, stopped_at IS NOT NULL AS stopped
       FROM "${schema}".blastwall_instances ${o.service === undefined ? '' : 'WHERE service = $1'}
       ORDER BY service, instance`,
      o.service === undefined ? [] : [o.service],
    ).catch((err: unknown) => {
      if ((err as { code?: unknown }).code === UNDEFINED_TABLE) return { rows: [] };
      throw err;
    });
    return (r.rows as Record<string, unknown>[]).map((row) => toInstance(row, override));
  } finally {
    if (o.pool === undefined) await pool.end().catch(() => undefined);
  }
}

function toInstance(r: Record<string, unknown>, override: number | null): FleetInstance {
  const health = (isPlainObject(r.health) ? r.health : {}) as unknown as FleetHealth;
  const dependencies: Record<string, string> = {};
  if (isPlainObject(health.dependencies)) {
    for (const [name, d] of Object.entries(health.dependencies)) dependencies[name] = isPlainObject(d) && typeof d.state === 'string' ? d.state : 'unknown';
  }
  const heartbeatTimeoutMs = override ?? Number(r.heartbeat_timeout_ms);
  const ageMs = Math.max(0, Number(r.age_ms));
  return {
    instance: String(r.instance),
    service: String(r.service),
    status: String(r.status),
    mode: String(r.mode),
    dependencies,
    health,
    startedAt: Number(r.started_ms),
    lastSeen: Number(r.last_seen_ms),
    ageMs,
    heartbeatTimeoutMs,
    stopped: r.stopped === true,
    gone: r.stopped === true || ageMs > heartbeatTimeoutMs,
  };
}
