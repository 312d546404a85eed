/**
 * Waiting for something outside this process's timers — a socket's bytes, a child process's line, a server
 * noticing a closed connection — without sleeping: each check yields one turn of the event loop (I/O
 * included, via setImmediate), so the wait is driven by the events themselves. Bounded by `turns`.
 */
export async function untilTurns(cond: () => boolean, what: string, turns = 200_000): Promise<void> {
  for (let i = 0; i < turns; i++) {
    if (cond()) return;
    await new Promise<void>((r) => setImmediate(r));
  }
  if (!cond()) throw new Error(`gave up waiting for ${what} after ${turns} event-loop turns`);
}

/**
 * The same for a condition read asynchronously (an HTTP request, a store ping): each attempt awaits the
 * probe's own I/O, then yields one turn; bounded by `attempts`.
 */
export async function untilAsync<T>(probe: () => Promise<T>, ok: (v: T) => boolean, what: string, attempts = 100_000): Promise<T> {
  for (let i = 0; i < attempts; i++) {
    const v = await probe();
    if (ok(v)) return v;
    await new Promise<void>((r) => setImmediate(r));
  }
  throw new Error(`gave up waiting for ${what} after ${attempts} attempts`);
}
