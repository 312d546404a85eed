import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * An operation's priority class, highest first: `critical-plus`, `critical`, `sheddable-plus`,
 * `sheddable`. Under overload admission control refuses the sheddable classes first (critical work is
 * never shed at the door), keeps part of the in-flight limit for the critical classes, and serves waiting
 * work highest class first.
 */
export type Priority = 'critical-plus' | 'critical' | 'sheddable-plus' | 'sheddable';
/** Every {@link Priority}, highest first (the order waiting work is served in); e.g. to validate a value from a header. */
export const PRIORITIES: readonly Priority[] = ['critical-plus', 'critical', 'sheddable-plus', 'sheddable'];

/** What runs inside `operation.run(...)`: visible to every dependency call made within it. */
export interface OperationContext {
  readonly operation: string;
  readonly priority: Priority;
  /** Absolute deadline on the wall's clock (ms), or Infinity. */
  readonly deadline: number;
  readonly idempotencyKey: string | undefined;
  /** Dependencies this run called (for edges and per-run impact). */
  readonly edges: Set<string>;
  /** Set when an optional dependency answered this run with a fallback or a stale value. */
  degraded: boolean;
}

export const operationStorage = new AsyncLocalStorage<OperationContext>();

/** The operation the current code runs in, if any. */
export function currentOperation(): OperationContext | undefined {
  return operationStorage.getStore();
}
