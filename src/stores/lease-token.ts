/**
 * Lease tokens of queue messages: a token names the message and its delivery count, so a redelivery
 * invalidates the leases of earlier deliveries (a stale consumer's commit is refused).
 */

/** A queue message's lease token: its id and delivery count, so a redelivery invalidates older leases. */
export function leaseToken(id: string, attempts: number): string {
  return `${id}#${attempts}`;
}

/** The delivery count a lease token names for message `id` (-1 when it names another message or none). */
export function tokenAttempts(id: string, token: string): number {
  const hash = token.lastIndexOf('#');
  if (hash === -1 || token.slice(0, hash) !== id) return -1;
  const n = Number(token.slice(hash + 1));
  return Number.isInteger(n) && n > 0 ? n : -1;
}
