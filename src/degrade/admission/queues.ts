/**
 * The admission queue: one FIFO per priority class, served highest class first (see the
 * AdmissionController). A waiter is settled exactly once: started (`resolve`) or refused (`reject`).
 */
import { BlastwallError } from '../../core/errors.js';

/**
 * A refusal without a stack trace: it is a decision, not a fault, and capturing a stack cost about 20 µs
 * per refusal on a loop refusing hundreds a second (measured with --cpu-prof in bench:overload).
 */
export function refusal(...args: ConstructorParameters<typeof BlastwallError>): BlastwallError {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new BlastwallError(...args);
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** One request waiting for admission. */
export interface Waiter<T> {
  /** Its class index (0 = critical-plus). */
  priority: number;
  /** When it started waiting (ms, on the controller's clock). */
  at: number;
  /** Critical work: the time by which it must have started (its deadline less its expected service, or `maxWait`). */
  startBy: number;
  resolve: (t: T) => void;
  reject: (e: unknown) => void;
  next: Waiter<T> | undefined;
}

/** Per-class FIFOs of waiters (singly linked, O(1) push and shift). */
export class ClassQueues<T> {
  private readonly heads: (Waiter<T> | undefined)[];
  private readonly tails: (Waiter<T> | undefined)[];
  /** Waiters in all classes. */
  size = 0;

  constructor(readonly classes: number) {
    this.heads = new Array<Waiter<T> | undefined>(classes).fill(undefined);
    this.tails = new Array<Waiter<T> | undefined>(classes).fill(undefined);
  }

  /** The oldest waiter of a class. */
  head(cls: number): Waiter<T> | undefined {
    return this.heads[cls];
  }

  /** Appends a waiter to its class. */
  push(w: Waiter<T>): void {
    const t = this.tails[w.priority];
    if (t === undefined) this.heads[w.priority] = this.tails[w.priority] = w;
    else {
      t.next = w;
      this.tails[w.priority] = w;
    }
    this.size++;
  }

  /** Whether work of this class or a higher one waits. */
  waitingAtOrAbove(cls: number): boolean {
    for (let c = 0; c <= cls; c++) if (this.heads[c] !== undefined) return true;
    return false;
  }

  /** The newest waiter of the lowest class below `cls` (the one to drop for a higher arrival), if any. */
  lowestBelow(cls: number): Waiter<T> | undefined {
    for (let c = this.classes - 1; c > cls; c--) {
      const t = this.tails[c];
      if (t !== undefined) return t;
    }
    return undefined;
  }

  /** The lowest class with a waiter (or -1). */
  lowestWaiting(): number {
    let c = this.classes - 1;
    while (c >= 0 && this.heads[c] === undefined) c--;
    return c;
  }

  /** Removes a waiter from its class (it is then settled by the caller). */
  unlink(w: Waiter<T>): void {
    const cls = w.priority;
    if (this.heads[cls] === w) {
      this.heads[cls] = w.next;
      if (this.tails[cls] === w) this.tails[cls] = undefined;
    } else {
      let p = this.heads[cls];
      while (p !== undefined && p.next !== w) p = p.next;
      if (p === undefined) return;
      p.next = w.next;
      if (this.tails[cls] === w) this.tails[cls] = p;
    }
    w.next = undefined;
    this.size--;
  }
}
