/** A node of a `LinkedQueue`: the queue links nodes through these two fields (no allocation per push). */
export interface Linked<T> {
  prev: T | undefined;
  next: T | undefined;
}

/**
 * An intrusive doubly linked queue: O(1) push, shift, unshift, remove and move-to-front, with the links
 * kept in the nodes themselves. Used by the bulkhead's waiters, the cache's LRU order and the wall's
 * deferred queue. A node belongs to at most one queue at a time; `remove` of a node not in this queue is
 * the caller's bug (the queue cannot tell cheaply).
 */
export class LinkedQueue<T extends Linked<T>> {
  private first: T | undefined = undefined;
  private last: T | undefined = undefined;
  private count = 0;

  /** Number of nodes queued. */
  get size(): number {
    return this.count;
  }

  /** The oldest node (next to `shift`), or undefined when empty. */
  get head(): T | undefined {
    return this.first;
  }

  /** The newest node, or undefined when empty. */
  get tail(): T | undefined {
    return this.last;
  }

  /** Appends `node` at the tail. */
  push(node: T): void {
    node.next = undefined;
    node.prev = this.last;
    if (this.last === undefined) this.first = node;
    else this.last.next = node;
    this.last = node;
    this.count++;
  }

  /** Puts `node` at the head. */
  unshift(node: T): void {
    node.prev = undefined;
    node.next = this.first;
    if (this.first === undefined) this.last = node;
    else this.first.prev = node;
    this.first = node;
    this.count++;
  }

  /** Removes and returns the head, or undefined when empty. */
  shift(): T | undefined {
    const node = this.first;
    if (node !== undefined) this.remove(node);
    return node;
  }

  /** Unlinks `node` (which must be in this queue). */
  remove(node: T): void {
    if (node.prev !== undefined) node.prev.next = node.next;
    else this.first = node.next;
    if (node.next !== undefined) node.next.prev = node.prev;
    else this.last = node.prev;
    node.prev = node.next = undefined;
    this.count--;
  }

  /** Moves `node` (which must be in this queue) to the head. */
  moveToFront(node: T): void {
    if (this.first === node) return;
    this.remove(node);
    this.unshift(node);
  }

  /** Forgets every node (their links are left as they were). */
  clear(): void {
    this.first = this.last = undefined;
    this.count = 0;
  }
}
