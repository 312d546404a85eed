/**
 * Idempotency keys: the first execution of a key runs and its result is stored atomically with its
 * effects; a later call with the same key gets the stored result; the same key with a different payload
 * is refused; a call while the first is running is refused. An execution holds a **lease** that it
 * renews while it runs: if the process dies, the key is usable again when the lease runs out — or at
 * once when the process starts again, if it has an `instance` identity (its previous incarnation's
 * leases are released and fenced off when the guard starts).
 */
import { createHash, randomUUID } from 'node:crypto';
import { type Clock, realClock } from '../core/clock.js';
import { durationOption, type Duration } from '../core/duration.js';
import { BlastwallError } from '../core/errors.js';
import { configError, fnOption, isPlainObject, objectOption } from '../core/validate.js';
import { storeOption, wholeMs } from '../stores/options.js';
import type { Incarnation, IntegrityStore, StoredResponse, VersionedWrite } from '../stores/types.js';
import { Work } from './work.js';

/** Options of {@link Idempotency} / {@link createIdempotency}. Durations are milliseconds or strings such as `'30s'`. */
export interface IdempotencyOptions {
  /** Where the keys, leases and stored results live; use a shared store (SQLite file, Redis, PostgreSQL) when several processes serve the same keys. */
  store: IntegrityStore;
  /** The time source for leases, renewals and expiry (default: the real clock; a `FakeClock` in tests). */
  clock?: Clock;
  /** How long an execution owns its key without renewing (default 30s, at least 100ms; renewed every third of it while running). */
  lease?: Duration;
  /** How long a completed result is kept for replay (default 24h, at least 1s and at least `lease`); after it the key is new again. */
  ttl?: Duration;
  /**
   * Longest an execution keeps renewing its lease (default 5m): a handler that hangs past it stops
   * renewing, and its key is usable again one lease later (nothing it records will commit).
   */
  maxRun?: Duration;
  /** Called after a commit with the versioned writes of the execution's `Work` that were stale (not newer than the stored version, so not applied). */
  onStale?: (writes: VersionedWrite[]) => void;
  /**
   * This process's identity, stable across its restarts and unique among live processes (a StatefulSet
   * pod name, `host-1:worker-2`). Default: the `BLASTWALL_INSTANCE` environment variable, else none.
   * With one, a restart releases the keys its crashed predecessor left in flight, instead of leaving them
   * blocked until their lease runs out. Two live processes must never share one.
   */
  instance?: string;
}

/**
 * The outcome of {@link Idempotency.run}: `executed` (the function ran now and its response and work
 * were committed), `replayed` (an earlier execution's stored response), `in-flight` (another execution
 * holds the key; retry after `retryAfterMs`, the rest of its lease), `mismatch` (the key was used with a
 * different fingerprint) or `lease-lost`.
 */
export type RunResult =
  | { kind: 'executed'; response: StoredResponse }
  | { kind: 'replayed'; response: StoredResponse; completedAt: number }
  | { kind: 'in-flight'; retryAfterMs: number }
  | { kind: 'mismatch' }
  /** The lease ran out before the result committed (nothing was committed; another execution may own the key). */
  | { kind: 'lease-lost' };

/** SHA-256 of a canonical JSON form (object keys sorted): the payload fingerprint. */
export function fingerprint(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('base64url');
}

