/**
 * Open-loop load generator, in its own process (forked by run.ts). Sends each class at a fixed rate for
 * a bounded time whatever the answers, and counts goodput: 200 answers within the client's deadline.
 */
import { Agent, request } from 'node:http';
import { ExponentialBackoff, handleAll, retry, timeout, TimeoutStrategy, wrap } from 'cockatiel';
import { createWall } from '../../src/wall/wall.js';
import { createFetch } from '../../src/http/fetch.js';
import { DEADLINE_HEADER } from '../../src/http/headers.js';
import { type ClassResult, emptyClasses, type LoadConfig, type LoadResult, PRIOS, type Prio, SENT_HEADER } from './common.js';

/** Requests still in flight above this are counted as failed without being sent (bounds the generator). */
const MAX_OUTSTANDING = 3000;
/** Send time in a header, for the services' phase timings (OVERLOAD_PHASES=1). */
const PHASES = process.env.OVERLOAD_PHASES === '1';
const agent = new Agent({ keepAlive: true, maxSockets: MAX_OUTSTANDING });

async function run(cfg: LoadConfig): Promise<LoadResult> {
  const classes = emptyClasses();
  const seconds = Math.ceil(cfg.durationMs / 1000) + Math.ceil(cfg.deadlineMs / 1000) + 1;
  const goodPerSecond = new Array<number>(seconds).fill(0);
  const goodLatencies: number[] = [];
  let outstanding = 0;

  const attemptOnce = (url: string, budgetMs: number, r: ClassResult, signal?: AbortSignal): Promise<void> => {
    r.attempts++;
    // node:http with a keep-alive agent, not fetch: fetch cost the generator about 1 ms of CPU per request
    // (0.6 of a core at 700 req/s on the 2-core machine), node:http about half that
    return new Promise<void>((resolve, reject) => {
      const headers: Record<string, string> = { [DEADLINE_HEADER]: String(Math.max(1, Math.floor(budgetMs))) };
      if (PHASES) headers[SENT_HEADER] = String(performance.timeOrigin + performance.now());
      const req = request(url, { agent, headers }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => {
          clearTimeout(timer);
          if (res.statusCode === 200) return resolve();
          // blastwall answers say why (e.g. "Shed critical work: waited 130ms, over the 100ms queue limit")
          const why = /"message":"[^":]*: ([^"]*)/.exec(text)?.[1]?.replace(/\d+/g, 'N');
          reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode, why }));
        });
        res.on('error', () => undefined);
      });
      const abort = (): void => {
        req.destroy(Object.assign(new Error('timeout'), { name: 'TimeoutError' }));
      };
      // past the budget the request is abandoned (its socket closed), as fetch's AbortSignal.timeout did
      const timer = setTimeout(abort, budgetMs);
      signal?.addEventListener('abort', abort, { once: true });
      req.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      req.end();
    });
  };

  // per-arm client behaviour when clients retry (metastable scenario)
  const peerPolicy = wrap(
    retry(handleAll, { maxAttempts: 2, backoff: new ExponentialBackoff({ initialDelay: 50, maxDelay: 500 }) }),
    timeout(cfg.deadlineMs, TimeoutStrategy.Aggressive),
  );
  const wall = cfg.arm === 'blastwall' && cfg.clientRetry ? createWall({ service: 'client' }) : undefined;
  // per-attempt timeout 400 ms within the 1 s deadline, so a retry can still fit (the default 10 s never would)
  const dep = wall?.dependency('service', { timeout: '400ms', retry: { attempts: 3 }, breaker: false });
  const ops = wall === undefined ? undefined : Object.fromEntries(PRIOS.map((p) => [p, wall.operation(p, { priority: p, deadline: cfg.deadlineMs })]));
  const bwFetch = createFetch();

  const one = async (prio: Prio, due: number): Promise<void> => {
    const r = classes[prio];
    const url = `${cfg.url}/work/${prio}`;
    // the client's deadline counts from the request's due time (a generator running late does not extend it)
    if (!cfg.clientRetry) return attemptOnce(url, Math.max(1, Math.floor(cfg.deadlineMs - (Date.now() - due))), r);
    if (cfg.arm === 'none') {
      // naive client: three attempts back to back, each with a fresh timeout
      let last: unknown;
      for (let i = 0; i < 3; i++) {
        try {
          return await attemptOnce(url, cfg.deadlineMs, r);
        } catch (e) {
          last = e;
        }
      }
      throw last;
    }
    if (cfg.arm === 'cockatiel') return peerPolicy.execute(({ signal }) => attemptOnce(url, cfg.deadlineMs, r, signal));
    return ops![prio]!.run(() =>
      dep!.call(async () => {
        r.attempts++;
        const res = await bwFetch(url);
        await res.arrayBuffer();
      }),
    );
  };

  const t0 = Date.now();
  const cpu0 = process.cpuUsage();
  const late: number[] = [];
  // requests due during the warm-up are sent at the same rates but not counted: the figures are those of a
  // warm service in steady overload, not of a fresh process's first JIT seconds
  const warmup = cfg.warmupMs ?? 0;
  const measureFrom = t0 + warmup;
  const uncounted = emptyClasses();
  const fire = (prio: Prio, due: number): void => {
    const counted = due >= measureFrom;
    const r = counted ? classes[prio] : uncounted[prio];
    r.sent++;
    if (counted) late.push(Date.now() - due);
    if (outstanding >= MAX_OUTSTANDING) return;
    outstanding++;
    const start = due;
    one(prio, due).then(
      () => {
        outstanding--;
        const end = Date.now();
        if (end - start > cfg.deadlineMs) r.failures.late = (r.failures.late ?? 0) + 1;
        else if (counted) {
          r.good++;
          goodLatencies.push(end - start);
          const s = Math.floor((end - measureFrom) / 1000);
          if (s >= 0 && s < goodPerSecond.length) goodPerSecond[s]!++;
        }
      },
      (e: unknown) => {
        outstanding--;
        const status = (e as { status?: number }).status ?? (e as { details?: { status?: number } }).details?.status;
        if ((status === 503 || status === 429) && Date.now() - start < 100) r.refused++;
        const name = (e as { name?: string }).name;
        const why = (e as { why?: string }).why;
        const key = status !== undefined ? `${status}${why === undefined ? '' : ` (${why})`}` : name === 'TimeoutError' || name === 'AbortError' ? 'timeout' : ((e as { code?: string }).code ?? 'error');
        r.failures[key] = (r.failures[key] ?? 0) + 1;
      },
    );
  };

  if (cfg.closedLoop !== undefined) {
    const end = t0 + cfg.durationMs;
    await Promise.all(
      Array.from({ length: cfg.closedLoop }, async () => {
        while (Date.now() < end) {
          const r = classes.critical;
          r.sent++;
          try {
            await attemptOnce(`${cfg.url}/work/critical`, 10_000, r);
            r.good++;
          } catch {
            /* counted as not good */
          }
        }
      }),
    );
  } else {
    const sentAt = Object.fromEntries(PRIOS.map((p) => [p, 0])) as Record<Prio, number>;
    await new Promise<void>((resolve) => {
      const tick = setInterval(() => {
        const elapsed = Math.min(Date.now() - t0, warmup + cfg.durationMs);
        for (const p of PRIOS) {
          const due = Math.floor((elapsed / 1000) * cfg.rates[p]);
          while (sentAt[p] < due) {
            sentAt[p]++;
            fire(p, t0 + (sentAt[p] / cfg.rates[p]) * 1000);
          }
        }
        if (Date.now() - t0 >= warmup + cfg.durationMs) {
          clearInterval(tick);
          resolve();
        }
      }, 2);
    });
    // let the last requests finish (bounded by the deadline)
    const stop = Date.now() + cfg.deadlineMs * 3 + 500;
    while (outstanding > 0 && Date.now() < stop) await new Promise((r) => setTimeout(r, 20));
  }
  await wall?.close();
  goodLatencies.sort((a, b) => a - b);
  late.sort((a, b) => a - b);
  const cpu = process.cpuUsage(cpu0);
  const q = (xs: number[], f: number) => (xs.length === 0 ? 0 : xs[Math.min(xs.length - 1, Math.floor(xs.length * f))]!);
  return {
    generator: { cpuShare: (cpu.user + cpu.system) / 1000 / Math.max(1, Date.now() - t0), lateP50Ms: q(late, 0.5), lateP99Ms: q(late, 0.99), lateMaxMs: q(late, 1) },
    classes,
    goodPerSecond,
    p99GoodMs: goodLatencies.length === 0 ? 0 : goodLatencies[Math.min(goodLatencies.length - 1, Math.floor(goodLatencies.length * 0.99))]!,
    elapsedMs: Date.now() - measureFrom,
  };
}

process.once('message', (cfg: LoadConfig) => {
  const wait = Math.max(0, cfg.epoch - Date.now());
  setTimeout(() => {
    void run(cfg).then((result) => process.send?.(result, () => process.exit(0)));
  }, wait);
});
