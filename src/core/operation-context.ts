import { AsyncLocalStorage } from 'node:async_hooks';

export type Priority = 'critical-plus' | 'critical' | 'sheddable-plus' | 'sheddable';
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
