/**
 * The two kinds of drill target behind one interface: an in-process app (its wall read directly: events,
 * attempts at each dependency's slot) and a running service by URL (load over HTTP, faults through its admin
 * route, health polled from its health path).
 */
import type { Clock } from '../core/clock.js';
import type { Drill, DrillApp, DrillEnv, DrillRequest, HttpOperation } from './drill.js';

export interface InjectedWindow {
  startedAt: number;
  /** Resolves with the end time when the injection ends by itself or is stopped. */
  ended: Promise<number>;
  stats(): { hits: number; attempts: number };
}

export interface HealthSample {
  status: string;
  mode: string;
  dependencies: Record<string, { state: string; p99: number }>;
}

export interface TargetHandle {
  readonly dependencies: readonly string[];
  readonly operations: readonly string[];
  readonly objectives: Record<string, number>;
  readonly app: unknown;
  send(req: DrillRequest): Promise<unknown>;
  inject(f: Drill['faults'][number], forMs: number): Promise<InjectedWindow>;
  clearFaults(): Promise<void>;
  health(): Promise<HealthSample>;
  /** Subscribes to state transitions (in-process only); returns a disposer. */
  watch(on: (series: string, at: number, to: string, detail?: string) => void): () => void;
  /** Starts counting attempts per dependency; the returned function reads attempts and calls since. */
  countAttempts(): () => Record<string, { attempts: number; calls: number }>;
  close(): Promise<void>;
}

export async function openInProcess(factory: (env: DrillEnv) => DrillApp | Promise<DrillApp>, env: DrillEnv): Promise<TargetHandle> {
  const app = await factory(env);
  if (app === null || typeof app !== 'object' || typeof app.wall?.health !== 'function' || typeof app.operations !== 'object') {
    throw new TypeError('The drill target factory must return { wall, operations, close? }');
  }
  const wall = app.wall;
  if (!wall.faults?.enabled) {
    throw new TypeError("The target's wall has faults off: create it with createWall({ ...env.wallOptions }) (that sets faults: true)");
  }
  const deps = wall.dependencies();
  const objectives = Object.fromEntries(deps.map((d) => [d.name, d.objective.p99Ms]));
  return {
    dependencies: deps.map((d) => d.name),
    operations: Object.keys(app.operations),
    objectives,
    app,
    send: (req) => {
      const fn = app.operations[req.operation]!;
      try {
        return Promise.resolve(fn(req));
      } catch (err) {
        return Promise.reject(err);
      }
    },
    inject: (f, forMs) => {
      const h = wall.faults.inject(f.dependency, f.fault, {
        for: forMs,
        ...(f.rate === undefined ? {} : { rate: f.rate }),
        ...(f.seed === undefined ? {} : { seed: f.seed }),
        ...(f.operations === undefined ? {} : { operations: f.operations }),
      });
      return Promise.resolve({
        startedAt: h.startedAt,
        ended: h.ended.then(() => env.clock.now()),
        stats: () => ({ hits: h.hits, attempts: h.attempts }),
      });
    },
    clearFaults: () => {
      wall.faults.clear();
      return Promise.resolve();
    },
    health: () => {
      const h = wall.health();
      const dependencies: HealthSample['dependencies'] = {};
      for (const [n, d] of Object.entries(h.dependencies)) dependencies[n] = { state: d.state, p99: d.signals.p99 };
      return Promise.resolve({ status: h.status, mode: h.mode, dependencies });
    },
    watch: (on) =>
      wall.onEvent((ev) => {
        const e = ev as Record<string, unknown>;
        const at = e.at as number;
        if (e.type === 'mode') on('mode', at, String(e.to), String(e.reason ?? ''));
        else if (e.type === 'status') on('status', at, String(e.to), String(e.reason ?? ''));
        else if (e.type === 'health') on(`dep:${String(e.dependency)}`, at, String(e.to), String(e.reason ?? ''));
        else if (e.type === 'drift' && typeof e.dependency === 'string') on(`drift:${e.dependency}`, at, String(e.state), `${String(e.signal)} ${fmt(e.baseline)} → ${fmt(e.level)}`);
      }),
    countAttempts: () => {
      const observers = deps.map((d) => ({ name: d.name, obs: wall.faults.observe(d.name), base: d.counters.calls, dep: d }));
      return () => {
        const out: Record<string, { attempts: number; calls: number }> = {};
        for (const o of observers) {
          out[o.name] = { attempts: o.obs.attempts, calls: o.dep.counters.calls - o.base };
          o.obs.dispose();
        }
        return out;
      };
    },
    close: async () => {
      wall.faults.clear();
      await app.close?.();
    },
  };
}