export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (isPlainObject(v)) {
    return `{${Object.keys(v)
      .sort()
      .filter((k) => v[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k])}`)
      .join(',')}}`;
  }
  if (v instanceof Uint8Array) return JSON.stringify(Buffer.from(v).toString('base64'));
  return JSON.stringify(v) ?? 'null';
}

/**
 * Idempotency keys on an {@link IntegrityStore}: the first execution of a key runs and its result is
 * committed atomically with what it recorded on its {@link Work}; a later call with the same key gets the
 * stored result for `ttl`; the same key with another payload, or while the first execution still runs,
 * is refused. Across processes sharing the store only the current holder of a key's lease can commit,
 * so a key's result is committed at most once: an execution that lost its lease (it stalled past it, or
 * its process died and another took the key over) commits nothing. Code outside `Work` (e.g. a call to a
 * payment provider) can still run twice after a takeover, so pass the key on to it where it accepts one.
 *
 * Use {@link Idempotency.execute} for jobs and message handlers, the HTTP adapters (`idempotentNode`,
 * `IdempotentHttp`) for `Idempotency-Key` requests. Create it with {@link createIdempotency}.
 */
export class Idempotency {
  /** The store the keys live on. */
  readonly store: IntegrityStore;
  /** The lease length in milliseconds (from `lease`). */
  readonly leaseMs: number;
  /** How long a completed result is kept, in milliseconds (from `ttl`). */
  readonly ttlMs: number;
  /** Longest an execution keeps renewing its lease, in milliseconds (from `maxRun`). */
  readonly maxRunMs: number;
  private readonly clock: Clock;
  /** The clock in whole milliseconds, the stores' unit. */
  private readonly now: () => number;
  private readonly onStale: ((w: VersionedWrite[]) => void) | undefined;
  /** This process's identity (see IdempotencyOptions.instance). */
  readonly instance: string | undefined;
  private incarnation: Promise<Incarnation> | undefined;
  /** Counters since start. */
  readonly stats = { executed: 0, replayed: 0, inFlight: 0, mismatched: 0, leaseLost: 0, failed: 0, staleWrites: 0 };

  constructor(options: IdempotencyOptions) {
    const o = objectOption('idempotency', options, ['store', 'clock', 'lease', 'ttl', 'maxRun', 'onStale', 'instance']);
    this.store = storeOption(o.store);
    this.clock = (o.clock as Clock | undefined) ?? realClock;
    this.now = wholeMs(this.clock);
    this.leaseMs = durationOption('lease', o.lease ?? '30s', 100);
    this.ttlMs = durationOption('ttl', o.ttl ?? '24h', 1000);
    if (this.ttlMs < this.leaseMs) throw configError('ttl', `a duration ≥ lease (${this.leaseMs}ms)`, o.ttl);
    this.maxRunMs = durationOption('maxRun', o.maxRun ?? '5m', this.leaseMs);
    this.onStale = o.onStale === undefined ? undefined : fnOption('onStale', o.onStale);
    const instance = o.instance ?? process.env.BLASTWALL_INSTANCE;
    if (instance !== undefined && (typeof instance !== 'string' || !/^\S{1,200}$/u.test(instance))) {
      throw configError(o.instance === undefined ? 'instance (BLASTWALL_INSTANCE)' : 'instance', 'a name of 1–200 characters without spaces, such as a pod name', instance);
    }
    this.instance = instance;
    // start the new incarnation now, so the predecessor's keys are free before the first request comes
    if (this.instance !== undefined) this.owner().catch(() => undefined);
  }

  /** This run's incarnation: registered once (again after a failure, e.g. the store was down). */
  private owner(): Promise<Incarnation> {
    const instance = this.instance!;
    this.incarnation ??= this.store.register(instance, this.now()).then(
      (r) => ({ instance, epoch: r.epoch }),
      (err: unknown) => {
        this.incarnation = undefined;
        throw err;
      },
    );
    return this.incarnation;
  }

  /**
   * Runs `fn` at most once per `key` (already scoped by the caller's identity) and fingerprint, storing its
   * response atomically with everything it recorded on `work`. Throwing from `fn` releases the key: nothing
   * was committed, so a retry runs again.
   */
  async run(key: string, fp: string, fn: (work: Work) => Promise<StoredResponse> | StoredResponse): Promise<RunResult> {
    const token = randomUUID();
    const owner = this.instance === undefined ? undefined : await this.owner();
    const claim = await this.store.claim({ key, fingerprint: fp, token, now: this.now(), leaseMs: this.leaseMs, ...(owner && { owner }) });
    switch (claim.state) {
      case 'completed':
        this.stats.replayed++;
        return { kind: 'replayed', response: claim.response, completedAt: claim.completedAt };
      case 'mismatch':
        this.stats.mismatched++;
        return { kind: 'mismatch' };
      case 'in-flight':
        this.stats.inFlight++;
        return { kind: 'in-flight', retryAfterMs: Math.max(0, claim.leaseUntil - this.now()) };
      case 'claimed':
        break;
    }
    const ac = new AbortController();
    const work = new Work(ac.signal);
    const heartbeat = this.heartbeat(key, token, ac);
    let response: StoredResponse;
    try {
      response = await fn(work);
    } catch (err) {
      heartbeat.stop();
      this.stats.failed++;
      await this.store.release(key, token).catch(() => undefined); // the lease runs out anyway
      throw err;
    }
    heartbeat.stop();
    const now = this.now();
    const r = await this.store.commit(work.toUnit(now, { complete: { key, token, response, expiresAt: now + this.ttlMs } }));
    if (!r.ok) {
      this.stats.leaseLost++;
      return { kind: 'lease-lost' };
    }
    if (r.stale.length > 0) {
      this.stats.staleWrites += r.stale.length;
      this.onStale?.(r.stale);
    }
    this.stats.executed++;
    return { kind: 'executed', response };
  }

  /**
   * The function form for jobs and message handlers: `value` is JSON-stored and replayed. In-flight and
   * mismatched keys throw `CONFLICT` (details.reason `in-flight` | `mismatch` | `lease-lost`).
   */
  async execute<T>(
    request: { key: string; scope?: string; payload?: unknown },
    fn: (work: Work) => Promise<T> | T,
  ): Promise<{ replayed: boolean; value: T }> {
    if (typeof request.key !== 'string' || request.key.length === 0) throw configError('key', 'a non-empty string', request.key);
    const key = scopedKey(request.scope ?? '', request.key);
    const r = await this.run(key, fingerprint(request.payload ?? null), async (work) => {
      const value = await fn(work);
      return { status: 200, headers: {}, body: JSON.stringify(value === undefined ? null : value) };
    });
    if (r.kind === 'executed' || r.kind === 'replayed') return { replayed: r.kind === 'replayed', value: JSON.parse(r.response.body) as T };
    const reason = r.kind;
    throw new BlastwallError(
      'CONFLICT',
      reason === 'mismatch'
        ? `Idempotency key "${request.key}" was already used with a different payload`
        : reason === 'in-flight'
          ? `Idempotency key "${request.key}" is being processed; retry after ${r.retryAfterMs}ms`
          : `Idempotency key "${request.key}": the lease ran out before the result was committed; nothing was committed`,
      { retryable: reason !== 'mismatch', retryAfterMs: reason === 'in-flight' ? r.retryAfterMs : undefined, details: { reason } },
    );
  }

  /** Renews the lease every third of it while the execution runs; aborts `work.signal` when the lease is lost. */
  private heartbeat(key: string, token: string, ac: AbortController): { stop(): void } {
    let handle: ReturnType<Clock['setTimer']> | undefined;
    let stopped = false;
    const every = Math.max(1, Math.floor(this.leaseMs / 3));
    const giveUpAt = this.clock.now() + this.maxRunMs;
    const tick = (): void => {
      handle = undefined;
      if (this.clock.now() >= giveUpAt) return; // a hung handler: let the lease run out
      this.store
        .renew(key, token, this.now(), this.leaseMs)
        .then((held) => {
          if (!held) ac.abort(new BlastwallError('CONFLICT', 'the idempotency lease was lost', { details: { reason: 'lease-lost' } }));
          else if (!stopped) arm();
        })
        .catch(() => {
          if (!stopped) arm(); // store unreachable: keep trying until the lease runs out
        });
    };
    const arm = (): void => {
      handle = this.clock.setTimer(tick, every);
      this.clock.refTimer?.(handle, false);
    };
    arm();
    return {
      stop: () => {
        stopped = true;
        if (handle !== undefined) this.clock.clearTimer(handle);
        handle = undefined;
      },
    };
  }
}

/** Keys are scoped by caller identity: the same client key from two callers are two keys. */
export function scopedKey(scope: string, key: string): string {
  return `${scope.length}:${scope}:${key}`;
}

/**
 * Creates an idempotency guard on a store (`new Idempotency(options)` does the same). Throws
 * CONFIG_INVALID for a missing store or out-of-range durations. With an `instance`, it registers the
 * new incarnation with the store at once, so keys a crashed predecessor left in flight are released.
 *
 * @example
 * ```ts
 * import { createIdempotency } from 'blastwall';
 * import { createSqliteStore } from 'blastwall/stores/sqlite';
 *
 * const idempotency = createIdempotency({ store: createSqliteStore('.blastwall/integrity.db'), lease: '30s', ttl: '24h' });
 * // the same key and payload run once; a retry gets the stored value (replayed: true)
 * const { replayed, value } = await idempotency.execute({ key: 'charge-o-1', scope: 'acct-7', payload: { cents: 500 } }, (work) => {
 *   work.effect('charges', 'o-1', { cents: 500 });
 *   return { chargeId: 'ch-1' };
 * });
 * ```
 */
export function createIdempotency(options: IdempotencyOptions): Idempotency {
  return new Idempotency(options);
}
