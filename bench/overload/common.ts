/** Shared by the overload benchmark's processes. */

/**
 * Arms: no protection, cockatiel (bulkhead / retry / breaker), @fastify/under-pressure (event-loop delay and
 * utilisation limits, critical routes exempt), overload-protection (event-loop delay), blastwall.
 */
export type Arm = 'none' | 'cockatiel' | 'under-pressure' | 'overload-protection' | 'blastwall';
export const ARMS: Arm[] = ['none', 'cockatiel', 'under-pressure', 'overload-protection', 'blastwall'];
/** Arms of the failing, chain and metastable scenarios (HTTP-client behaviour; the Node peers have none). */
export const CLIENT_ARMS: Arm[] = ['none', 'cockatiel', 'blastwall'];
export type Prio = 'critical-plus' | 'critical' | 'sheddable-plus' | 'sheddable';
export const PRIOS: Prio[] = ['critical-plus', 'critical', 'sheddable-plus', 'sheddable'];
/** What saturates: 4 slots × 40 ms of waiting (a pool), or 5 ms of CPU per request on the event loop. */
export type ServiceKind = 'slot' | 'cpu';
export const SERVICES: ServiceKind[] = ['slot', 'cpu'];

/** Messages from the orchestrator to the services process. */
export interface ServicesConfig {
  arm: Arm;
  scenario: 'capacity' | 'overload' | 'failing' | 'chain' | 'metastable';
  service: ServiceKind;
  slots: number;
  workMs: number;
  /** CPU-bound service: milliseconds of CPU burnt on the event loop per request. */
  cpuMs: number;
  /** Metastable: wall-clock ms at which the resource slows down, for how long, and by what factor. */
  trigger?: { at: number; durationMs: number; factor: number };
  /** Failing/chain, blastwall arm: the circuit breaker off, to show the retry budget and the don't-retry signal alone. */
  breaker?: boolean;
}

/** What the services process measured, every 100 ms, while serving. */
export interface ServiceStats {
  /** Requests received: organic at the entry, attempts at the deepest dependency, and per proxy service. */
  counts: { organic: number; deepest: number; served?: number; skipped?: number; inbound?: Record<string, number> };
  /** Per 100 ms bucket: the process's CPU share (0..1; user + system over wall time). */
  cpu: number[];
  /** Per bucket: requests refused (503) by the service. */
  refused: number[];
  /** Per bucket: critical-class requests refused by the service. */
  criticalRefused: number[];
  /**
   * Where requests spent their time in the service (ms, mean and p99 per phase, critical and sheddable):
   * `wire` from the generator's send to the request listener (socket buffers and the HTTP parser's backlog),
   * `gate` from the listener to the handler (admission), `work` the handler until the response finished.
   */
  phases?: Record<string, { n: number; mean: number; p99: number }>;
  /** Blastwall arm: admission level changes during the run. */
  levelChanges?: number;
  /** The counts when the load's warm-up ended (failing and chain scenarios: the figures are the increase after it). */
  marked?: ServiceStats['counts'];
}

export interface LoadConfig {
  arm: Arm;
  url: string;
  /** Requests per second for each class. */
  rates: Record<Prio, number>;
  durationMs: number;
  deadlineMs: number;
  /** Client retries (metastable): naive (none arm), cockatiel, or blastwall (wall dependency). */
  clientRetry: boolean;
  /** Wall-clock start (ms) shared with the services process. */
  epoch: number;
  /** Send at the same rates for this long first, without counting (a warm service; overload scenario). */
  warmupMs?: number;
  /** Closed-loop concurrency instead of open-loop rates (capacity measurement). */
  closedLoop?: number;
}

export interface ClassResult {
  sent: number;
  /** Answered 200 within the deadline. */
  good: number;
  /** Answered fast with a refusal (503/429). */
  refused: number;
  /** Attempts made (with client retries). */
  attempts: number;
  /** Failures by HTTP status, `timeout`, `late` (200 after the deadline) or `error`. */
  failures: Record<string, number>;
}

/** Header the generator sets: when it sent the request (ms since the epoch, fractional; the services time their phases from it). */
export const SENT_HEADER = 'x-bench-sent';

export interface LoadResult {
  /** The generator's own CPU share over the run, and how late it sent requests after their due time (ms). */
  generator?: { cpuShare: number; lateP50Ms: number; lateP99Ms: number; lateMaxMs: number };
  classes: Record<Prio, ClassResult>;
  /** Good answers per second of the run (by completion time). */
  goodPerSecond: number[];
  p99GoodMs: number;
  elapsedMs: number;
}

/**
 * The fixed-capacity resource behind the service: `slots` units, each busy `workMs` per request, FIFO
 * queue in front. Capacity C ≈ slots × 1000 / workMs requests per second. `factor` slows it (metastable
 * trigger). `startBy` (absolute ms, wall clock) skips work whose deadline passed while queued.
 */
export class Resource {
  private busy = 0;
  private readonly queue: { resolve: (started: boolean) => void; startBy: number }[] = [];
  factor = 1;
  served = 0;
  skipped = 0;

  constructor(
    readonly slots: number,
    readonly workMs: number,
  ) {}

  get queued(): number {
    return this.queue.length;
  }

  /** Resolves true when the work was done, false when it was skipped (deadline passed before it started). */
  use(startBy = Number.POSITIVE_INFINITY): Promise<boolean> {
    if (this.busy < this.slots) {
      this.busy++;
      return this.run();
    }
    return new Promise<boolean>((resolve) => this.queue.push({ resolve, startBy })).then((go) => (go ? this.run() : false));
  }

  /** Works one request on a slot already taken. */
  private run(): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      setTimeout(() => {
        this.busy--;
        this.served++;
        this.next();
        resolve(true);
      }, this.workMs * this.factor);
    });
  }

  private next(): void {
    while (this.busy < this.slots && this.queue.length > 0) {
      const w = this.queue.shift()!;
      if (Date.now() > w.startBy) {
        this.skipped++;
        w.resolve(false);
        continue;
      }
      this.busy++; // the slot is taken now, the waiter runs on it
      w.resolve(true);
    }
  }
}

export function emptyClasses(): Record<Prio, ClassResult> {
  return Object.fromEntries(PRIOS.map((p) => [p, { sent: 0, good: 0, refused: 0, attempts: 0, failures: {} }])) as Record<Prio, ClassResult>;
}