const fmt = (x: unknown) => (typeof x === 'number' && Number.isFinite(x) ? (Math.abs(x) >= 10 ? x.toFixed(0) : x.toPrecision(2)) : String(x));

/** A running service by URL: its fault admin route must be on (`faultsHandler`). */
export async function openUrl(
  target: { url: string; token: string; operations: Record<string, HttpOperation>; faultsPath?: string; healthPath?: string },
  clock: Clock,
): Promise<TargetHandle> {
  const base = target.url.replace(/\/$/, '');
  const faultsUrl = base + (target.faultsPath ?? '/_blastwall/faults');
  const healthUrl = base + (target.healthPath ?? '/healthz');
  const auth = { authorization: `Bearer ${target.token}` };
  const readHealth = async (): Promise<{ status: string; mode: string; dependencies: Record<string, { state: string; signals?: { p99?: number } }> }> => {
    const res = await fetch(healthUrl, { signal: AbortSignal.timeout(2000) });
    return (await res.json()) as never;
  };
  const first = await readHealth().catch((err: unknown) => {
    throw new Error(`The target at ${base} did not answer its health path ${healthUrl}: ${err instanceof Error ? err.message : String(err)}`);
  });
  const probe = await fetch(faultsUrl, { headers: auth, signal: AbortSignal.timeout(2000) });
  await probe.body?.cancel();
  if (probe.status !== 200) throw new Error(`The target's fault admin route ${faultsUrl} answered ${probe.status}: is it enabled (faults on) and is the token right?`);
  const windows: { id: number; stats: { hits: number; attempts: number } }[] = [];
  return {
    dependencies: Object.keys(first.dependencies ?? {}),
    operations: Object.keys(target.operations),
    objectives: {},
    app: undefined,
    send: async (req) => {
      const op = target.operations[req.operation]!;
      const res = await fetch(base + op.path, {
        method: op.method ?? 'GET',
        headers: { 'blastwall-priority': req.priority, ...(op.body === undefined ? {} : { 'content-type': 'application/json' }), ...op.headers },
        ...(op.body === undefined ? {} : { body: JSON.stringify(op.body) }),
        signal: AbortSignal.timeout(30_000),
      });
      await res.body?.cancel();
      if (res.status >= 400) throw Object.assign(new Error(`HTTP ${res.status}`), { code: `HTTP_${res.status}` });
      return res.status;
    },
    inject: async (f, forMs) => {
      const res = await fetch(faultsUrl, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ dependency: f.dependency, fault: f.fault, options: { for: forMs, rate: f.rate, seed: f.seed, operations: f.operations } }),
      });
      const body = (await res.json()) as { id?: number; message?: string };
      if (res.status !== 201 || typeof body.id !== 'number') throw new Error(`The target refused the fault on ${f.dependency}: ${res.status} ${body.message ?? ''}`);
      const w = { id: body.id, stats: { hits: 0, attempts: 0 } };
      windows.push(w);
      const startedAt = clock.now();
      return { startedAt, ended: Promise.resolve(startedAt + forMs), stats: () => w.stats };
    },
    clearFaults: async () => {
      const res = await fetch(faultsUrl, { method: 'DELETE', headers: auth });
      await res.body?.cancel();
    },
    health: async () => {
      const h = await readHealth();
      const dependencies: HealthSample['dependencies'] = {};
      for (const [n, d] of Object.entries(h.dependencies ?? {})) dependencies[n] = { state: d.state, p99: d.signals?.p99 ?? 0 };
      return { status: h.status, mode: h.mode, dependencies };
    },
    watch: () => () => undefined,
    countAttempts: () => () => ({}),
    close: async () => {
      const res = await fetch(faultsUrl, { method: 'DELETE', headers: auth }).catch(() => undefined);
      await res?.body?.cancel();
    },
  };
}
