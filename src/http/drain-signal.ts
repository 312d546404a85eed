/**
 * Drain on a signal: `drainOnSignal(wall, { servers: [server] })` — on SIGTERM (and SIGINT) the servers stop
 * accepting connections, idle keep-alive connections close, the wall drains (new requests on open
 * connections get 503 with Retry-After; requests in flight finish within the deadline), then the servers
 * close and the process exits (0 when everything finished, 1 otherwise).
 */
import type { Server } from 'node:http';
import { Server as NetServer } from 'node:net';
import { durationOption, type Duration } from '../core/duration.js';
import type { DrainReport } from '../wall/drain.js';
import type { Wall } from '../wall/wall.js';

/** Options of {@link drainOnSignal}. */
export interface DrainOnSignalOptions {
  /** HTTP servers to stop accepting and close. Default none (only the wall drains). */
  servers?: readonly Server[];
  /**
   * Longest the drain may take: a duration (`'30s'`, `'500ms'`, or a number of milliseconds, 0 to about
   * 24.8 days). Requests still running when it passes count as unfinished (exit code 1). Default `'30s'`.
   */
  deadline?: Duration;
  /** Signals that start the drain. Default SIGTERM and SIGINT. */
  signals?: readonly NodeJS.Signals[];
  /** Exit the process when done (default true); otherwise only `onDrained` is called. */
  exit?: boolean;
  /** Receives the report (default: one line on stderr). */
  onDrained?: (report: DrainReport) => void;
}

/** Installs the signal handlers; returns a function that removes them. */
export function drainOnSignal(wall: Wall, options: DrainOnSignalOptions = {}): () => void {
  const deadlineMs = durationOption('drainOnSignal.deadline', options.deadline ?? '30s', 0, 2 ** 31 - 1);
  const signals = options.signals ?? ['SIGTERM', 'SIGINT'];
  const servers = options.servers ?? [];
  let started = false;
  const onSignal = (): void => {
    if (started) return;
    started = true;
    for (const s of servers) {
      // stop listening without http.Server.close()'s closing of "idle" connections: a connection whose
      // request is still being read or queued counts as idle there and would be reset mid-request
      NetServer.prototype.close.call(s);
    }
    void wall.drain({ deadline: deadlineMs }).then(
      (report) => {
        for (const s of servers) s.closeAllConnections();
        (options.onDrained ?? ((r) => process.stderr.write(`blastwall: drained: ${JSON.stringify(r)}\n`)))(report);
        if (options.exit !== false) process.exit(report.unfinished === 0 ? 0 : 1);
      },
      (err: unknown) => {
        process.stderr.write(`blastwall: drain failed: ${String(err)}\n`);
        if (options.exit !== false) process.exit(1);
      },
    );
  };
  for (const sig of signals) process.on(sig, onSignal);
  return () => {
    for (const sig of signals) process.off(sig, onSignal);
  };
}
